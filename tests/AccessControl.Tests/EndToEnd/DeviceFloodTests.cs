using AccessControl.EntryLog;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>One device with valid credentials sending faster than any real one: paced, alarmed, and no burden on the other doors.</summary>
[Trait("control", "NIST-SC-5")]
public class DeviceFloodTests
{
    private const string Flooder = "rdr-lobby-in";
    private const string Neighbour = "rdr-dh1-in";
    private const string Panel = "fire-panel-a";

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public async Task AReaderOverItsRate_IsNeitherAnsweredNorLogged_IsAlarmedOnce_AndAnotherReaderIsStillDecided()
    {
        // A burst of 3 that never refills: the fourth and fifth card events are over the rate, however slowly they come.
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Pipeline = s.Pipeline with { DeviceBurst = 3, DeviceInterval = TimeSpan.FromDays(1) } });
        var alarms = await edge.AlarmsAsync();
        var flooder = await edge.RawClientAsync(Flooder);
        var flooderDecisions = await edge.DecisionsAsync(flooder, Flooder);
        var neighbour = await edge.RawClientAsync(Neighbour);
        var neighbourDecisions = await edge.DecisionsAsync(neighbour, Neighbour);
        var now = edge.Clock.GetCurrentInstant();

        for (var seq = 1; seq <= 5; seq++)
        {
            await PublishAsync(edge, flooder, Flooder, Card($"probe-{seq}", seq, now));
        }

        await PublishAsync(edge, neighbour, Neighbour, Card("neighbour-1", 1, now));

        // The pipeline takes messages in order: the neighbour's decision comes after every one of the flooder's was handled.
        var decided = await neighbourDecisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(("neighbour-1", true), (decided.EventId, decided.Grant));
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal((AlarmTypes.DeviceFlood, Flooder), (alarm.Type, alarm.ReaderId));
        Assert.Contains("1 dropped", alarm.Detail, StringComparison.Ordinal);
        // The flooder's decisions travel on its own connection, so the neighbour's answer does not mean they have arrived:
        // the three taken are awaited, and anything more that came with them would be an answer to a dropped event.
        var answered = new List<string?>();
        for (var i = 0; i < 3; i++)
        {
            answered.Add((await flooderDecisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout)).EventId);
        }

        while (flooderDecisions.Reader.TryRead(out var d))
        {
            answered.Add(d.EventId);
        }

        Assert.Equal(["probe-1", "probe-2", "probe-3"], answered);
        var rows = edge.Rows(new LogFilter { Limit = 1000 });
        Assert.Equal(["probe-1", "probe-2", "probe-3"], rows.Where(r => r.ReaderId == Flooder && r.Kind == LogKinds.Access).Select(r => r.EventId).Order(StringComparer.Ordinal));
        Assert.Single(rows, r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DeviceFlood);
        Assert.False(alarms.Reader.TryRead(out _));
    }

    /// <summary>
    /// A fire panel is never paced, so that its alarm always releases the doors; but a payload nobody can read releases
    /// nothing, and a panel stuck in a loop sending garbage wrote one row per message, as fast as the broker took them,
    /// queued ahead of every door's swipes.
    /// </summary>
    [Fact]
    [Trait("control", "NFPA-101")]
    public async Task AFirePanelSendingGarbageOverTheRate_IsLoggedOnlyUpToIt_AndItsFireAlarmStillReleasesTheDoors()
    {
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Pipeline = s.Pipeline with { DeviceBurst = 3, DeviceInterval = TimeSpan.FromDays(1) } });
        var panel = await edge.RawClientAsync(Panel);
        var now = edge.Clock.GetCurrentInstant();

        for (var i = 1; i <= 6; i++)
        {
            await PublishAsync(panel, edge.Edge.Topics.FireEvents(Panel), System.Text.Encoding.UTF8.GetBytes($"garbage {i}"));
        }

        await PublishAsync(panel, edge.Edge.Topics.FireEvents(Panel), WireFormat.Write(new FireEvent("f-1", 1, now, FireEventType.Alarm, "smoke in hall A")));

        // The pipeline takes messages in order: the alarm's release comes after every earlier message was handled.
        await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Release);
        Assert.True(edge.Edge.Pipeline.Fire.IsReleased);
        var rows = edge.Rows(new LogFilter { Limit = 1000 });
        Assert.Equal(3, rows.Count(r => r.Kind == LogKinds.Malformed && r.Source == "fire/" + Panel));
        Assert.Single(rows, r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DeviceFlood);
    }

    private static ReaderEvent Card(string eventId, long seq, Instant at) =>
        new(eventId, seq, at, ReaderEventType.Card, Operator, Ev3, false, null);

    private static Task PublishAsync(EdgeHarness edge, IMqttClient raw, string readerId, ReaderEvent e) =>
        PublishAsync(raw, edge.Edge.Topics.ReaderEvents(readerId), WireFormat.Write(e));

    private static Task PublishAsync(IMqttClient raw, string topic, byte[] payload) =>
        raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic)
            .WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
}

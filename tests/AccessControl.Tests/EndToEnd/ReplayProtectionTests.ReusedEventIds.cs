using System.Threading.Channels;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// reader-protocol.md §7.4: an eventId names one event, and a re-send repeats its seq. A device that uses an eventId again
/// for another event (another seq: a firmware whose id counter restarted, a fault) used to hear the older event's answer
/// and nothing else: the swipe never decided nor logged, the housing's tamper, the door's opening and the panel's fire
/// swallowed as re-sends. Each is now told from a re-send by its seq.
/// </summary>
/// <remarks>Part of <see cref="ReplayProtectionTests"/>: an event under a reused eventId is refused as a suspected replay (rule <c>event_id_reused</c>).</remarks>
public partial class ReplayProtectionTests
{
    [Fact]
    [Trait("control", "NIST-AU-2")]
    public async Task ACardUnderTheEventIdOfAnEarlierSwipe_IsDeniedAndLogged_WhileTheEarliersReSendStillHearsItsGrant_AlsoAfterARestart()
    {
        using var folder = new DataFolder();
        await using (var edge = await EdgeHarness.StartAsync(directory: folder.Path))
        {
            var (raw, decisions) = await RawReaderAsync(edge);
            var alarms = await edge.AlarmsAsync();
            var now = edge.Clock.GetCurrentInstant();

            var first = await SendAsync(edge, raw, decisions, Card("swipe-1", 10, now));
            var reused = await SendAsync(edge, raw, decisions, Card("swipe-1", 11, now));
            var resent = await SendAsync(edge, raw, decisions, Card("swipe-1", 10, now));

            Assert.True(first.Grant);
            Assert.Equal(("swipe-1", false, "replay_suspected"), (reused.EventId, reused.Grant, reused.Reason));
            Assert.Equal(first, resent);
            var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
            Assert.Equal((AlarmTypes.ReplaySuspected, ReaderId), (alarm.Type, alarm.ReaderId));
            Assert.Contains("eventId swipe-1 was already used by this device's event of seq 10", alarm.Detail, StringComparison.Ordinal);
            AssertLoggedApart(edge, count: 1);
        }

        // After a restart the service's memory is empty: the log tells the earlier event's seq.
        await using (var edge = await EdgeHarness.StartAsync(directory: folder.Path))
        {
            var (raw, decisions) = await RawReaderAsync(edge);
            var now = edge.Clock.GetCurrentInstant();

            var reused = await SendAsync(edge, raw, decisions, Card("swipe-1", 12, now));
            var resent = await SendAsync(edge, raw, decisions, Card("swipe-1", 10, now));

            Assert.Equal(("swipe-1", "replay_suspected"), (reused.EventId, reused.Reason));
            Assert.Equal(("swipe-1", true), (resent.EventId, resent.Grant));
            AssertLoggedApart(edge, count: 2);
        }

        static void AssertLoggedApart(EdgeHarness edge, int count)
        {
            var rows = edge.Rows(new LogFilter { Kind = LogKinds.Access, ReaderId = ReaderId });
            Assert.Single(rows, r => r.EventId == "swipe-1" && r.Decision == "grant");
            var apart = rows.Where(r => r.Reason == "replay_suspected").ToList();
            Assert.Equal(count, apart.Count);
            Assert.All(apart, r => Assert.Null(r.EventId));
            Assert.All(apart, r => Assert.Contains("\"rule\":\"event_id_reused\"", r.Detail, StringComparison.Ordinal));
            Assert.All(apart, r => Assert.Contains("\"eventId\":\"swipe-1\"", r.Detail, StringComparison.Ordinal));
        }
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ATamperUnderTheEventIdOfAnEarlierSwipe_StillRaisesTheTamperAlarm()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        var alarms = await edge.AlarmsAsync();
        var now = edge.Clock.GetCurrentInstant();
        Assert.True((await SendAsync(edge, raw, decisions, Card("evt-7", 7, now))).Grant);

        await PublishAsync(edge, raw, new ReaderEvent("evt-7", 8, now, ReaderEventType.Tamper, null, null, false, "housing opened"));

        var tamper = await NextAsync(alarms, AlarmTypes.Tamper);
        Assert.Equal(ReaderId, tamper.ReaderId);
        Assert.StartsWith("housing opened; the event was refused as a suspected replay: eventId evt-7 was already used", tamper.Detail, StringComparison.Ordinal);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.Tamper, ReaderId = ReaderId }));
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ADoorOpenedUnderTheEventIdOfItsEarlierClose_RaisesDoorForced()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var controller = await edge.RawClientAsync("ctl-sr1");
        var now = edge.Clock.GetCurrentInstant();
        await PublishDoorAsync(edge, controller, new DoorEvent("d-1", 1, now, DoorEventType.Closed, false));
        await edge.RowAsync(r => r.Kind == LogKinds.Door && r.DoorId == "door-sr1" && r.EventId == "d-1");

        await PublishDoorAsync(edge, controller, new DoorEvent("d-1", 2, now, DoorEventType.Opened, false));

        var forced = await NextAsync(alarms, AlarmTypes.DoorForced);
        Assert.Equal("door-sr1", forced.DoorId);
        var row = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.DoorId == "door-sr1" && r.Reason == "replay_suspected");
        Assert.Null(row.EventId);
        Assert.Contains("\"rule\":\"event_id_reused\"", row.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NFPA-101")]
    public async Task AFireAlarmUnderTheEventIdOfThePanelsEarlierClear_ReleasesTheDoors()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var panel = await edge.RawClientAsync("fire-panel-a");
        var now = edge.Clock.GetCurrentInstant();
        await PublishFireAsync(edge, panel, new FireEvent("f-1", 1, now, FireEventType.Clear, null));
        await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Clear);

        await PublishFireAsync(edge, panel, new FireEvent("f-1", 2, now, FireEventType.Alarm, "smoke in hall A"));

        var release = await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Release);
        Assert.True(edge.Edge.Pipeline.Fire.IsReleased);
        var alarm = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.FireAlarm }));
        Assert.Null(alarm.EventId);
        Assert.Contains("\"reusedEventId\":\"f-1\"", alarm.Detail, StringComparison.Ordinal);
        Assert.Contains("\"earlierSeq\":1", alarm.Detail, StringComparison.Ordinal);
        Assert.NotNull(release);
    }

    private static Task PublishDoorAsync(EdgeHarness edge, IMqttClient controller, DoorEvent e) =>
        Publish(controller, edge.Edge.Topics.DoorEvents("door-sr1"), WireFormat.Write(e));

    private static Task PublishFireAsync(EdgeHarness edge, IMqttClient panel, FireEvent e) =>
        Publish(panel, edge.Edge.Topics.FireEvents("fire-panel-a"), WireFormat.Write(e));

    private static Task Publish(IMqttClient client, string topic, byte[] payload) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(EdgeHarness.Timeout);

    private static async Task<AlarmMessage> NextAsync(Channel<AlarmMessage> alarms, string type)
    {
        while (true)
        {
            var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
            if (alarm.Type == type)
            {
                return alarm;
            }
        }
    }
}

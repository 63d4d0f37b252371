using AccessControl.EntryLog;
using AccessControl.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// One device with valid credentials raising alarm after alarm (a tamper switch, a door sensor, a flapping status) is
/// coalesced on the alarms topic so it cannot bury another door's alarm, while every one is logged; a reader seeing
/// card after unknown card is alarmed as probing.
/// </summary>
[Trait("control", "NIST-SI-4")]
public class AlarmStormTests
{
    private const string Stormer = "rdr-sr1-in";
    private const string Neighbour = "rdr-dh1-in";

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ATamperStormFromOneReader_PublishesTheFirstAndOneClosingAlarm_LogsEvery_AndAnotherReadersTamperGoesOutAtOnce()
    {
        const int Storm = 50;
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var stormer = await edge.ReaderAsync(Stormer);
        var neighbour = await edge.ReaderAsync(Neighbour);

        for (var i = 0; i < Storm; i++)
        {
            await stormer.TamperAsync($"cover opened {i}").WaitAsync(EdgeHarness.Timeout);
        }

        await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.Tamper && r.Detail!.Contains($"cover opened {Storm - 1}", StringComparison.Ordinal));
        await neighbour.TamperAsync("pulled off the wall").WaitAsync(EdgeHarness.Timeout);

        var heard = new List<AlarmMessage>();
        while (!heard.Exists(a => a.ReaderId == Neighbour))
        {
            heard.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        var first = Assert.Single(heard, a => a.ReaderId == Stormer);
        Assert.Equal(("cover opened 0", null), (first.Detail, first.Coalesced));
        var neighbours = heard.Single(a => a.ReaderId == Neighbour);
        Assert.Equal((AlarmTypes.Tamper, "pulled off the wall", null), (neighbours.Type, neighbours.Detail, neighbours.Coalesced));
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.Tamper, Limit = 1000 });
        Assert.Equal(Storm, rows.Count(r => r.ReaderId == Stormer));
        Assert.Equal(Storm - 1, rows.Count(r => r.ReaderId == Stormer && r.Detail!.Contains("\"heldBack\":\"true\"", StringComparison.Ordinal)));

        // The storm is over once a whole interval passes without it: the console hears how it ended and how big it was.
        edge.Clock.Advance(Duration.FromMinutes(1));
        await edge.TickAsync();
        var closing = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal((AlarmTypes.Tamper, Stormer, $"cover opened {Storm - 1}", Storm - 2), (closing.Type, closing.ReaderId, closing.Detail, closing.Coalesced));
        Assert.Contains(rows, r => r.Detail!.Contains(closing.AlarmId, StringComparison.Ordinal));
        await edge.TickAsync();
        Assert.False(alarms.Reader.TryRead(out var extra), $"unexpected alarm {extra}");
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task AFlappingReaderThatEndsOffline_IsLastPublishedOffline_AHeldBackOnlineDoesNotFollowItToTheConsole()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var stormer = await edge.RawClientAsync(Stormer);
        var neighbour = await edge.ReaderAsync(Neighbour);

        // Its link flaps twice within the storm interval; a minute later it drops for good.
        foreach (var state in new[] { DeviceState.Offline, DeviceState.Online, DeviceState.Offline, DeviceState.Online })
        {
            await PublishStatusAsync(edge, stormer, state);
        }

        edge.Clock.Advance(Duration.FromMinutes(1));
        await PublishStatusAsync(edge, stormer, DeviceState.Offline);
        await edge.TickAsync();
        await neighbour.TamperAsync("marker").WaitAsync(EdgeHarness.Timeout);

        var heard = new List<AlarmMessage>();
        while (!heard.Exists(a => a.ReaderId == Neighbour))
        {
            heard.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        // The console keeps a reader's state from the last offline/online alarm it received: it must say offline.
        var last = heard.Last(a => a.ReaderId == Stormer && a.Type is AlarmTypes.ReaderOffline or AlarmTypes.ReaderOnline);
        Assert.Equal(AlarmTypes.ReaderOffline, last.Type);
        Assert.Equal(5, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, ReaderId = Stormer }).Count);
    }

    private static async Task PublishStatusAsync(EdgeHarness edge, MQTTnet.IMqttClient reader, DeviceState state)
    {
        var before = edge.Rows(new LogFilter { Kind = LogKinds.Device, ReaderId = Stormer }).Count;
        await reader.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderStatus(Stormer))
            .WithPayload(WireFormat.Write(new DeviceStatus(state, edge.Clock.GetCurrentInstant(), "rdr-2.4.1")))
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(EdgeHarness.Timeout);
        await edge.RowAsync(_ => edge.Rows(new LogFilter { Kind = LogKinds.Device, ReaderId = Stormer }).Count > before);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task AnUnknownCardBurstAtOneReader_RaisesOneProbingAlarmPerWindow()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");

        for (var i = 0; i < 25; i++)
        {
            Assert.False((await reader.PresentCardAsync($"04DEAD{i:X8}", Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        }

        var probing = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Limit = 1000 }), r => r.Reason == AlarmTypes.CredentialProbing);
        Assert.Equal(("rdr-lobby-in", "door-lobby"), (probing.ReaderId, probing.DoorId));
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal((AlarmTypes.CredentialProbing, "rdr-lobby-in"), (alarm.Type, alarm.ReaderId));
        Assert.Contains(alarm.AlarmId, probing.Detail, StringComparison.Ordinal);

        // The next window's guesses are alarmed again.
        edge.Clock.Advance(Duration.FromMinutes(1));
        for (var i = 0; i < 11; i++)
        {
            Assert.False((await reader.PresentCardAsync($"04BEEF{i:X8}", Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        }

        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Limit = 1000 }).Count(r => r.Reason == AlarmTypes.CredentialProbing));
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ALobbysNormalMixOfCards_RaisesNoProbingAlarm_ThoughItSeesManyUnknownCardsInADay()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        var other = await edge.ReaderAsync("rdr-lobby-out");

        // A morning rush: a foreign hotel card, a mistyped one and a few dozen staff, now and then, for three hours; and
        // ten unknown cards in one minute (a tour group holding up its own badges) is still not more than the limit.
        for (var minute = 0; minute < 180; minute += 5)
        {
            await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
            Assert.False((await lobby.PresentCardAsync($"04F00D{minute:X8}", Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
            await lobby.PresentCardAsync(Contractor, Ev2).WaitAsync(EdgeHarness.Timeout);
            edge.Clock.Advance(Duration.FromMinutes(5));
        }

        for (var i = 0; i < 10; i++)
        {
            Assert.False((await lobby.PresentCardAsync($"04CAFE{i:X8}", Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        }

        // Unknown cards are counted per reader: the other reader's burst is alarmed, and it is the first alarm of all.
        for (var i = 0; i < 11; i++)
        {
            Assert.False((await other.PresentCardAsync($"04BAD0{i:X8}", Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        }

        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal((AlarmTypes.CredentialProbing, "rdr-lobby-out"), (alarm.Type, alarm.ReaderId));
        Assert.DoesNotContain(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Limit = 1000 }), r => r.ReaderId == "rdr-lobby-in");
    }
}

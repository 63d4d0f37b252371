using AccessControl.EntryLog;
using AccessControl.HardwareSim.Doors;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>Door forced, door held open, reader offline and tamper: each raised on the alarms topic and logged.</summary>
public class SupervisionTests
{
    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-6")]
    public async Task DoorOpenedWithoutGrant_RaisesDoorForced(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var alarms = await edge.AlarmsAsync();
        var controller = await edge.ControllerAsync("ctl-sr1", ["door-sr1"]);

        await controller.ForceOpenAsync("door-sr1").WaitAsync(EdgeHarness.Timeout);

        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(AlarmTypes.DoorForced, alarm.Type);
        Assert.Equal("door-sr1", alarm.DoorId);
        var row = await edge.AlarmRowAsync(AlarmTypes.DoorForced);
        Assert.Equal("door-sr1", row.DoorId);
        Assert.Contains(alarm.AlarmId, row.Detail);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    [Trait("control", "NIST-AU-5")]
    public async Task DoorForcedDuringALogOutage_StillReachesTheAlarmsTopic_AndIsLoggedWhenTheLogRecovers()
    {
        // Filling the disk must not blind the security console: an alarm is published whether or not its row could be
        // written yet (a grant is not: it fails closed). The row is kept and written late, under the same alarmId.
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var controller = await edge.ControllerAsync("ctl-sr1", ["door-sr1"]);
        var reader = await edge.ReaderAsync("rdr-lobby-in");

        edge.Edge.Writer.SimulateWriteFailure(true);
        await controller.ForceOpenAsync("door-sr1").WaitAsync(EdgeHarness.Timeout);
        var heard = new List<AlarmMessage>();
        while (!heard.Exists(a => a.Type == AlarmTypes.DoorForced) || !heard.Exists(a => a.Type == AlarmTypes.LogFailure))
        {
            heard.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        edge.Edge.Writer.SimulateWriteFailure(false);
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var forced = heard.Single(a => a.Type == AlarmTypes.DoorForced);
        Assert.Equal("door-sr1", forced.DoorId);
        var row = await edge.AlarmRowAsync(AlarmTypes.DoorForced);
        Assert.Contains(forced.AlarmId, row.Detail);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-6")]
    public async Task DoorOpenedAfterGrantOrExitRequest_IsNotForced(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var controller = await edge.ControllerAsync("ctl-dh1", ["door-dh1"], new DoorControllerOptions { AutoOpenOnUnlock = true, OpenDelay = TimeSpan.Zero, OpenFor = TimeSpan.FromMilliseconds(50) });
        var reader = await edge.ReaderAsync("rdr-dh1-in");

        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        await edge.RowAsync(r => r.Kind == LogKinds.Door && r.Reason == "closed");
        await controller.PressExitButtonAsync("door-dh1").WaitAsync(EdgeHarness.Timeout);
        await controller.OpenAsync("door-dh1").WaitAsync(EdgeHarness.Timeout);
        await edge.RowAsync(r => r.Kind == LogKinds.Door && r.Reason == "opened" && r.Seq > 0 && r.EventId != null && edge.Rows(new LogFilter { Kind = LogKinds.Door, Reason = "opened" }).Count == 2);
        await edge.TickAsync();

        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Door, Reason = "opened" }).Count);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-6")]
    public async Task DoorOpenLongerThanAllowed_RaisesDoorHeldOpenOnce(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var alarms = await edge.AlarmsAsync();
        var controller = await edge.ControllerAsync("ctl-dh1", ["door-dh1"]);
        var reader = await edge.ReaderAsync("rdr-dh1-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        await controller.HoldOpenAsync("door-dh1").WaitAsync(EdgeHarness.Timeout);
        await edge.RowAsync(r => r.Kind == LogKinds.Door && r.Reason == "opened");

        edge.Clock.Advance(Duration.FromSeconds(30));
        await edge.TickAsync();
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm }));   // exactly the limit: not yet

        edge.Clock.Advance(Duration.FromSeconds(1));
        await edge.TickAsync();
        await edge.TickAsync();

        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(AlarmTypes.DoorHeldOpen, alarm.Type);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorHeldOpen }));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-6")]
    public async Task ReaderConnectionLost_LastWillRaisesReaderOffline(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        await edge.RowAsync(r => r.Kind == LogKinds.Device && r.ReaderId == "rdr-lobby-in" && r.Reason == "online");

        await reader.DropConnectionAsync();   // unclean: the broker publishes the reader's last will

        var row = await edge.AlarmRowAsync(AlarmTypes.ReaderOffline);
        Assert.Equal("rdr-lobby-in", row.ReaderId);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-6")]
    public async Task AnEmptyRetainedStatus_IsLoggedAsAClearedStatus_NotAsMalformed_AndIsNoSignOfLife(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.RawClientAsync("rdr-lobby-out");
        var controller = await edge.RawClientAsync("ctl-lobby");
        edge.Clock.Advance(Duration.FromSeconds(60));

        // The standard MQTT way to clear a retained message: a retained publish with a zero-length payload.
        await ClearRetainedAsync(reader, edge.Edge.Topics.ReaderStatus("rdr-lobby-out"));
        await ClearRetainedAsync(controller, edge.Edge.Topics.DoorStatus("door-lobby"));
        var readerRow = await edge.RowAsync(r => r.ReaderId == "rdr-lobby-out" && r.Kind is LogKinds.Device or LogKinds.Malformed);
        var doorRow = await edge.RowAsync(r => r.DoorId == "door-lobby" && r.ReaderId is null && r.Kind is LogKinds.Device or LogKinds.Malformed);

        Assert.Equal((LogKinds.Device, "status_cleared", null), (readerRow.Kind, readerRow.Reason, readerRow.DeviceAt));
        Assert.Equal((LogKinds.Device, "status_cleared"), (doorRow.Kind, doorRow.Reason));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.MalformedEvent }));

        // Not a sign of life: three heartbeat intervals after the start, the reader that only cleared its status is offline.
        edge.Clock.Advance(Duration.FromSeconds(31));
        await edge.TickAsync();
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.ReaderOffline }), r => r.ReaderId == "rdr-lobby-out");
    }

    private static Task ClearRetainedAsync(IMqttClient client, string topic) =>
        client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Array.Empty<byte>()).WithRetainFlag()
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(EdgeHarness.Timeout);

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ReaderSilentForThreeHeartbeats_RaisesReaderOfflineThenOnlineWhenBack()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        await edge.RowAsync(r => r.Kind == LogKinds.Device && r.ReaderId == "rdr-lobby-in" && r.Reason == "online");

        edge.Clock.Advance(Duration.FromSeconds(90));
        await edge.TickAsync();
        Assert.DoesNotContain(edge.Rows(new LogFilter { Kind = LogKinds.Alarm }), r => r.ReaderId == "rdr-lobby-in");

        edge.Clock.Advance(Duration.FromSeconds(1));
        await edge.TickAsync();
        var offline = await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.ReaderOffline && r.ReaderId == "rdr-lobby-in");

        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var online = await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.ReaderOnline && r.ReaderId == "rdr-lobby-in");
        Assert.True(online.Seq > offline.Seq);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-6")]
    public async Task ReaderTamper_RaisesTamperAlarm(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var alarms = await edge.AlarmsAsync();
        var reader = await edge.ReaderAsync("rdr-sr1-in");

        await reader.TamperAsync("cover opened").WaitAsync(EdgeHarness.Timeout);

        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(AlarmTypes.Tamper, alarm.Type);
        Assert.Equal("rdr-sr1-in", alarm.ReaderId);
        Assert.Equal("cover opened", alarm.Detail);
    }
}

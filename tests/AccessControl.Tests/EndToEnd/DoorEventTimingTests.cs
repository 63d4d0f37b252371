using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// Door supervision when a controller's events come late, early or refused: each door event is judged against the
/// grants and exit requests that held at its own time, a refused one can only raise an alarm, and a controller's last
/// will raises <c>door_controller_offline</c>.
/// </summary>
[Trait("control", "NIST-PE-6")]
public class DoorEventTimingTests
{
    private const string Controller = "ctl-dh1";
    private const string DoorId = "door-dh1";

    [Fact]
    public async Task ReplayedOpening_FromBeforeAGrant_IsForced_AndLeavesTheGrantForTheOpeningItWasFor()
    {
        // The door is forced while its controller is cut off; a card is granted later (its reader is online); then the
        // controller comes back and replays the forced opening, and the cardholder opens the door.
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        var forcedAt = edge.Clock.GetCurrentInstant();
        edge.Clock.Advance(Duration.FromSeconds(30));
        var reader = await edge.ReaderAsync("rdr-dh1-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        await PublishAsync(edge, controller, new DoorEvent("replayed-open", 1, forcedAt, DoorEventType.Opened, true));
        await PublishAsync(edge, controller, new DoorEvent("replayed-close", 2, forcedAt + Duration.FromSeconds(3), DoorEventType.Closed, true));
        edge.Clock.Advance(Duration.FromSeconds(1));
        await PublishAsync(edge, controller, new DoorEvent("live-open", 3, edge.Clock.GetCurrentInstant(), DoorEventType.Opened, false));
        var last = await PublishAsync(edge, controller, new DoorEvent("live-close", 4, edge.Clock.GetCurrentInstant(), DoorEventType.Closed, false));
        await edge.TickAsync();

        var forced = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
        var replayed = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Door }), r => r.EventId == "replayed-open");
        var live = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Door }), r => r.EventId == "live-open");
        Assert.InRange(forced.Seq, replayed.Seq + 1, live.Seq - 1);   // the replayed opening, not the cardholder's
        Assert.Contains("reported late", forced.Detail, StringComparison.Ordinal);
        Assert.True(last.Seq > live.Seq);
    }

    [Fact]
    public async Task OfflineExitRequest_StampedInTheFuture_DoesNotAllowAnOpeningAMinuteLater()
    {
        // A controller clock 4 minutes fast (within the replay guard's skew) replays an exit request "from the future".
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        var now = edge.Clock.GetCurrentInstant();

        await PublishAsync(edge, controller, new DoorEvent("future-exit", 1, now + Duration.FromMinutes(4), DoorEventType.ExitRequest, true));
        edge.Clock.Advance(Duration.FromMinutes(1));
        await PublishAsync(edge, controller, new DoorEvent("open-later", 2, edge.Clock.GetCurrentInstant(), DoorEventType.Opened, false));
        await edge.TickAsync();

        var forced = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
        Assert.Equal(DoorId, forced.DoorId);
    }

    [Fact]
    [Trait("control", "NIST-SC-23")]
    public async Task RefusedOpening_OnAControllerWhoseClockDrifted_RaisesDoorForced_UnlessAGrantHoldsNow_AndARefusedExitRequestAllowsNothing()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        var skewed = edge.Clock.GetCurrentInstant() - Duration.FromMinutes(10);

        // Refused for the clock: the exit request opens nothing, so the opening that follows is forced, unverified.
        await PublishAsync(edge, controller, new DoorEvent("skewed-exit", 1, skewed, DoorEventType.ExitRequest, false));
        await PublishAsync(edge, controller, new DoorEvent("skewed-open", 2, skewed, DoorEventType.Opened, false));
        await PublishAsync(edge, controller, new DoorEvent("skewed-close", 3, skewed, DoorEventType.Closed, false));

        // A cardholder's opening on the same controller: refused too, but a grant holds now, so it raises nothing.
        var reader = await edge.ReaderAsync("rdr-dh1-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        await PublishAsync(edge, controller, new DoorEvent("skewed-granted-open", 4, skewed, DoorEventType.Opened, false));
        await edge.TickAsync();

        var forced = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
        Assert.Equal(DoorId, forced.DoorId);
        Assert.Contains("could not be verified", forced.Detail, StringComparison.Ordinal);
        Assert.Equal(4, edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "replay_suspected" }).Count);
    }

    [Fact]
    [Trait("control", "NIST-SC-23")]
    public async Task RefusedBufferedOpenings_AfterAnOutageLongerThanTheOfflineWindow_RaiseOneDoorForcedAMinute()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        var old = edge.Clock.GetCurrentInstant() - Duration.FromHours(30);

        for (var i = 0; i < 3; i++)
        {
            await PublishAsync(edge, controller, new DoorEvent($"old-open-{i}", 2 * i + 1, old + Duration.FromMinutes(i), DoorEventType.Opened, true));
            await PublishAsync(edge, controller, new DoorEvent($"old-close-{i}", 2 * i + 2, old + Duration.FromMinutes(i) + Duration.FromSeconds(5), DoorEventType.Closed, true));
        }

        await edge.TickAsync();

        var forced = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
        Assert.Contains("logged without an alarm", forced.Detail, StringComparison.Ordinal);
        Assert.Equal(6, edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "replay_suspected", Limit = 100 }).Count);
    }

    [Fact]
    public async Task AClosedDeliveredLate_AfterALaterOpening_DoesNotEndTheOpening_SoTheDoorLeftOpenIsHeldOpen()
    {
        // The closed of the first opening (seq 3) is lost and re-sent after the second opening (seq 5) got through: the
        // replay window accepts it (§7.7), but the door is open since seq 5, and left open it must be reported.
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        var now = edge.Clock.GetCurrentInstant();
        await PublishAsync(edge, controller, new DoorEvent("exit-1", 1, now, DoorEventType.ExitRequest, false));
        await PublishAsync(edge, controller, new DoorEvent("open-1", 2, now, DoorEventType.Opened, false));
        await PublishAsync(edge, controller, new DoorEvent("exit-2", 4, now, DoorEventType.ExitRequest, false));
        await PublishAsync(edge, controller, new DoorEvent("open-2", 5, now, DoorEventType.Opened, false));
        await PublishAsync(edge, controller, new DoorEvent("close-1", 3, now, DoorEventType.Closed, false));

        edge.Clock.Advance(Duration.FromSeconds(31));
        await edge.TickAsync();

        var held = await edge.AlarmRowAsync(AlarmTypes.DoorHeldOpen);
        Assert.Equal(DoorId, held.DoorId);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
    }

    [Fact]
    public async Task AnOpeningDeliveredLate_AfterItsClosed_IsJudgedForForced_ButDoesNotLeaveTheDoorOpen()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        var now = edge.Clock.GetCurrentInstant();
        await PublishAsync(edge, controller, new DoorEvent("exit-1", 1, now, DoorEventType.ExitRequest, false));
        await PublishAsync(edge, controller, new DoorEvent("close-1", 3, now, DoorEventType.Closed, false));
        await PublishAsync(edge, controller, new DoorEvent("open-1", 2, now, DoorEventType.Opened, false));
        await PublishAsync(edge, controller, new DoorEvent("open-2", 5, now, DoorEventType.Opened, false));
        await PublishAsync(edge, controller, new DoorEvent("close-2", 6, now, DoorEventType.Closed, false));

        edge.Clock.Advance(Duration.FromSeconds(31));
        await edge.TickAsync();

        // The late opening used the exit request; the second opening had none: forced. Both closed: nothing held open.
        var forced = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
        Assert.True(forced.Seq > edge.Rows(new LogFilter { Kind = LogKinds.Door }).Single(r => r.EventId == "open-2").Seq);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorHeldOpen }));
    }

    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task ControllerConnectionLost_LastWillRaisesDoorControllerOffline(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var controller = await edge.ControllerAsync(Controller, [DoorId]);
        await edge.RowAsync(r => r.Kind == LogKinds.Device && r.DoorId == DoorId && r.Reason == "online");

        await controller.DropConnectionAsync();   // unclean: the broker publishes the controller's last will

        var alarm = await edge.AlarmRowAsync(AlarmTypes.DoorControllerOffline);
        Assert.Equal((DoorId, "demo"), (alarm.DoorId, alarm.SiteId));
    }

    /// <summary>Publishes a door event of door-dh1 as its controller and waits for its row.</summary>
    internal static async Task<LogEntry> PublishAsync(EdgeHarness edge, IMqttClient controller, DoorEvent e)
    {
        await controller.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.DoorEvents(DoorId))
            .WithPayload(WireFormat.Write(e)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return await edge.RowAsync(r => r.EventId == e.EventId && r.DoorId == DoorId);
    }
}

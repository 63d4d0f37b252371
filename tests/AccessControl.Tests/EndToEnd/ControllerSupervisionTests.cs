using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// A door controller that is gone, by its last will or by its silence, is known for every door it drives; its return is
/// announced for each; and a door replayed open from its buffer is not held open from the controller's old time.
/// </summary>
[Trait("control", "NIST-PE-6")]
public class ControllerSupervisionTests
{
    private const string Controller = "ctl-dh1";
    private const string HallDoor = "door-dh1";
    private const string ServerRoomDoor = "door-sr1";

    [Fact]
    public async Task ControllerLastWill_RaisesDoorControllerOfflineForEveryDoorItDrives_AndItsReturnRaisesOnlineForEach()
    {
        using var folder = new DataFolder();
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { SiteFile = SharedControllerSite(folder.Path) });
        var alarms = await edge.AlarmsAsync();
        var controller = await edge.ControllerAsync(Controller, [HallDoor, ServerRoomDoor]);
        await edge.RowAsync(r => r.Kind == LogKinds.Device && r.DoorId == ServerRoomDoor && r.Reason == "online");

        await controller.DropConnectionAsync();   // its one will is on the hall door's status topic

        var offline = await ForBothDoorsAsync(edge, AlarmTypes.DoorControllerOffline);
        Assert.All(offline, a => Assert.Contains($"door controller {Controller} ", a.Detail, StringComparison.Ordinal));

        await controller.RestoreConnectionAsync().WaitAsync(EdgeHarness.Timeout);
        var online = await ForBothDoorsAsync(edge, AlarmTypes.DoorControllerOnline);
        Assert.All(online, a => Assert.Contains($"door controller {Controller} ", a.Detail, StringComparison.Ordinal));

        // The console gets the controller as a member of its own, the row keeps it in its detail (no column for it).
        Assert.All([.. offline, .. online], r => Assert.Equal(Controller, ControllerIdOf(r)));
        var published = new List<AlarmMessage>();
        while (published.Count(a => a.Type == AlarmTypes.DoorControllerOnline) < 2)
        {
            published.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        Assert.Equal(4, published.Count(a => a.Type is AlarmTypes.DoorControllerOffline or AlarmTypes.DoorControllerOnline));
        Assert.All(published.Where(a => a.Type is AlarmTypes.DoorControllerOffline or AlarmTypes.DoorControllerOnline), a => Assert.Equal(Controller, a.ControllerId));
        Assert.All(published.Where(a => a.Type is not (AlarmTypes.DoorControllerOffline or AlarmTypes.DoorControllerOnline)), a => Assert.Null(a.ControllerId));

        // A clean stop says offline on each door's status topic: still one alarm per door for the episode.
        await controller.StopAsync().WaitAsync(EdgeHarness.Timeout);
        await edge.RowAsync(r => r.Kind == LogKinds.Device && r.DoorId == ServerRoomDoor && r.Reason == "offline");
        await edge.TickAsync();
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorControllerOffline, DoorId = ServerRoomDoor }).Count);
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorControllerOffline, DoorId = HallDoor }).Count);
    }

    [Fact]
    public async Task ControllerSilentForThreeHeartbeats_RaisesDoorControllerOfflineForEachDoorOnce_AndAHeartbeatOnAnyDoorBringsItBack()
    {
        using var folder = new DataFolder();
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { SiteFile = SharedControllerSite(folder.Path) });
        var controller = await edge.RawClientAsync(Controller);   // connected, so no will: only its heartbeats tell

        // Never heard from since the start: silent from the start, as a reader is.
        edge.Clock.Advance(Duration.FromSeconds(91));
        await edge.TickAsync();
        var first = await ForBothDoorsAsync(edge, AlarmTypes.DoorControllerOffline);
        Assert.All(first, a => Assert.Contains("no message for 3 heartbeat intervals (90 s)", a.Detail, StringComparison.Ordinal));
        Assert.All(first, a => Assert.Equal(Controller, ControllerIdOf(a)));

        // A heartbeat on the events topic of either of its doors brings both back.
        await PublishAsync(edge, controller, ServerRoomDoor, new DoorEvent("hb-1", 1, edge.Clock.GetCurrentInstant(), DoorEventType.Heartbeat, false));
        await ForBothDoorsAsync(edge, AlarmTypes.DoorControllerOnline);

        edge.Clock.Advance(Duration.FromSeconds(90));
        await edge.TickAsync();
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorControllerOffline, DoorId = HallDoor }));

        edge.Clock.Advance(Duration.FromSeconds(1));
        await edge.TickAsync();
        edge.Clock.Advance(Duration.FromSeconds(60));
        await edge.TickAsync();
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorControllerOffline, DoorId = HallDoor }).Count);
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorControllerOffline, DoorId = ServerRoomDoor }).Count);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Malformed }));
    }

    [Fact]
    public async Task AnOnlineStatusFromTheBrokersRetainedStore_DoesNotBringASilentControllerBack_ALiveOneDoes()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        edge.Clock.Advance(Duration.FromSeconds(91));
        await edge.TickAsync();
        await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DoorControllerOffline && r.DoorId == HallDoor);

        // What a broker hands the service at its (re)subscribe: the status the controller published hours ago, before it
        // hung with its connection up. Logged as the device row it is, marked retained; no sign of life.
        var stored = new DeviceStatus(DeviceState.Online, edge.Clock.GetCurrentInstant() - Duration.FromHours(3), "1.0.0");
        await edge.Edge.Pipeline.EnqueueAsync(edge.Edge.Topics.DoorStatus(HallDoor), WireFormat.Write(stored), fromRetainedStore: true, CancellationToken.None);
        var row = await edge.RowAsync(r => r.Kind == LogKinds.Device && r.Reason == "online" && r.DoorId == HallDoor);
        Assert.Contains("\"retained\":\"true\"", row.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorControllerOnline }));

        // The same status published now, live (with the retain flag, as the protocol asks), is one.
        var live = new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.DoorStatus(HallDoor))
            .WithPayload(WireFormat.Write(stored with { At = edge.Clock.GetCurrentInstant() }))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag().Build();
        await controller.PublishAsync(live);
        await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DoorControllerOnline && r.DoorId == HallDoor);
    }

    [Fact]
    [Trait("control", "NIST-SC-23")]
    public async Task RefusedHeartbeat_DoesNotBringASilentControllerBack()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        edge.Clock.Advance(Duration.FromSeconds(91));
        await edge.TickAsync();
        await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DoorControllerOffline && r.DoorId == HallDoor);

        // Stamped ten minutes back (a captured one sent again, or a stuck clock): refused, it proves nothing. The refused
        // closed behind it on the same topic is logged, so once its row is in, the heartbeat was handled.
        var stale = edge.Clock.GetCurrentInstant() - Duration.FromMinutes(10);
        await PublishAsync(edge, controller, HallDoor, new DoorEvent("hb-stale", 1, stale, DoorEventType.Heartbeat, false));
        await PublishAsync(edge, controller, HallDoor, new DoorEvent("closed-stale", 2, stale, DoorEventType.Closed, false));
        await edge.RowAsync(r => r.Kind == LogKinds.Security && r.EventId == "closed-stale");

        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorControllerOnline }));
    }

    [Fact]
    [Trait("control", "NIST-SC-23")]
    public async Task AControllerWhoseHeartbeatsAreAllRefused_IsReportedOffline_WithADetailSayingTheyArriveAndAreRefused()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);

        // Its clock is ten minutes behind: its heartbeat and the closed behind it are refused (the closed's row shows both were handled).
        edge.Clock.Advance(Duration.FromSeconds(60));
        var behind = edge.Clock.GetCurrentInstant() - Duration.FromMinutes(10);
        await PublishAsync(edge, controller, HallDoor, new DoorEvent("hb-behind", 1, behind, DoorEventType.Heartbeat, false));
        await PublishAsync(edge, controller, HallDoor, new DoorEvent("closed-behind", 2, behind, DoorEventType.Closed, false));
        await edge.RowAsync(r => r.Kind == LogKinds.Security && r.EventId == "closed-behind");
        edge.Clock.Advance(Duration.FromSeconds(31));
        await edge.TickAsync();

        var offline = await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DoorControllerOffline && r.DoorId == HallDoor);
        Assert.Contains(
            $"door controller {Controller}: no message accepted for 3 heartbeat intervals (90 s), but 2 arrived in that time and were refused as suspected replays (the last 31 s ago: at is 10 min behind the service clock (allowed 5 min)): the controller is sending;",
            offline.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplayedOpening_CountsAsHeldOpenFromWhenItArrived_NotFromItsOldTime()
    {
        // Back from an outage, the controller replays an exit and the opening it caused ten minutes ago; the closed that
        // followed is still in its buffer. The door was open for seconds: no door_held_open at once. Had it really
        // stayed open, the alarm comes the held-open time (30 s) after the replay arrived.
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync(Controller);
        var then = edge.Clock.GetCurrentInstant() - Duration.FromMinutes(10);
        await PublishAsync(edge, controller, HallDoor, new DoorEvent("exit-then", 1, then, DoorEventType.ExitRequest, true));
        await PublishAsync(edge, controller, HallDoor, new DoorEvent("open-then", 2, then + Duration.FromSeconds(1), DoorEventType.Opened, true));
        await edge.RowAsync(r => r.Kind == LogKinds.Door && r.EventId == "open-then");

        await edge.TickAsync();
        edge.Clock.Advance(Duration.FromSeconds(30));
        await edge.TickAsync();
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorHeldOpen }));

        edge.Clock.Advance(Duration.FromSeconds(1));
        await edge.TickAsync();
        var held = await edge.AlarmRowAsync(AlarmTypes.DoorHeldOpen);
        Assert.Equal(HallDoor, held.DoorId);
        Assert.Contains("since its opening was reported (late, from the controller", held.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorForced }));
    }

    /// <summary>The demo site with the server room door driven by the data hall's controller (one will, two doors).</summary>
    private static string SharedControllerSite(string folder)
    {
        var demo = File.ReadAllText(EdgeHarness.DemoSiteFile);
        var shared = demo
            .Replace("    controller: ctl-sr1\n", $"    controller: {Controller}\n", StringComparison.Ordinal)
            .Replace("  - { id: ctl-sr1, name: Server room 1 door controller, heartbeatSeconds: 30 }\n", "", StringComparison.Ordinal);
        Assert.DoesNotContain("ctl-sr1", shared, StringComparison.Ordinal);
        var path = Path.Combine(folder, "demo.yaml");
        File.WriteAllText(path, shared);
        return path;
    }

    /// <summary>The controller an alarm row names in its detail (the entry log has no column for it).</summary>
    private static string? ControllerIdOf(LogEntry row)
    {
        using var detail = System.Text.Json.JsonDocument.Parse(row.Detail!);
        return detail.RootElement.TryGetProperty("controllerId", out var id) ? id.GetString() : null;
    }

    /// <summary>Waits for an alarm of <paramref name="type"/> on each of the controller's two doors.</summary>
    private static async Task<LogEntry[]> ForBothDoorsAsync(EdgeHarness edge, string type) =>
    [
        await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == type && r.DoorId == HallDoor),
        await edge.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == type && r.DoorId == ServerRoomDoor),
    ];

    private static Task PublishAsync(EdgeHarness edge, IMqttClient controller, string door, DoorEvent e) =>
        controller.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.DoorEvents(door))
            .WithPayload(WireFormat.Write(e)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
}

using AccessControl.HardwareSim.Doors;
using AccessControl.Protocol;
using AccessControl.Tests.HardwareSim.Support;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class DoorControllerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task UnlockCommand_ReleasesTheStrike_AndThePersonOpensAndClosesTheDoor()
    {
        await using var h = await SimHarness.StartAsync(output);
        var options = new DoorControllerOptions { OpenDelay = TimeSpan.FromSeconds(1), OpenFor = TimeSpan.FromSeconds(3) };
        var controller = h.Controller("ctl-dh1", ["door-dh1"], options);
        var unlocked = new TaskCompletionSource();
        var personOpened = new TaskCompletionSource();
        controller.Activity += a =>
        {
            (a.Kind == DoorActivityKind.Unlocked ? unlocked : a.Kind == DoorActivityKind.Opened ? personOpened : null)?.TrySetResult();
        };
        await controller.StartAsync().Guarded();

        await h.Service.SendDoorCommandAsync("door-dh1", new DoorCommand("cmd-1", "unlock", 5));
        await unlocked.Task.Guarded();
        h.Time.Advance(options.OpenDelay);
        await personOpened.Task.Guarded();
        h.Time.Advance(options.OpenFor);

        var opened = await h.Service.WaitForDoorEventAsync("door-dh1", DoorEventType.Opened).Guarded();
        var closed = await h.Service.WaitForDoorEventAsync("door-dh1", DoorEventType.Closed).Guarded();

        Assert.Equal("ac/v1/doors/door-dh1/events", opened.Topic);
        Assert.Equal($$"""{"eventId":"{{opened.DoorEvent!.EventId}}","seq":1,"at":"2026-11-28T09:15:03Z","type":"opened"}""", opened.Json);
        Assert.Equal($$"""{"eventId":"{{closed.DoorEvent!.EventId}}","seq":2,"at":"2026-11-28T09:15:06Z","type":"closed"}""", closed.Json);
    }

    [Fact]
    public async Task UnlockCommand_WithoutAutoOpen_OnlyReleasesTheStrikeUntilItRelocks()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1"], new DoorControllerOptions { AutoOpenOnUnlock = false });
        var relocked = new TaskCompletionSource();
        var unlocked = new TaskCompletionSource();
        controller.Activity += a =>
        {
            (a.Kind == DoorActivityKind.Unlocked ? unlocked : a.Kind == DoorActivityKind.Relocked ? relocked : null)?.TrySetResult();
        };
        await controller.StartAsync().Guarded();

        await h.Service.SendDoorCommandAsync("door-dh1", new DoorCommand("cmd-1", "unlock", 5));
        await unlocked.Task.Guarded();
        Assert.Equal(new DoorSnapshot("door-dh1", true, false, false), controller.GetDoor("door-dh1"));
        Assert.Equal(DoorOpenResult.Opened, await controller.OpenAsync("door-dh1").Guarded());

        h.Time.Advance(TimeSpan.FromSeconds(5));
        await relocked.Task.Guarded();
        Assert.False(controller.GetDoor("door-dh1").Unlocked);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task Heartbeat_WithAnInterval_IsSentOnTheFirstDoorsEventsTopic_AndNotMadeWhileOffline()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1", "door-dh1-b"], new DoorControllerOptions { HeartbeatInterval = TimeSpan.FromSeconds(30) });
        await controller.StartAsync().Guarded();

        h.Time.Advance(TimeSpan.FromSeconds(30));

        var beat = await h.Service.WaitForDoorEventAsync("door-dh1", DoorEventType.Heartbeat).Guarded();
        Assert.Equal($$"""{"eventId":"{{beat.DoorEvent!.EventId}}","seq":1,"at":"2026-11-28T09:15:32Z","type":"heartbeat"}""", beat.Json);
        await controller.DropConnectionAsync();
        Assert.False(await controller.SendHeartbeatAsync().Guarded());
        Assert.Equal(0, controller.Counters.Buffered);
    }

    [Fact]
    public async Task Open_WhileLocked_IsRefusedAndReportsNothing()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1"]);
        await controller.StartAsync().Guarded();

        Assert.Equal(DoorOpenResult.Locked, await controller.OpenAsync("door-dh1").Guarded());
        await controller.PressExitButtonAsync("door-dh1").Guarded();

        var first = await h.Service.WaitForAsync(m => m.Address.Kind == TopicKind.DoorEvents).Guarded();
        Assert.Equal(DoorEventType.ExitRequest, first.DoorEvent!.Type);
        Assert.Contains("\"type\":\"exit_request\"", first.Json, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task Force_OpensTheDoorWithoutUnlock()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1"]);
        var forced = new TaskCompletionSource<DoorActivity>();
        controller.Activity += a =>
        {
            if (a.Kind == DoorActivityKind.Forced)
            {
                forced.TrySetResult(a);
            }
        };
        await controller.StartAsync().Guarded();

        await controller.ForceOpenAsync("door-dh1").Guarded();

        await h.Service.WaitForDoorEventAsync("door-dh1", DoorEventType.Opened).Guarded();
        Assert.Equal("door-dh1", (await forced.Task.Guarded()).DoorId);
        Assert.Equal(new DoorSnapshot("door-dh1", false, true, false), controller.GetDoor("door-dh1"));
    }

    [Fact]
    public async Task Hold_KeepsTheDoorOpenUntilItIsClosed()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1"], new DoorControllerOptions { OpenFor = TimeSpan.FromSeconds(3) });
        await controller.StartAsync().Guarded();

        await controller.HoldOpenAsync("door-dh1").Guarded();
        h.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(controller.GetDoor("door-dh1").Open);
        await controller.CloseAsync("door-dh1").Guarded();

        var closed = await h.Service.WaitForDoorEventAsync("door-dh1", DoorEventType.Closed).Guarded();
        Assert.Equal(2, closed.DoorEvent!.Seq);
        Assert.Equal(SimHarness.Start.Plus(NodaTime.Duration.FromMinutes(5)), closed.DoorEvent.At);
        Assert.Single(h.Service.All(m => m.DoorEvent is { Type: DoorEventType.Closed }));
    }

    [Fact]
    public async Task OneController_ServesSeveralDoors_EachWithItsOwnSeq()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-lobby", ["door-a", "door-b"]);
        await controller.StartAsync().Guarded();

        await h.Service.SendDoorCommandAsync("door-b", new DoorCommand("cmd-1", "unlock", 5));
        await controller.PressExitButtonAsync("door-a").Guarded();

        Assert.Equal(1, (await h.Service.WaitForDoorEventAsync("door-b", DoorEventType.Opened).Guarded()).DoorEvent!.Seq);
        Assert.Equal(1, (await h.Service.WaitForDoorEventAsync("door-a", DoorEventType.ExitRequest).Guarded()).DoorEvent!.Seq);
    }

    [Fact]
    public async Task DuplicateCommandId_IsIgnored()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1"], new DoorControllerOptions { AutoOpenOnUnlock = false });
        var ignored = new TaskCompletionSource<DoorActivity>();
        controller.Activity += a =>
        {
            if (a.Kind == DoorActivityKind.CommandIgnored)
            {
                ignored.TrySetResult(a);
            }
        };
        await controller.StartAsync().Guarded();

        await h.Service.SendDoorCommandAsync("door-dh1", new DoorCommand("cmd-1", "unlock", 5));
        await h.Service.SendDoorCommandAsync("door-dh1", new DoorCommand("cmd-1", "unlock", 5));

        Assert.Contains("duplicate", (await ignored.Task.Guarded()).Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [Trait("control", "NIST-PE-3")]
    public async Task UnlockCommand_WithoutPositiveSeconds_DoesNothing_AndTheStrikeStaysLocked(int seconds)
    {
        // reader-protocol §6.5: "A value <= 0 means do nothing." A controller that read it as "its own default" would
        // open the door on a command that asks for no opening.
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1"], new DoorControllerOptions { AutoOpenOnUnlock = false });
        var activities = System.Threading.Channels.Channel.CreateUnbounded<DoorActivity>();
        controller.Activity += a => activities.Writer.TryWrite(a);
        await controller.StartAsync().Guarded();

        await h.Service.SendDoorCommandAsync("door-dh1", new DoorCommand("cmd-1", "unlock", seconds));
        var first = await activities.Reader.ReadAsync().AsTask().Guarded();

        Assert.Equal(DoorActivityKind.CommandIgnored, first.Kind);
        Assert.False(controller.GetDoor("door-dh1").Unlocked);
        Assert.Equal(DoorOpenResult.Locked, await controller.OpenAsync("door-dh1").Guarded());
    }

    [Theory]
    [InlineData("ctl:dh1")] // a device id is its MQTT username: Mosquitto's password file splits at ':'
    [InlineData("ctl/dh1")]
    [InlineData("ctl+")]
    [InlineData("ctl#")]
    public async Task DeviceId_OutsideTheDocumentedAlphabet_IsRefused(string id)
    {
        await using var h = await SimHarness.StartAsync(output);

        var refused = Assert.Throws<ArgumentException>(() => h.Controller(id, ["door-dh1"]));
        Assert.Contains("A-Z a-z 0-9 . _ -", refused.Message, StringComparison.Ordinal);
        Assert.Equal(new[] { "door:dh1" }, h.Controller("ctl-dh1", ["door:dh1"]).DoorIds); // a door id is no username: ':' is fine
    }

    [Fact]
    public async Task DoorEventsWhileOffline_AreReplayedMarkedOffline()
    {
        await using var h = await SimHarness.StartAsync(output);
        var controller = h.Controller("ctl-dh1", ["door-dh1"]);
        await controller.StartAsync().Guarded();

        await controller.DropConnectionAsync();
        await controller.ForceOpenAsync("door-dh1").Guarded();
        await controller.CloseAsync("door-dh1").Guarded();
        Assert.Equal(2, controller.Counters.Buffered);
        await controller.RestoreConnectionAsync().Guarded();

        var closed = await h.Service.WaitForDoorEventAsync("door-dh1", DoorEventType.Closed).Guarded();
        var opened = await h.Service.WaitForDoorEventAsync("door-dh1", DoorEventType.Opened).Guarded();
        Assert.True(opened.DoorEvent!.Offline && closed.DoorEvent!.Offline);
        Assert.Equal((1L, 2L), (opened.DoorEvent.Seq, closed.DoorEvent.Seq));
    }
}

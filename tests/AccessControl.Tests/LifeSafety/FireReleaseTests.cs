using System.Net;
using System.Text;
using System.Threading.Channels;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.HardwareSim.Doors;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using AccessControl.Tests.Visitors;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;

namespace AccessControl.Tests.LifeSafety;

/// <summary>
/// Issue 5 item 6 over a real broker: a fire alarm releases the demo site's fail-safe doors (lobby, data hall 1) and not
/// the fail-secure server room; nothing relocks until an operator resets after the panel cleared; a reconnecting
/// controller and a restarted service both get the release again.
/// </summary>
public sealed class FireReleaseTests
{
    private const string Panel = "fire-panel-a";
    private static readonly string[] FailSafeDoors = ["door-dh1", "door-lobby"];

    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NFPA-101")]
    public async Task FireAlarm_ReleasesFailSafeDoors_NothingRelocksUntilAResetAfterClear(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var (lobby, lobbyActivity) = await ControllerAsync(edge, "ctl-lobby", "door-lobby");
        var (dh1, dh1Activity) = await ControllerAsync(edge, "ctl-dh1", "door-dh1");
        var (sr1, _) = await ControllerAsync(edge, "ctl-sr1", "door-sr1");
        var alarms = await edge.AlarmsAsync();
        var panel = await edge.RawClientAsync(Panel);

        await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
        var alarmRow = await edge.AlarmRowAsync(AlarmTypes.FireAlarm);
        var release = await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Release);
        await NextAsync(lobbyActivity, DoorActivityKind.Released);
        await NextAsync(dh1Activity, DoorActivityKind.Released);
        var published = await NextAlarmAsync(alarms, AlarmTypes.FireAlarm);

        Assert.Equal("demo", alarmRow.SiteId);
        Assert.Equal("fire/" + Panel, alarmRow.Source);
        Assert.Equal("demo", published.SiteId);
        Assert.Contains("\"doors\":\"door-dh1,door-lobby\"", release.Detail, StringComparison.Ordinal);
        Assert.True(lobby.GetDoor("door-lobby").Released);
        Assert.True(dh1.GetDoor("door-dh1").Released);
        Assert.False(sr1.GetDoor("door-sr1").Released);
        Assert.False(sr1.GetDoor("door-sr1").Unlocked);

        // People leave through the lobby and leave it open; an hour passes. No relock, no forced, no held open.
        Assert.Equal(DoorOpenResult.Opened, await lobby.OpenAsync("door-lobby").WaitAsync(EdgeHarness.Timeout));
        await edge.RowAsync(r => r.Kind == LogKinds.Door && r.DoorId == "door-lobby" && r.Reason == "opened");
        edge.Clock.Advance(Duration.FromHours(1));
        await edge.TickAsync();
        Assert.True(lobby.GetDoor("door-lobby").Released);
        Assert.True(lobby.GetDoor("door-lobby").Unlocked);
        Assert.DoesNotContain(edge.Rows(new LogFilter { Kind = LogKinds.Alarm }),
            r => r.Reason is AlarmTypes.DoorForced or AlarmTypes.DoorHeldOpen && FailSafeDoors.Contains(r.DoorId));

        // The panel has not cleared: a reset is refused and relocks nothing.
        var early = await edge.Edge.Pipeline.ResetFireAsync("op-security", force: false).WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(FireResetOutcome.NotCleared, early.Outcome);
        Assert.Equal([Panel], early.PanelsInAlarm.ToArray());

        // The panel clears: logged, still released.
        await PublishFireAsync(edge, panel, "fpa-2", 2, "clear");
        await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Clear);
        edge.Clock.Advance(Duration.FromMinutes(10));
        await edge.TickAsync();
        Assert.True(edge.Edge.Pipeline.Fire.IsReleased);
        Assert.True(lobby.GetDoor("door-lobby").Released);
        Assert.True(dh1.GetDoor("door-dh1").Released);

        // The operator resets: a row naming them, then relock to both doors.
        var reset = await edge.Edge.Pipeline.ResetFireAsync("op-security", force: false).WaitAsync(EdgeHarness.Timeout);
        var resetRow = await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Reset);
        await NextAsync(lobbyActivity, DoorActivityKind.Relocked);
        await NextAsync(dh1Activity, DoorActivityKind.Relocked);

        Assert.Equal(FireResetOutcome.Reset, reset.Outcome);
        Assert.Equal(FailSafeDoors, reset.Relocked.ToArray());
        Assert.Equal("op-security", resetRow.Actor);
        Assert.False(edge.Edge.Pipeline.Fire.IsReleased);
        Assert.False(lobby.GetDoor("door-lobby").Released);
        Assert.False(dh1.GetDoor("door-dh1").Unlocked);
        Assert.True(resetRow.Seq > release.Seq);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NFPA-101")]
    public async Task ControllerConnectingDuringARelease_GetsTheRetainedRelease(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var panel = await edge.RawClientAsync(Panel);
        await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
        await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Release);

        // The controller was rebooting during the alarm: it connects (clean session) only now.
        var (lobby, activity) = await ControllerAsync(edge, "ctl-lobby", "door-lobby");
        await NextAsync(activity, DoorActivityKind.Released);

        Assert.True(lobby.GetDoor("door-lobby").Released);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NFPA-101")]
    public async Task ServiceRestartDuringARelease_ReleasesAgain_AndNeverRelocksOnItsOwn(BrokerKind broker)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-fire-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            await using (var edge = await EdgeHarness.StartAsync(broker, directory: directory))
            {
                var panel = await edge.RawClientAsync(Panel);
                await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
                await edge.RowAsync(r => r.Kind == LogKinds.Safety && r.Reason == FireReasons.Release);
            }

            // The same data folder, a new broker (no retained messages survive it), an hour later.
            await using (var again = await EdgeHarness.StartAsync(broker, now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: directory))
            {
                var (lobby, lobbyActivity) = await ControllerAsync(again, "ctl-lobby", "door-lobby");
                var (dh1, dh1Activity) = await ControllerAsync(again, "ctl-dh1", "door-dh1");
                var (sr1, _) = await ControllerAsync(again, "ctl-sr1", "door-sr1");
                await NextAsync(lobbyActivity, DoorActivityKind.Released);
                await NextAsync(dh1Activity, DoorActivityKind.Released);
                again.Clock.Advance(Duration.FromHours(1));
                await again.TickAsync();

                var state = again.Edge.Pipeline.Fire;
                Assert.True(state.IsReleased);
                Assert.Equal(FailSafeDoors, state.ReleasedDoors.Order(StringComparer.Ordinal));
                Assert.False(state.Sites["demo"].Cleared);
                Assert.True(lobby.GetDoor("door-lobby").Released);
                Assert.True(dh1.GetDoor("door-dh1").Released);
                Assert.False(sr1.GetDoor("door-sr1").Unlocked);
                Assert.Empty(again.Rows(new LogFilter { Reason = FireReasons.Reset }));

                // Still refused until the panel clears, as before the restart.
                var reset = await again.Edge.Pipeline.ResetFireAsync("op-security", force: false).WaitAsync(EdgeHarness.Timeout);
                Assert.Equal(FireResetOutcome.NotCleared, reset.Outcome);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    public async Task ForcedReset_BeforeClear_RelocksAndIsLoggedAsForced(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var (lobby, activity) = await ControllerAsync(edge, "ctl-lobby", "door-lobby");
        var panel = await edge.RawClientAsync(Panel);
        await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
        await NextAsync(activity, DoorActivityKind.Released);

        var reset = await edge.Edge.Pipeline.ResetFireAsync("op-admin", force: true).WaitAsync(EdgeHarness.Timeout);
        var row = await edge.RowAsync(r => r.Reason == FireReasons.Reset);
        await NextAsync(activity, DoorActivityKind.Relocked);

        Assert.Equal(FireResetOutcome.Reset, reset.Outcome);
        Assert.Contains("\"forced\":\"true\"", row.Detail, StringComparison.Ordinal);
        Assert.Equal("op-admin", row.Actor);
        Assert.False(lobby.GetDoor("door-lobby").Released);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-PE-3")]
    public async Task FireEvent_FromADeviceThatIsNotAPanel_IsRefusedByTheBroker(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        await using var reader = await TestMqttClient.ConnectAsync(edge.BrokerPort, "rdr-lobby-in", edge.Secrets.For("rdr-lobby-in"));
        await using var controller = await TestMqttClient.ConnectAsync(edge.BrokerPort, "ctl-sr1", edge.Secrets.For("ctl-sr1"));
        var alarm = Encoding.UTF8.GetString(FireEvent("x-1", 1, "alarm", edge));

        var asPanel = await reader.PublishAsync(edge.Edge.Topics.FireEvents(Panel), alarm);
        var ownName = await reader.PublishAsync(edge.Edge.Topics.FireEvents("rdr-lobby-in"), alarm);
        var fromController = await controller.PublishAsync(edge.Edge.Topics.FireEvents(Panel), alarm);

        Assert.All([asPanel, ownName, fromController], r => Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, r.ReasonCode));
        Assert.False(edge.Edge.Pipeline.Fire.IsReleased);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task MalformedFireEvent_IsLoggedAsMalformed_AndReleasesNothing(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var panel = await edge.RawClientAsync(Panel);

        await panel.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(edge.Edge.Topics.FireEvents(Panel))
            .WithPayload("{\"eventId\":\"fpa-9\",\"seq\":9,\"at\":\"2026-12-01T09:00:00Z\",\"type\":\"smoke\"}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        var row = await edge.RowAsync(r => r.Kind == LogKinds.Malformed);

        Assert.Equal("fire/" + Panel, row.Source);
        Assert.Equal("malformed_event", row.Reason);
        Assert.Contains("alarm, clear", row.Detail, StringComparison.Ordinal);
        Assert.False(edge.Edge.Pipeline.Fire.IsReleased);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NFPA-101")]
    [Trait("control", "NIST-AU-5")]
    public async Task LogCannotBeWritten_TheReleaseGoesOutAnyway_AndAResetWithoutItsRowRelocksNothing()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var (lobby, activity) = await ControllerAsync(edge, "ctl-lobby", "door-lobby");
        var alarms = await edge.AlarmsAsync();
        var panel = await edge.RawClientAsync(Panel);

        edge.Edge.Writer.SimulateWriteFailure(true);
        await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
        await NextAsync(activity, DoorActivityKind.Released);
        var logFailure = await NextAlarmAsync(alarms, AlarmTypes.LogFailure);
        var state = edge.Edge.Pipeline.Fire;
        await Assert.ThrowsAsync<AccessControl.Events.EntryLogUnavailableException>(
            () => edge.Edge.Pipeline.ResetFireAsync("op-security", force: true).WaitAsync(EdgeHarness.Timeout));
        edge.Edge.Writer.SimulateWriteFailure(false);

        Assert.NotNull(logFailure);
        Assert.True(state.IsReleased);
        Assert.False(state.Sites["demo"].Cleared);
        Assert.True(edge.Edge.Pipeline.Fire.IsReleased);
        Assert.True(lobby.GetDoor("door-lobby").Released);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Safety }));

        // Once the log works again the normal path applies: clear, then reset.
        await PublishFireAsync(edge, panel, "fpa-2", 2, "clear");
        await edge.RowAsync(r => r.Reason == FireReasons.Clear);
        var reset = await edge.Edge.Pipeline.ResetFireAsync("op-security", force: false).WaitAsync(EdgeHarness.Timeout);
        await NextAsync(activity, DoorActivityKind.Relocked);

        Assert.Equal(FireResetOutcome.Reset, reset.Outcome);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NIST-AC-3")]
    public async Task Cli_FireStatusAndReset_OverTheApi_OnlyForSecurityOrAdmin_RefusedUntilClear()
    {
        await using var edge = await EdgeHarness.StartAsync();
        TestPeople.Add(edge.Edge.Database, "p-kim", "p-lee");
        var tokens = new AccessControl.Admin.ApiTokens(edge.Edge.Database, edge.Clock);
        var security = tokens.CreateToken("guard-kim", AccessControl.Admin.OperatorRole.Security, "test", "p-kim");
        var auditor = tokens.CreateToken("audit-lee", AccessControl.Admin.OperatorRole.Auditor, "test", "p-lee");
        var panel = await edge.RawClientAsync(Panel);
        await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
        await edge.RowAsync(r => r.Reason == FireReasons.Release);

        var (status, statusOut, _) = await CliAsync(edge, security, "fire", "status");
        var (refused, _, refusedErr) = await CliAsync(edge, security, "fire", "reset");
        var (forbidden, _, _) = await CliAsync(edge, auditor, "fire", "reset", "--force");
        await PublishFireAsync(edge, panel, "fpa-2", 2, "clear");
        await edge.RowAsync(r => r.Reason == FireReasons.Clear);
        var (reset, resetOut, _) = await CliAsync(edge, security, "fire", "reset");

        Assert.Equal(0, status);
        Assert.True(System.Text.Json.JsonDocument.Parse(statusOut).RootElement.GetProperty("released").GetBoolean());
        Assert.Contains("door-lobby", statusOut, StringComparison.Ordinal);
        Assert.NotEqual(0, refused);
        Assert.Contains("409", refusedErr, StringComparison.Ordinal);
        Assert.Contains("fire reset --force", refusedErr, StringComparison.Ordinal);
        Assert.NotEqual(0, forbidden);
        Assert.Equal(0, reset);
        Assert.Contains("door-dh1", resetOut, StringComparison.Ordinal);
        Assert.Equal("guard-kim", Assert.Single(edge.Rows(new LogFilter { Reason = FireReasons.Reset })).Actor);
    }

    [Fact]
    [Trait("control", "NIST-AU-2")]
    [Trait("control", "PCI-10.2")]
    [Trait("control", "NIST-PE-3")]
    public async Task FireReset_RefusedWhileAPanelIsStillInAlarm_IsRecordedAsASecurityRow_NamingTheOperatorThePanelAndTheSite()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var desk = VisitDesk.For(edge);
        using var guard = desk.As("guard-kim", OperatorRole.Security, "p-guard-kim");
        var panel = await edge.RawClientAsync(Panel);
        await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
        await edge.RowAsync(r => r.Reason == FireReasons.Release);

        var refused = await guard.PostAsync("api/v1/fire/reset", null);

        // Someone tried to relock the doors of a building whose fire alarm had not cleared: an auditor (and the fire
        // officer) must find who, when and which site, not only a 409 the guard's screen showed.
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.True(edge.Edge.Pipeline.Fire.IsReleased);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "fire.reset.refused" }));
        Assert.Equal(("guard-kim", "demo"), (row.Actor, row.SiteId));
        Assert.Contains("\"code\":\"fire_not_cleared\"", row.Detail, StringComparison.Ordinal);
        Assert.Contains($"\"panelsInAlarm\":\"{Panel}\"", row.Detail, StringComparison.Ordinal);
        Assert.Contains("\"role\":\"security\"", row.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Rows(new LogFilter { Reason = FireReasons.Reset }));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-PE-3")]
    public async Task FireReset_ByATokenLimitedToAnotherSite_IsRefusedAndLogged_AndItsOwnSitesTokenResets()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var desk = VisitDesk.For(edge);
        using var elsewhere = desk.As("guard-par1", OperatorRole.Security, "p-guard-par1", site: "par1");
        using var here = desk.As("guard-demo", OperatorRole.Security, "p-guard-demo", site: "demo");
        var panel = await edge.RawClientAsync(Panel);
        await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
        await PublishFireAsync(edge, panel, "fpa-2", 2, "clear");
        await edge.RowAsync(r => r.Reason == FireReasons.Clear);

        var unseen = await elsewhere.GetStringAsync("api/v1/fire");
        var refused = await elsewhere.PostAsync("api/v1/fire/reset?force=true", null);
        var stillReleased = edge.Edge.Pipeline.Fire.IsReleased;
        var reset = await here.PostAsync("api/v1/fire/reset", null);

        Assert.Contains("\"released\":false", unseen, StringComparison.Ordinal);
        Assert.DoesNotContain("door-lobby", unseen, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(SiteLimit.Code, await VisitDesk.RefusalCodeAsync(refused));
        var refusal = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "fire.reset.refused" }));
        Assert.Equal(("guard-par1", null), (refusal.Actor, refusal.SiteId));
        Assert.Contains("\"released\":\"demo\"", refusal.Detail, StringComparison.Ordinal);
        Assert.True(stillReleased);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        Assert.Contains("\"sites\":[\"demo\"]", await reset.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var row = Assert.Single(edge.Rows(new LogFilter { Reason = FireReasons.Reset }));
        Assert.Equal(("guard-demo", "demo"), (row.Actor, row.SiteId));
        Assert.Contains("\"tokenSite\":\"demo\",\"otherSitesReleased\":0", row.Detail, StringComparison.Ordinal);
        Assert.False(edge.Edge.Pipeline.Fire.IsReleased);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NFPA-101")]
    public async Task FireReset_ByASiteLimitedToken_RelocksOnlyItsSite_AndOtherSitesStayReleased()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-fire-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            await using (var edge = await EdgeHarness.StartAsync(directory: directory))
            {
                // Another site's release, as its own service would have logged it; it is folded in at the next start.
                await edge.Edge.Pipeline.AppendAsync(new LogEntry
                {
                    At = edge.Clock.GetCurrentInstant(),
                    Kind = LogKinds.Safety,
                    SiteId = "par1",
                    Reason = FireReasons.Release,
                    Detail = "{\"panel\":\"fire-panel-p\",\"doors\":\"door-par1-lobby\"}",
                }).WaitAsync(EdgeHarness.Timeout);
                var panel = await edge.RawClientAsync(Panel);
                await PublishFireAsync(edge, panel, "fpa-1", 1, "alarm");
                await PublishFireAsync(edge, panel, "fpa-2", 2, "clear");
                await edge.RowAsync(r => r.Reason == FireReasons.Clear);
            }

            await using var again = await EdgeHarness.StartAsync(directory: directory);
            using var here = VisitDesk.For(again).As("guard-demo", OperatorRole.Security, "p-guard-demo", site: "demo");
            var (lobby, activity) = await ControllerAsync(again, "ctl-lobby", "door-lobby");

            var status = await here.GetStringAsync("api/v1/fire");
            var reset = await here.PostAsync("api/v1/fire/reset", null);
            await NextAsync(activity, DoorActivityKind.Relocked);

            Assert.DoesNotContain("par1", status, StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
            Assert.DoesNotContain("door-par1-lobby", await reset.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            var row = Assert.Single(again.Rows(new LogFilter { Reason = FireReasons.Reset }));
            Assert.Equal("demo", row.SiteId);
            Assert.Contains("\"otherSitesReleased\":1", row.Detail, StringComparison.Ordinal);
            Assert.Equal(["par1"], again.Edge.Pipeline.Fire.Sites.Keys);
            Assert.False(lobby.GetDoor("door-lobby").Released);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<(int Code, string Output, string Error)> CliAsync(EdgeHarness edge, string token, params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = await AccessControl.Cli.AdminCommands.RunAsync(args, edge.Clock, output, error, name => name switch
        {
            AccessControl.Cli.RemoteCommands.UrlVariable => edge.Host.HttpAddress.ToString(),
            AccessControl.Cli.RemoteCommands.TokenVariable => token,
            _ => null,
        }, new AccessControl.EntryLog.OsAccount("tester", 1000)).WaitAsync(EdgeHarness.Timeout);
        return (code ?? -1, output.ToString(), error.ToString());
    }

    private static async Task<(DoorController Controller, Channel<DoorActivity> Activity)> ControllerAsync(EdgeHarness edge, string controllerId, string doorId)
    {
        var controller = await edge.ControllerAsync(controllerId, [doorId], new DoorControllerOptions { AutoOpenOnUnlock = false }, start: false);
        var activity = Channel.CreateUnbounded<DoorActivity>();
        controller.Activity += a => activity.Writer.TryWrite(a);
        await controller.StartAsync().WaitAsync(EdgeHarness.Timeout);
        return (controller, activity);
    }

    private static async Task NextAsync(Channel<DoorActivity> activity, DoorActivityKind kind)
    {
        using var timeout = new CancellationTokenSource(EdgeHarness.Timeout);
        while ((await activity.Reader.ReadAsync(timeout.Token)).Kind != kind)
        {
        }
    }

    private static async Task<AlarmMessage> NextAlarmAsync(Channel<AlarmMessage> alarms, string type)
    {
        using var timeout = new CancellationTokenSource(EdgeHarness.Timeout);
        while (true)
        {
            var alarm = await alarms.Reader.ReadAsync(timeout.Token);
            if (alarm.Type == type)
            {
                return alarm;
            }
        }
    }

    private static byte[] FireEvent(string eventId, long seq, string type, EdgeHarness edge) =>
        WireFormat.Write(new FireEvent(eventId, seq, edge.Clock.GetCurrentInstant(), type == "alarm" ? FireEventType.Alarm : FireEventType.Clear, null));

    private static Task PublishFireAsync(EdgeHarness edge, IMqttClient panel, string eventId, long seq, string type) =>
        panel.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(edge.Edge.Topics.FireEvents(Panel))
            .WithPayload(FireEvent(eventId, seq, type, edge))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
}

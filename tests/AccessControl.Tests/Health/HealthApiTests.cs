using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Health;

/// <summary>
/// <c>GET /api/v1/health</c> (no token: the status alone, 503 when failing) and <c>GET /api/v1/health/checks</c>
/// (auditor, security or admin: every check) over real HTTP, with the service's real parts behind them.
/// </summary>
public class HealthApiTests
{
    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "NIST-SI-4")]
    public async Task WhileTheLogCannotBeWritten_HealthIsFailing503_AndTheChecksSayWhy_ThenOkAgain()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var anyone = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        using var auditor = Client(edge, OperatorRole.Auditor);
        var reader = await edge.ReaderAsync("rdr-lobby-in");

        var before = await StatusAsync(anyone, "/api/v1/health");
        edge.Edge.Writer.SimulateWriteFailure(true);
        Assert.Equal("log_failure", (await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);
        var during = await StatusAsync(anyone, "/api/v1/health");
        var checks = await StatusAsync(auditor, "/api/v1/health/checks");
        edge.Edge.Writer.SimulateWriteFailure(false);
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var after = await StatusAsync(anyone, "/api/v1/health");

        Assert.Equal((HttpStatusCode.OK, """{"status":"ok"}"""), before);
        Assert.Equal((HttpStatusCode.ServiceUnavailable, """{"status":"failing"}"""), during);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, checks.Code);
        using var json = JsonDocument.Parse(checks.Body);
        var log = json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "entry-log");
        Assert.Equal("failing", log.GetProperty("status").GetString());
        Assert.Contains("denied log_failure", log.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, """{"status":"ok"}"""), after);
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task AnOutageJournalThatCouldNotBeMadeAtStart_LeavesTheServiceDeciding_WithHealthDegraded_AndTheLogSayingWhy()
    {
        // The journal cannot be put in place (as with no room for it on a full disk): it goes through the same path.
        var directory = Path.Combine(Path.GetTempPath(), "ac-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(directory, AccessControl.Events.OutageJournal.FileName));
        var logs = new CapturingLoggerProvider();
        try
        {
            await using var edge = await EdgeHarness.StartAsync(directory: directory, logs: logs,
                configure: s => s with { Pipeline = s.Pipeline with { OutageJournalBytes = 4096 } });
            using var auditor = Client(edge, OperatorRole.Auditor);
            var reader = await edge.ReaderAsync("rdr-lobby-in");

            var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
            var checks = await StatusAsync(auditor, "/api/v1/health/checks");

            Assert.True(swipe.Grant);
            Assert.Equal(HttpStatusCode.OK, checks.Code);
            using var json = JsonDocument.Parse(checks.Body);
            Assert.Equal("degraded", json.RootElement.GetProperty("status").GetString());
            var journal = json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "outage-journal");
            Assert.Equal("degraded", journal.GetProperty("status").GetString());
            Assert.Contains("in memory only", journal.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Single(logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("could not be opened or created", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task AnOutageJournalThatCouldNotBeMadeAtStart_IsMadeWhileTheServiceRuns_OnceThereIsRoom_AndKeepsALaterOutagesRowsAcrossARestart()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        var obstacle = Path.Combine(directory, AccessControl.Events.OutageJournal.FileName);
        Directory.CreateDirectory(obstacle);
        var logs = new CapturingLoggerProvider();
        Func<AccessControl.Hosting.ServiceSettings, AccessControl.Hosting.ServiceSettings> journalOf64KiB =
            s => s with { Pipeline = s.Pipeline with { OutageJournalBytes = 64 * 1024 } };
        try
        {
            await using (var edge = await EdgeHarness.StartAsync(directory: directory, logs: logs, configure: journalOf64KiB))
            {
                using var anyone = new HttpClient { BaseAddress = edge.Host.HttpAddress };
                using var auditor = Client(edge, OperatorRole.Auditor);
                var reader = await edge.ReaderAsync("rdr-lobby-in");
                var atStart = await StatusAsync(auditor, "/api/v1/health/checks");

                // Room again (the obstacle gone), and the periodic job's round.
                Directory.Delete(obstacle);
                await edge.Edge.RetryOutageJournalAsync().WaitAsync(EdgeHarness.Timeout);
                var after = await StatusAsync(auditor, "/api/v1/health/checks");
                var status = await StatusAsync(anyone, "/api/v1/health");

                // A log outage now: its deny is kept in the journal, and the service stops before the log is writable again.
                edge.Edge.Writer.SimulateWriteFailure(true);
                Assert.Equal("log_failure", (await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);

                Assert.Equal("degraded", OutageJournalCheck(atStart.Body));
                Assert.Equal((HttpStatusCode.OK, "ok"), (after.Code, OutageJournalCheck(after.Body)));
                Assert.Equal((HttpStatusCode.OK, """{"status":"ok"}"""), status);
                Assert.Single(logs.Lines, l => l.Contains("is made now", StringComparison.Ordinal));
            }

            await using var again = await EdgeHarness.StartAsync(directory: directory, configure: journalOf64KiB);
            await again.TickAsync();

            var denied = Assert.Single(again.Rows(new AccessControl.EntryLog.LogFilter { Kind = AccessControl.EntryLog.LogKinds.Access }));
            Assert.Equal(("deny", "log_failure"), (denied.Decision, denied.Reason));
            var outage = Assert.Single(again.Rows(new AccessControl.EntryLog.LogFilter { Kind = AccessControl.EntryLog.LogKinds.Integrity, Reason = "outage" }));
            Assert.Contains("restoredAtStart", outage.Detail, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AC-6")]
    public async Task Checks_NeedAnAuditorSecurityOrAdminToken_TheStatusNone()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var anyone = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        using var security = Client(edge, OperatorRole.Security);
        using var frontdesk = Client(edge, OperatorRole.Frontdesk);

        var withoutToken = await anyone.GetAsync("/api/v1/health/checks");
        var wrongRole = await frontdesk.GetAsync("/api/v1/health/checks");
        var (code, body) = await StatusAsync(security, "/api/v1/health/checks");

        Assert.Equal(HttpStatusCode.Unauthorized, withoutToken.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, wrongRole.StatusCode);
        Assert.Equal(HttpStatusCode.OK, code);
        using var json = JsonDocument.Parse(body);
        Assert.Equal("ok", json.RootElement.GetProperty("status").GetString());
        Assert.Equal(10, json.RootElement.GetProperty("checks").GetArrayLength());
    }

    [Fact]
    [Trait("control", "NIST-SI-4")]
    public async Task WhileTheBrokerIsDown_TheBrokerCheckIsFailing()
    {
        await using var edge = await EdgeHarness.StartAsync(BrokerKind.Mosquitto);
        using var auditor = Client(edge, OperatorRole.Auditor);
        var down = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        edge.Edge.Connection!.Disconnected += _ => down.TrySetResult();

        await edge.StopBrokerAsync();
        await down.Task.WaitAsync(EdgeHarness.Timeout);
        var (code, body) = await StatusAsync(auditor, "/api/v1/health/checks");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, code);
        using var json = JsonDocument.Parse(body);
        var broker = json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "broker");
        Assert.Equal("failing", broker.GetProperty("status").GetString());
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    [Trait("control", "NIST-SI-4")]
    public async Task WhileADoorControllerIsOffline_HealthIsDegraded_AndTheChecksNameHowManyControllersAndDoors_ThenOkAgain()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var anyone = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        using var auditor = Client(edge, OperatorRole.Auditor);
        var controller = await edge.ControllerAsync("ctl-dh1", ["door-dh1"]);
        await edge.RowAsync(r => r.Kind == AccessControl.EntryLog.LogKinds.Device && r.DoorId == "door-dh1" && r.Reason == "online");

        await controller.DropConnectionAsync();
        await edge.AlarmRowAsync(AccessControl.Protocol.AlarmTypes.DoorControllerOffline);
        await edge.TickAsync();   // the health read after the alarm's batch
        var during = await StatusAsync(anyone, "/api/v1/health");
        var (code, body) = await StatusAsync(auditor, "/api/v1/health/checks");
        await controller.RestoreConnectionAsync().WaitAsync(EdgeHarness.Timeout);
        await edge.AlarmRowAsync(AccessControl.Protocol.AlarmTypes.DoorControllerOnline);
        await edge.TickAsync();
        var after = await StatusAsync(anyone, "/api/v1/health");

        Assert.Equal((HttpStatusCode.OK, """{"status":"degraded"}"""), during);
        Assert.Equal(HttpStatusCode.OK, code);
        using var json = JsonDocument.Parse(body);
        var controllers = json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "door-controllers");
        Assert.Equal("degraded", controllers.GetProperty("status").GetString());
        Assert.StartsWith("1 of 3 door controllers offline, 1 of ", controllers.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, """{"status":"ok"}"""), after);
    }

    private static HttpClient Client(EdgeHarness edge, OperatorRole role)
    {
        TestPeople.Add(edge.Edge.Database, "p-op");
        var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        var token = new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("op-" + role.ToString().ToLowerInvariant(), role, "test", "p-op");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static string? OutageJournalCheck(string checks)
    {
        using var json = JsonDocument.Parse(checks);
        return json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "outage-journal").GetProperty("status").GetString();
    }

    private static async Task<(HttpStatusCode Code, string Body)> StatusAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}

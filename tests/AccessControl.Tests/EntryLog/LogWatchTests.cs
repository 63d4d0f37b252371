using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Threading.Channels;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.Protocol;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using Microsoft.Data.Sqlite;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// The running service verifies its own entry log (<see cref="LogWatch"/>): a row changed or deleted underneath it, or
/// an append-only trigger dropped, by someone with the file, is found at its next verification, raised once as a
/// <c>log_integrity</c> alarm (logged and published) and shown by the health check, without an auditor asking.
/// The real service over a data folder, the embedded broker, a monitor on the alarms topic; the tampering through a
/// connection of its own, as in <see cref="LogVerifyCommandTests"/>.
/// </summary>
public sealed class LogWatchTests
{
    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    [Trait("control", "NIST-SI-4")]
    public async Task ADenyMadeAGrantUnderTheRunningService_IsFoundByItsNextVerification_RaisedOnce_LoggedPublished_AndHealthFailing()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        using var auditor = Client(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.False((await reader.PresentCardAsync(Suspended, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var deny = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.Decision == "deny");
        Signed(edge);

        // Someone with the file turns the deny into a grant, and puts the trigger back as the migrations made it.
        using (new DenyMadeAGrant(edge, deny))
        {
            await edge.Edge.VerifyLogOnceAsync().WaitAsync(EdgeHarness.Timeout);
            var published = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
            var checks = await ChecksAsync(auditor);

            // The same finding at the next verification: no second alarm (a reader's tamper marks the end of what was published).
            await edge.Edge.VerifyLogOnceAsync().WaitAsync(EdgeHarness.Timeout);
            await reader.TamperAsync("marker").WaitAsync(EdgeHarness.Timeout);
            var after = await AlarmsUntilTamperAsync(alarms);
            var rows = edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.LogIntegrity });

            Assert.Equal(AlarmTypes.LogIntegrity, published.Type);
            Assert.StartsWith($"entry log verification failed: content_changed at seq {deny.Seq} (row {deny.Seq}'s content does not match its hash); 0 checkpoint problems, 0 trigger problems",
                published.Detail, StringComparison.Ordinal);
            Assert.EndsWith("; run accesscontrol log verify", published.Detail, StringComparison.Ordinal);
            Assert.DoesNotContain(after, a => a.Type == AlarmTypes.LogIntegrity);
            var row = Assert.Single(rows);
            Assert.Equal(published.Detail, Detail(row));
            Assert.Contains(published.AlarmId, row.Detail, StringComparison.Ordinal);
            Assert.Equal("failing", checks.Status);
            Assert.Equal("failing", checks.LogIntegrity.Status);
            Assert.StartsWith("the entry log failed verification at ", checks.LogIntegrity.Detail, StringComparison.Ordinal);
            Assert.Contains($"content_changed at seq {deny.Seq}", checks.LogIntegrity.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-SI-4")]
    public async Task AnIntactLog_RaisesNoAlarm_AndHealthSaysHowManyRowsWereVerified()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var auditor = Client(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Signed(edge);
        var before = await ChecksAsync(auditor);

        await edge.Edge.VerifyLogOnceAsync().WaitAsync(EdgeHarness.Timeout);
        var head = edge.Edge.Writer.HeadSeq;
        var checks = await ChecksAsync(auditor);

        Assert.Equal(("ok", "not verified yet since the start"), (before.LogIntegrity.Status, before.LogIntegrity.Detail));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.LogIntegrity }));
        Assert.Equal(("ok", "ok"), (checks.Status, checks.LogIntegrity.Status));
        Assert.Equal($"verified {head} rows up to seq {head} at {WireFormat.FormatInstant(edge.Clock.GetCurrentInstant())}", checks.LogIntegrity.Detail);
    }

    public static TheoryData<string> Alterations { get; } = new() { "row deleted", "trigger dropped" };

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    [MemberData(nameof(Alterations))]
    public async Task ADeletedRowOrADroppedTrigger_IsFoundByTheNextVerification_AndRaised(string alteration)
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var grant = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.Decision == "grant");
        Assert.False((await reader.PresentCardAsync(Suspended, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        await edge.RowAsync(r => r.Kind == LogKinds.Access && r.Decision == "deny");
        Signed(edge);

        using var connection = Tamper(edge);
        TestLog.Execute(connection, alteration == "row deleted"
            ? $"CREATE TEMP TABLE taken AS SELECT * FROM entry_log WHERE seq = {grant.Seq}; DROP TRIGGER entry_log_no_delete; DELETE FROM entry_log WHERE seq = {grant.Seq}"
            : "DROP TRIGGER entry_log_no_delete");
        try
        {
            if (alteration == "row deleted")
            {
                TestLog.RestoreTriggers(connection);
            }

            await edge.Edge.VerifyLogOnceAsync().WaitAsync(EdgeHarness.Timeout);
            var alarm = await edge.AlarmRowAsync(AlarmTypes.LogIntegrity);

            Assert.StartsWith(alteration == "row deleted"
                ? $"entry log verification failed: row_missing at seq {grant.Seq + 1} "
                : "entry log verification failed: trigger_missing (trigger entry_log_no_delete is missing", Detail(alarm), StringComparison.Ordinal);
        }
        finally
        {
            // Put back (the row as it was, the trigger as the migrations made it), so that the harness finds the log whole.
            if (alteration == "row deleted")
            {
                TestLog.Execute(connection, "INSERT INTO entry_log SELECT * FROM taken");
            }

            TestLog.RestoreTriggers(connection);
        }
    }

    /// <summary>
    /// An auditor's <c>GET /log/verify</c> walks the whole log (minutes on a large one). It runs on the verification's
    /// own lowest-priority thread, not on a request's beside the swipes, and auditors (or a script) asking at once share
    /// the walk under way instead of each starting one on a two-core box.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-SC-5")]
    public async Task AuditorsAskingAtOnce_ShareOneWalkOfTheLog_OnTheLowPriorityThread()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var auditor = Client(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Signed(edge);
        var watch = edge.Edge.LogWatch;
        var walking = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var joined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        watch.BeforeWalk = () =>
        {
            walking.TrySetResult(Thread.CurrentThread.Name);
            release.Wait(EdgeHarness.Timeout);
        };
        watch.OnJoin = () => joined.TrySetResult();
        var walksBefore = watch.Walks;

        var first = auditor.GetAsync("/api/v1/log/verify");
        var thread = await walking.Task.WaitAsync(EdgeHarness.Timeout);
        var second = auditor.GetAsync("/api/v1/log/verify");
        await joined.Task.WaitAsync(EdgeHarness.Timeout);
        release.Set();
        using var one = await first.WaitAsync(EdgeHarness.Timeout);
        using var other = await second.WaitAsync(EdgeHarness.Timeout);

        Assert.Equal("ac-log-verify", thread);
        Assert.Equal(1, watch.Walks - walksBefore);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (one.StatusCode, other.StatusCode));
        var body = await one.Content.ReadAsStringAsync();
        Assert.Equal(body, await other.Content.ReadAsStringAsync());
        using var json = JsonDocument.Parse(body);
        Assert.True(json.RootElement.GetProperty("ok").GetBoolean(), body);
    }

    /// <summary>
    /// What an auditor's verification finds is raised like the service's own: an altered log found on request is a
    /// <c>log_integrity</c> alarm on the security console and a failing health check, not only an answer to one client.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "NIST-SI-4")]
    public async Task AnAuditorsVerificationOfAnAlteredLog_IsRaisedAsAnAlarm_AndShownByTheHealthCheck()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        using var auditor = Client(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.False((await reader.PresentCardAsync(Suspended, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var deny = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.Decision == "deny");
        Signed(edge);
        using (new DenyMadeAGrant(edge, deny))
        {
            using var answer = await auditor.GetAsync("/api/v1/log/verify");
            var published = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
            var checks = await ChecksAsync(auditor);

            using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
            Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal(deny.Seq, json.RootElement.GetProperty("firstBroken").GetProperty("seq").GetInt64());
            Assert.Equal(AlarmTypes.LogIntegrity, published.Type);
            Assert.StartsWith($"entry log verification failed: content_changed at seq {deny.Seq} ", published.Detail, StringComparison.Ordinal);
            Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.LogIntegrity }));
            Assert.Equal(("failing", "failing"), (checks.Status, checks.LogIntegrity.Status));
        }
    }

    /// <summary>A verification that cannot run (the checkpoints' public key file is not a key) answers a problem saying so, and the service goes on.</summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task AVerificationThatCannotRun_IsAProblemNamingWhatStoppedIt_AndTheHealthCheckSaysSo()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var auditor = Client(edge);
        var publicKey = Path.Combine(edge.Edge.DataDirectory, LogSigningKey.PublicKeyFileName);
        var key = File.ReadAllText(publicKey);
        File.WriteAllText(publicKey, "not a key");
        HttpResponseMessage answer;
        (string Status, Check LogIntegrity) checks;
        try
        {
            answer = await auditor.GetAsync("/api/v1/log/verify");
            checks = await ChecksAsync(auditor);
        }
        finally
        {
            File.WriteAllText(publicKey, key); // the harness verifies the log at its end
        }

        var reader = await edge.ReaderAsync("rdr-lobby-in");

        using var _ = answer;
        Assert.Equal(HttpStatusCode.InternalServerError, answer.StatusCode);
        using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal("The entry log could not be verified", json.RootElement.GetProperty("title").GetString());
        Assert.StartsWith("The verification stopped on ArgumentException;", json.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.NotEqual("ok", checks.LogIntegrity.Status);
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
    }

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [InlineData("-00:00:01", false)]
    [InlineData("00:00:30", false)]
    [InlineData("00:00:59", false)]
    [InlineData("00:00:00", true)]
    [InlineData("00:01:00", true)]
    [InlineData("7.00:00:00", true)]
    public void VerifyInterval_IsZeroOrAtLeastAMinute(string setting, bool valid)
    {
        using var folder = new DataFolder();
        var settings = ServiceSettings.Load(TestLog.SettingsFileIn(folder.Path, $$"""{"VerifyInterval":"{{setting}}"}"""));

        var errors = settings.Validate();

        Assert.Equal(TimeSpan.Parse(setting, System.Globalization.CultureInfo.InvariantCulture), settings.LogIntegrity.VerifyInterval);
        if (valid)
        {
            Assert.DoesNotContain(errors, e => e.Contains("VerifyInterval", StringComparison.Ordinal));
        }
        else
        {
            Assert.Contains("AccessControl:LogIntegrity:VerifyInterval must be 0 (off) or at least 00:01:00: a verification reads the whole entry log.", errors);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void VerifyInterval_IsADayByDefault_AndTheFirstVerificationWaitsForTheFirstCheckpoint()
    {
        Assert.Equal(TimeSpan.FromDays(1), new LogIntegrityOptions().VerifyInterval);
        Assert.Empty(new LogIntegrityOptions().Validate());
        Assert.Equal(TimeSpan.FromMinutes(5), LogWatch.FirstAfter(new LogIntegrityOptions()));
        Assert.Equal(TimeSpan.FromMinutes(20), LogWatch.FirstAfter(new LogIntegrityOptions { CheckpointInterval = TimeSpan.FromMinutes(10) }));
    }

    /// <summary>
    /// The head signed, as the service's periodic job does within a checkpoint interval of a new row (the fake clock
    /// stands still): else the young log's first finding would be that no checkpoint vouches for its rows.
    /// </summary>
    private static void Signed(EdgeHarness edge) => edge.Edge.Writer.Checkpoint();

    /// <summary>A connection as someone with the file has it, beside the running service (not pooled).</summary>
    private static SqliteConnection Tamper(EdgeHarness edge)
    {
        var connection = new SqliteConnection($"Data Source={edge.Edge.Database.Path};Pooling=False");
        connection.Open();
        return connection;
    }

    /// <summary>
    /// Someone with the file turns a deny into a grant, and puts the trigger back as the migrations made it; put back as
    /// it was when disposed, so that the harness finds the log whole at its end.
    /// </summary>
    private sealed class DenyMadeAGrant : IDisposable
    {
        private readonly SqliteConnection connection;
        private readonly LogEntry deny;

        public DenyMadeAGrant(EdgeHarness edge, LogEntry deny)
        {
            this.deny = deny;
            connection = Tamper(edge);
            TestLog.Execute(connection, $"DROP TRIGGER entry_log_no_update; UPDATE entry_log SET decision = 'grant', reason = 'granted' WHERE seq = {deny.Seq}");
            TestLog.RestoreTriggers(connection);
        }

        public void Dispose()
        {
            TestLog.Execute(connection, $"DROP TRIGGER entry_log_no_update; UPDATE entry_log SET decision = 'deny', reason = '{deny.Reason}' WHERE seq = {deny.Seq}");
            TestLog.RestoreTriggers(connection);
            connection.Dispose();
        }
    }

    /// <summary>The alarm's detail, as its log row keeps it.</summary>
    private static string? Detail(LogEntry alarm)
    {
        using var detail = JsonDocument.Parse(alarm.Detail!);
        return detail.RootElement.GetProperty("detail").GetString();
    }

    private static async Task<List<AlarmMessage>> AlarmsUntilTamperAsync(Channel<AlarmMessage> alarms)
    {
        var seen = new List<AlarmMessage>();
        while (seen.LastOrDefault()?.Type != AlarmTypes.Tamper)
        {
            seen.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        return seen;
    }

    private static HttpClient Client(EdgeHarness edge)
    {
        TestPeople.Add(edge.Edge.Database, "p-op");
        var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        var token = new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("op-auditor", OperatorRole.Auditor, "test", "p-op");
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private sealed record Check(string Status, string Detail);

    private static async Task<(string Status, Check LogIntegrity)> ChecksAsync(HttpClient auditor)
    {
        using var response = await auditor.GetAsync("/api/v1/health/checks");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var check = json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "log-integrity");
        return (json.RootElement.GetProperty("status").GetString()!, new Check(check.GetProperty("status").GetString()!, check.GetProperty("detail").GetString()!));
    }
}

using System.Net;
using System.Text.Json;
using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.Storage;
using AccessControl.Tests.Admin;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

public sealed class LogVerifyCommandTests
{
    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public async Task LogVerify_Cli_ExitsZeroWhenIntact_AndOneWithTheFirstBrokenRow()
    {
        using var log = TestLog.Create();
        log.Writer.Dispose();

        var (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.StartsWith("entry log OK: 36 rows (seq 1..36), 4 checkpoints matched", output, StringComparison.Ordinal);

        using (var connection = log.Tamper())
        {
            TestLog.Execute(connection, "DELETE FROM entry_log WHERE seq = 20");
        }

        (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path, "--checkpoints", log.CheckpointPath, "--public-key", log.PublicKeyPath);
        Assert.Equal(1, code);
        Assert.Contains("entry log BROKEN", output, StringComparison.Ordinal);
        Assert.Contains("first broken row: seq 21: row_missing: row 20 is missing", output, StringComparison.Ordinal);
        Assert.Contains("checkpoint seq 20: hash_mismatch", output, StringComparison.Ordinal);

        (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path, "--json");
        Assert.Equal(1, code);
        using var json = JsonDocument.Parse(output);
        Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(21, json.RootElement.GetProperty("firstBroken").GetProperty("seq").GetInt64());
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task LogVerify_Cli_NamesTheRowsAnOutageJournalStillHolds_AndCreatesNoJournalWhereThereIsNone()
    {
        using var log = TestLog.Create();
        log.Writer.Dispose();
        var journal = Path.Combine(log.Directory, global::AccessControl.Events.OutageJournal.FileName);

        var (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.DoesNotContain("outage journal", output, StringComparison.Ordinal);
        Assert.False(File.Exists(journal));

        using (var open = global::AccessControl.Events.OutageJournal.Open(journal, new byte[32], 64 * 1024))
        {
            var since = Instant.FromUtc(2026, 11, 28, 9, 0);
            LogEntry Denied(string eventId) => new() { At = since, Kind = LogKinds.Access, Source = "readers/rdr-lobby-in", EventId = eventId, Decision = "deny", Reason = "log_failure" };
            open.Append(new global::AccessControl.Events.OutageJournal.Header("0123456789abcdef0123456789abcdef", since, "SqliteException 13", LogHead: 36), [Denied("e1"), Denied("e2")]);
        }

        (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.Contains("outage journal: 2 rows of an entry-log outage since 2026-11-28T09:00:00Z are not in the log yet", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("log", "verify")]
    [InlineData("log", "verify", "--db", "x.db", "--nope", "1")]
    [InlineData("log", "purge", "--db", "x.db", "--actor", "ops")]
    [InlineData("log", "purge", "--db", "x.db", "--actor", "ops", "--before", "yesterday")]
    public async Task LogVerifyAndPurge_BadArguments_ExitTwo(params string[] args)
    {
        var (code, _, error) = await RunAsync(new NodaTime.Testing.FakeClock(TestLog.Start), args);
        Assert.Equal(2, code);
        Assert.Contains("usage: log ", error, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "PCI-10.3")]
    public async Task LogPurge_Cli_PurgesUpToTheLastCheckpoint_AndTheLogStillVerifies()
    {
        using var log = ClosedLog(Duration.FromDays(400));

        var (code, output, _) = await RunAsync(log.Clock, PurgeFirstMinute(log));
        Assert.Equal(0, code);
        Assert.Matches(@"^purged \d+ rows \(seq 1\.\.\d+\); recorded as row 37", output);

        (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.Contains("purged up to seq", output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "PCI-10.2")]
    public async Task LogPurge_Cli_RecordsTheOsAccountThatRanIt_BesideTheTypedActor_AndWithoutOneTheAccountIsTheActor()
    {
        using var log = ClosedLog(Duration.FromDays(400));

        // Anyone with shell access can type any name: a refused purge under someone else's name still says who ran it.
        var before = (log.Clock.GetCurrentInstant() - Duration.FromDays(1)).ToString();
        var (code, _, _) = await RunAsync(log.Clock, "log", "purge", "--db", log.Database.Path, "--config", log.SettingsFile(), "--before", before, "--actor", "ceo");
        Assert.Equal(1, code);
        (code, _, _) = await RunAsync(log.Clock, "log", "purge", "--db", log.Database.Path, "--config", log.SettingsFile(), "--before", "2025-03-03T09:01:00Z");
        Assert.Equal(0, code);

        var query = new EntryLogQuery(log.Database);
        var refused = Assert.Single(query.Find(new LogFilter { Reason = LogPurgeRefusal.Action }));
        var purged = Assert.Single(query.Find(new LogFilter { Kind = LogKinds.Integrity, Reason = LogKinds.PurgeReason }));
        Assert.Equal(("ceo", "cli:tester"), (refused.Actor, purged.Actor));
        foreach (var row in new[] { refused, purged })
        {
            using var detail = JsonDocument.Parse(row.Detail!);
            Assert.Equal(("tester", 1000L), (detail.RootElement.GetProperty("osUser").GetString(), detail.RootElement.GetProperty("osUid").GetInt64()));
        }

        (code, var output, _) = await RunAsync(log.Clock, "log", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.Contains("ceo (os: tester, uid 1000)", output, StringComparison.Ordinal);
        Assert.Contains("cli:tester (os: tester, uid 1000)", output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "PCI-10.2")]
    public async Task LogPurge_Cli_UnderSudo_RecordsTheLoginAccountBesideTheOsAccount_InTheRefusalAndThePurge()
    {
        using var log = ClosedLog(Duration.FromDays(400));
        var aliceThroughSudo = new OsAccount("accesscontrol", 998, LoginUid: 1000, LoginUser: "alice");

        var before = (log.Clock.GetCurrentInstant() - Duration.FromDays(1)).ToString();
        var (code, _, _) = await RunAsync(aliceThroughSudo, log.Clock, "log", "purge", "--db", log.Database.Path, "--config", log.SettingsFile(), "--before", before, "--actor", "ceo");
        Assert.Equal(1, code);
        (code, _, _) = await RunAsync(aliceThroughSudo, log.Clock, "log", "purge", "--db", log.Database.Path, "--config", log.SettingsFile(), "--before", "2025-03-03T09:01:00Z");
        Assert.Equal(0, code);

        var query = new EntryLogQuery(log.Database);
        var refused = Assert.Single(query.Find(new LogFilter { Reason = LogPurgeRefusal.Action }));
        var purged = Assert.Single(query.Find(new LogFilter { Kind = LogKinds.Integrity, Reason = LogKinds.PurgeReason }));
        foreach (var row in new[] { refused, purged })
        {
            using var detail = JsonDocument.Parse(row.Detail!);
            Assert.Equal((998L, 1000L, "alice"),
                (detail.RootElement.GetProperty("osUid").GetInt64(), detail.RootElement.GetProperty("loginUid").GetInt64(), detail.RootElement.GetProperty("loginUser").GetString()));
        }

        (code, var output, _) = await RunAsync(log.Clock, "log", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.Contains("ceo (os: accesscontrol, uid 998; login: alice, uid 1000)", output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    public async Task LogPurge_Cli_WithinTheMinimumRetention_ExitsOne_NamingIt_AndPurgesNothing()
    {
        using var log = ClosedLog(Duration.FromDays(30));

        var (code, _, error) = await RunAsync(log.Clock, PurgeFirstMinute(log));
        Assert.Equal(1, code);
        Assert.Contains("minimum retention of the entry log, 365 days: --before must be 2024-04-02T09:01:45Z or earlier. Nothing was purged", error, StringComparison.Ordinal);

        (code, var output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.StartsWith("entry log OK: 37 rows (seq 1..37)", output, StringComparison.Ordinal); // the refusal's row added, none deleted
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    public async Task LogPurge_Cli_TakesTheMinimumFromTheServiceConfiguration_AndRefusesAShorterOneWithoutAReason()
    {
        using var log = ClosedLog(Duration.FromDays(200));

        var (code, _, error) = await RunAsync(log.Clock, PurgeFirstMinute(log, """{"MinimumRetention":"180.00:00:00"}"""));
        Assert.Equal(1, code);
        Assert.Contains("needs a reason", error, StringComparison.Ordinal);

        (code, _, error) = await RunAsync(log.Clock, PurgeFirstMinute(log, """{"MinimumRetention":"730.00:00:00"}"""));
        Assert.Equal(1, code);
        Assert.Contains("730 days", error, StringComparison.Ordinal);

        var shorter = """{"MinimumRetention":"180.00:00:00","MinimumRetentionReason":"CHG-4711: the central SIEM keeps 12 months"}""";
        (code, var output, _) = await RunAsync(log.Clock, PurgeFirstMinute(log, shorter));
        Assert.Equal(0, code);
        Assert.Contains("minimum retention 180 days", output, StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "NIST-SI-10")]
    [InlineData("100000000.00:00:00", 2)]   // not a duration at all: the settings cannot be read
    [InlineData("10000000.00:00:00", 1)]    // a duration past the ceiling: refused (and recorded)
    public async Task LogPurge_Cli_WithAnAbsurdMinimumRetention_ExitsNonZero_NamingTheSettingAndItsRange_AndPurgesNothing(string minimum, int exit)
    {
        using var log = ClosedLog(Duration.FromDays(400));

        var (code, _, error) = await RunAsync(log.Clock, PurgeFirstMinute(log, $$"""{"MinimumRetention":"{{minimum}}"}"""));

        Assert.Equal(exit, code);
        Assert.Contains("AccessControl:LogIntegrity:MinimumRetention: ", error, StringComparison.Ordinal);
        Assert.Contains("allowed: 92 to 36525 days", error, StringComparison.Ordinal);
        Assert.Equal(0, log.Verify().PurgedUpTo);
    }

    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("9999-12-31T23:59:59-01:00")]   // past the last time there is
    [InlineData("9999-01-01T00:00:00Z")]
    [InlineData("-9998-01-01T00:00:00+01:00")]  // before the first
    [InlineData("0000-01-01T00:00:00Z")]
    public async Task LogPurge_Cli_WithABeforeFarInThePastOrFuture_IsAUsageError_NamingTheYearsAllowed(string before)
    {
        using var log = ClosedLog(Duration.FromDays(400));

        var (code, _, error) = await RunAsync(log.Clock, "log", "purge", "--db", log.Database.Path, "--config", log.SettingsFile(), "--before", before, "--actor", "ops");

        Assert.Equal(2, code);
        Assert.Contains($"--before: '{before}' is outside the years a purge can name (0001 to 9998)", error, StringComparison.Ordinal);
        var result = log.Verify();
        Assert.Equal((36L, 0L), (result.Rows, result.PurgedUpTo));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public async Task VerifyApi_ReportsTheFirstBrokenRow_ToAuditors()
    {
        await using var host = await AdminHost.StartAsync();
        for (var i = 0; i < 5; i++)
        {
            await host.AppendAsync(new LogEntry { At = host.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Actor = "alice", Reason = "person.upsert", PersonId = "p-" + i });
        }

        // The host's writer signs nothing; sign its head as the service's periodic job would.
        var dataFolder = Path.GetDirectoryName(host.DatabasePath)!;
        using (var signer = new EntryLogWriter(new Database(host.DatabasePath), new LogCheckpointing(LogSigningKey.LoadOrCreate(dataFolder), CheckpointFile.PathIn(dataFolder), host.Clock, TestLog.Options)))
        {
            signer.Checkpoint();
            signer.FileCheckpoints();
        }

        using (var ok = await host.SendAsync(HttpMethod.Get, "/log/verify", token: host.AuditorToken))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            using var body = JsonDocument.Parse(await ok.Content.ReadAsStringAsync());
            Assert.True(body.RootElement.GetProperty("ok").GetBoolean(), body.RootElement.ToString());
            Assert.Equal(5, body.RootElement.GetProperty("rows").GetInt64());
        }

        using (var connection = new SqliteConnection($"Data Source={host.DatabasePath};Pooling=False"))
        {
            connection.Open();
            TestLog.Execute(connection, "DROP TRIGGER entry_log_no_update; UPDATE entry_log SET actor = 'mallory' WHERE seq = 3");
        }

        using var broken = await host.SendAsync(HttpMethod.Get, "/log/verify", token: host.AdminToken);
        Assert.Equal(HttpStatusCode.OK, broken.StatusCode);
        using var report = JsonDocument.Parse(await broken.Content.ReadAsStringAsync());
        Assert.False(report.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal(3, report.RootElement.GetProperty("firstBroken").GetProperty("seq").GetInt64());
        Assert.Equal(LogBreaks.ContentChanged, report.RootElement.GetProperty("firstBroken").GetProperty("problem").GetString());

        using var anonymous = await host.SendAsync(HttpMethod.Get, "/log/verify");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Theory]
    [InlineData("DELETE FROM log_index WHERE person_id = 'p-9'", "missing")]
    [InlineData("UPDATE log_index SET person_id = 'p-else' WHERE seq = 12", "different")]
    [InlineData("INSERT INTO log_index (seq, at, person_id, happened_at) VALUES (1000, 0, 'p-ghost', 0)", "extra")]
    [InlineData("DELETE FROM latest_grants WHERE person_id = 'p-12'", "grant")]
    [InlineData("DELETE FROM device_sources WHERE source = 'doors/ctl-1'", "device")]
    [Trait("control", "NIST-AU-9")]
    public async Task LogVerify_Cli_ComparesTheQueryIndexWithTheLog_AndExitsOneWhenItWasAltered(string tampering, string kind)
    {
        using var log = TestLog.Create();
        using var index = new LogIndex(log.Database);
        index.CatchUpFully();
        log.Writer.Dispose();

        var (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);
        Assert.Equal(0, code);
        Assert.Contains("log index OK: 36 rows up to seq 36 match the log", output, StringComparison.Ordinal);

        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={index.Path};Pooling=False"))
        {
            connection.Open();
            TestLog.Execute(connection, tampering);
        }

        (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);

        Assert.Equal(1, code);
        Assert.StartsWith("entry log OK: 36 rows", output, StringComparison.Ordinal); // the log itself is intact
        Assert.Contains("log index ALTERED: 1 rows missing, extra or different", output, StringComparison.Ordinal);
        Assert.Contains(kind switch
        {
            "missing" => "first at seq 10",
            "different" => "first at seq 12",
            "grant" => "first at seq 13",
            "device" => "first at seq 2",
            _ => "first at seq 1000",
        }, output, StringComparison.Ordinal);
    }

    /// <summary>A test log <paramref name="age"/> old, its writer closed (the service stopped).</summary>
    private static TestLog ClosedLog(Duration age)
    {
        var log = TestLog.Create();
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();
        log.Clock.Advance(age);
        return log;
    }

    /// <summary><c>log purge</c> of the rows of the log's first minute, under a settings file with this <c>LogIntegrity</c> section.</summary>
    private static string[] PurgeFirstMinute(TestLog log, string logIntegrity = "{}") =>
        ["log", "purge", "--db", log.Database.Path, "--config", log.SettingsFile(logIntegrity), "--before", "2025-03-03T09:01:00Z", "--actor", "ops"];

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-6")]
    public async Task LogTable_ActorWithANewlineEscapesAndABidiOverride_IsShownEscapedOnItsOwnRow_AndStoredExactly()
    {
        using var log = TestLog.Create();
        // What `log purge --actor` or a token's `--by` takes: a second table row, a colour, a cursor return, a reversal.
        const string Actor = "jdoe\n40  2025-03-03 09:05:00.000 +00:00  admin  -  -  -  -  -  -  person.upsert  ceo\u001b[8m\r\u202Etxt.exe";
        var written = log.Writer.Append([new LogEntry { At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Actor = Actor, Reason = "person.upsert" }]);
        log.Writer.Dispose();

        var (code, output, _) = await RunAsync(log.Clock, "log", "--db", log.Database.Path, "--after", "36");

        Assert.Equal(0, code);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length); // the header and the one row
        Assert.DoesNotContain(output, c => c is '\u001b' or '\r' or '\u202E');
        Assert.EndsWith(@"jdoe\n40  2025-03-03 09:05:00.000 +00:00  admin  -  -  -  -  -  -  person.upsert  ceo\x1B[8m\r\u202Etxt.exe", lines[1], StringComparison.Ordinal);
        Assert.Equal(Actor, new EntryLogQuery(log.Database).Find(new LogFilter { AfterSeq = written[0].Seq - 1, Limit = 1 })[0].Actor);
        Assert.True(log.Verify().Ok);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task LogVerify_TriggerNamedToEraseTheVerdict_IsReportedWithItsEscapesShown()
    {
        using var log = TestLog.Create();
        using (var connection = log.Tamper())
        {
            TestLog.RestoreTriggers(connection);
            // Cursor up, erase the line, and a verdict of its own in place of "entry log BROKEN".
            TestLog.Execute(connection, "CREATE TRIGGER \"x\u001b[1A\u001b[2K\rentry log OK: 36 rows (seq 1..36)\" AFTER INSERT ON entry_log BEGIN SELECT 1; END");
        }

        var (code, output, _) = await RunAsync(log.Clock, "log", "verify", "--db", log.Database.Path);

        Assert.Equal(1, code);
        Assert.StartsWith("entry log BROKEN", output, StringComparison.Ordinal);
        Assert.DoesNotContain(output, c => c is '\u001b' or '\r');
        Assert.Contains(@"protection: trigger_added: trigger x\x1B[1A\x1B[2K\rentry log OK: 36 rows (seq 1..36) on a log table", output, StringComparison.Ordinal);
    }

    private static Task<(int Code, string Output, string Error)> RunAsync(IClock clock, params string[] args) =>
        RunAsync(new OsAccount("tester", 1000), clock, args);

    private static async Task<(int Code, string Output, string Error)> RunAsync(OsAccount account, IClock clock, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await AdminCommands.RunAsync(args, clock, output, error, _ => null, account);
        return (code!.Value, output.ToString(), error.ToString());
    }
}

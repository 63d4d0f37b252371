using System.Text.Json;
using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// <c>log purge</c>, refused for whatever reason, deletes nothing and leaves a trace: one <c>security</c> row
/// <c>log.purge.refused</c> in the chain, naming who asked, the cut-off asked for, the minimum retention in force and why,
/// so that an auditor sees every attempt to cut the log short. When not even that row can be written it says so.
/// </summary>
public sealed class LogPurgeRefusalTests
{
    private const string FirstMinute = "2025-03-03T09:01:00Z";

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.2")]
    [InlineData("{}", 30, LogPurgeRefusal.WithinMinimumRetention, "P365D", null, "is within the minimum retention of the entry log, 365 days")]
    [InlineData("""{"MinimumRetention":"180.00:00:00"}""", 200, LogPurgeRefusal.MinimumWithoutReason, "P180D", null, "needs a reason")]
    [InlineData("""{"MinimumRetention":"91.00:00:00","MinimumRetentionReason":"CHG-4712"}""", 200, LogPurgeRefusal.MinimumBelowFloor, "P91D", "CHG-4712",
        "must be at least 92 days")]
    public async Task LogPurge_Refused_RecordsOneChainedRow_WithWhoAskedTheCutOffTheMinimumAndWhy_AndDeletesNothing(
        string logIntegrity, int ageDays, string code, string minimum, string? reason, string why)
    {
        using var log = TestLog.Create();
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();
        log.Clock.Advance(Duration.FromDays(ageDays));

        var (exit, error) = await PurgeAsync(log.Clock, log.Database.Path, log.SettingsFile(logIntegrity));

        Assert.Equal(1, exit);
        Assert.Contains(why, error, StringComparison.Ordinal);
        Assert.Contains("Nothing was purged", error, StringComparison.Ordinal);
        var row = AssertRefusalRecorded(log.Database, log.Clock.GetCurrentInstant(), code, minimum, reason);
        var result = log.Verify();
        Assert.True(result.Ok, $"{result.FirstBroken} {string.Join("; ", result.Notes)}");
        Assert.Equal((37L, 1L, row.Seq, 0L), (result.Rows, result.FirstSeq, result.HeadSeq, result.PurgedUpTo));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.2")]
    public async Task LogPurge_RefusedForWantOfACheckpoint_RecordsItsRow_AndDeletesNothing()
    {
        var directory = Directory.CreateTempSubdirectory("ac-log-").FullName;
        try
        {
            var database = new Database(Path.Combine(directory, "accesscontrol.db"));
            database.Migrate();
            var clock = new FakeClock(TestLog.Start);
            using (var writer = new EntryLogWriter(database))
            {
                writer.Append([new LogEntry { At = TestLog.Start, Kind = LogKinds.Admin, Actor = "alice", Reason = "person.upsert" }]);
            }

            SqliteConnection.ClearAllPools();
            clock.Advance(Duration.FromDays(400));

            var (exit, error) = await PurgeAsync(clock, database.Path, TestLog.SettingsFileIn(directory));

            Assert.Equal(1, exit);
            Assert.Contains("no signed checkpoint yet", error, StringComparison.Ordinal);
            AssertRefusalRecorded(database, clock.GetCurrentInstant(), LogPurgeRefusal.NoCheckpoint, "P365D", null);
            var result = new LogVerifier(database).Verify();
            TestLog.AssertChainWholeButUnsigned(result);
            Assert.Equal((2L, 1L, 0L), (result.Rows, result.FirstSeq, result.PurgedUpTo));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task LogPurge_RefusedWhenTheLogCannotBeWritten_SaysTheRefusalWasNotRecorded_ExitsOne_AndDeletesNothing()
    {
        using var log = TestLog.Create();
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();

        // The log cannot take a row (a full disk, a broken file) while someone asks for a purge.
        Execute(log.Database, "CREATE TRIGGER entry_log_unwritable BEFORE INSERT ON entry_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END");
        log.Clock.Advance(Duration.FromDays(30));

        var (exit, error) = await PurgeAsync(log.Clock, log.Database.Path, log.SettingsFile());

        Assert.Equal(1, exit);
        Assert.Contains("is within the minimum retention of the entry log, 365 days", error, StringComparison.Ordinal);
        Assert.Contains("the refusal could not be recorded in the entry log either: ", error, StringComparison.Ordinal);
        Assert.Contains("simulated write failure", error, StringComparison.Ordinal);
        Execute(log.Database, "DROP TRIGGER entry_log_unwritable");
        var result = log.Verify();
        Assert.True(result.Ok, $"{result.FirstBroken} {string.Join("; ", result.Notes)}");
        Assert.Equal((36L, 36L, 0L), (result.Rows, result.HeadSeq, result.PurgedUpTo));
        Assert.Empty(new EntryLogQuery(log.Database).Find(new LogFilter { Reason = LogPurgeRefusal.Action }));
    }

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [InlineData(999, "the entry log has no row 999")]
    [InlineData(5, "row 5 of the entry log is not the purge row of that range")]
    public async Task LogPurge_FindingNothingToPurge_WhereLogPurgesBoundNamesNoPurgeRow_IsRefused_PointingToVerify_AndChangesNothing(long purgeSeq, string found)
    {
        using var log = TestLog.Create();
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();

        // A bound inserted by someone with the file (the table takes inserts, as each purge step must), beyond the first
        // minute's rows: the purge finds nothing left to delete, and its row would need the hash of a purge that is not there.
        Execute(log.Database, $"INSERT INTO log_purge (up_to_seq, purge_seq, at, actor) VALUES (30, {purgeSeq}, 0, 'intruder')");
        log.Clock.Advance(Duration.FromDays(400));

        var (exit, error) = await PurgeAsync(log.Clock, log.Database.Path, log.SettingsFile());

        Assert.Equal(1, exit);
        Assert.Contains($"error: refused: log_purge says rows up to seq 30 were purged by the purge recorded in row {purgeSeq}, but {found}", error, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", error, StringComparison.Ordinal);
        Assert.Contains($"accesscontrol log verify --db {log.Database.Path}", error, StringComparison.Ordinal);
        Assert.Equal((36L, 36L, 1L), (Count(log.Database, "SELECT COUNT(*) FROM entry_log"), Count(log.Database, "SELECT MAX(seq) FROM entry_log"),
            Count(log.Database, "SELECT COUNT(*) FROM log_purge")));
    }

    private static long Count(Database database, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database.Path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static void Execute(Database database, string sql)
    {
        using var connection = new SqliteConnection($"Data Source={database.Path};Pooling=False");
        connection.Open();
        TestLog.Execute(connection, sql);
    }

    private static LogEntry AssertRefusalRecorded(Database database, Instant at, string code, string minimum, string? reason)
    {
        var row = Assert.Single(new EntryLogQuery(database).Find(new LogFilter { Reason = LogPurgeRefusal.Action }));
        Assert.Equal((LogKinds.Security, "ops", at), (row.Kind, row.Actor, row.At));
        var detail = JsonDocument.Parse(row.Detail!).RootElement;
        Assert.Equal(code, detail.GetProperty("code").GetString());
        Assert.Equal("2025-03-03T09:01:00.000Z", detail.GetProperty("before").GetString());
        Assert.Equal(minimum, detail.GetProperty("minimumRetention").GetString());
        Assert.Equal(reason, detail.GetProperty("retentionReason").GetString());
        Assert.StartsWith("refused: ", detail.GetProperty("message").GetString(), StringComparison.Ordinal);
        return row;
    }

    private static async Task<(int Exit, string Error)> PurgeAsync(IClock clock, string database, string settings)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await AdminCommands.RunAsync(["log", "purge", "--db", database, "--config", settings, "--before", FirstMinute, "--actor", "ops"],
            clock, output, error, _ => null, new AccessControl.EntryLog.OsAccount("tester", 1000));
        return (exit!.Value, error.ToString());
    }
}

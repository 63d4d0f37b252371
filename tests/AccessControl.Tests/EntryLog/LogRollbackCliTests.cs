using System.Security.Cryptography;
using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.Tests.EndToEnd;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// The CLI commands that append to the entry log themselves (<c>token create</c>, <c>token revoke</c>, <c>log purge</c>)
/// on a database older than its checkpoint file: like the service, they refuse and write nothing, so that their rows
/// do not take the seqs the file signed for other rows and bury the rollback the next start would report.
/// </summary>
public sealed class LogRollbackCliTests : IDisposable
{
    private const long Head = 12;

    // Two rows beyond the head: two CLI rows would reach it, and the next start would find nothing to refuse.
    private const long Signed = Head + 2;

    private static readonly OsAccount Tester = new("tester", 1000);

    private readonly TestLog log = TestLog.RolledBack(Head, Signed);

    public void Dispose() => log.Dispose();

    private static readonly string[] TokenCreate = ["token", "create", "--operator", "carol", "--role", "auditor", "--person", "p-carol"];

    private static readonly string[] TokenRevoke = ["token", "revoke", "--operator", "carol"];

    private static readonly string[] LogPurge = ["log", "purge", "--before", "2025-03-03T09:01:00Z", "--actor", "ops"];

    public static TheoryData<string[]> Appending { get; } = new() { TokenCreate, TokenRevoke, LogPurge };

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    [MemberData(nameof(Appending))]
    public async Task AppendingCommand_OnADatabaseOlderThanItsCheckpointFile_IsRefused_NamingBothSeqs_AndChangesNothing(string[] command)
    {
        var fileBefore = SHA256.HashData(await File.ReadAllBytesAsync(log.CheckpointPath));

        var (exit, error) = await RunAsync(command);

        Assert.True(exit == ExitCodes.Failed, error);
        Assert.Contains("the entry log is older than its checkpoint file", error, StringComparison.Ordinal);
        Assert.Contains($"the log ends at seq {Head} but the checkpoint file {log.CheckpointPath} signs rows up to seq {Signed}", error, StringComparison.Ordinal);
        Assert.Contains($"--accept-log-rollback {Signed}", error, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", error, StringComparison.Ordinal);
        Assert.Equal((Head, 0L), (Scalar("SELECT MAX(seq) FROM entry_log"), Scalar("SELECT COUNT(*) FROM operator_tokens")));
        Assert.Equal(fileBefore, SHA256.HashData(await File.ReadAllBytesAsync(log.CheckpointPath)));
    }

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    [MemberData(nameof(Appending))]
    public async Task AppendingCommand_WithAFileMovedAsideThatHoldsNoCheckpoint_IsRefusedInACommandsWords_NotAStarts_AndChangesNothing(string[] command)
    {
        // A start accepted the rollback, moved the file aside and stopped before its row; the file was emptied since.
        var aside = Path.Combine(Path.GetDirectoryName(log.CheckpointPath)!, $"{LogRollback.UnrecordedPrefix}{Head}-1741000000000.jsonl");
        File.Move(log.CheckpointPath, aside);
        await File.WriteAllTextAsync(aside, "");

        var (exit, error) = await RunAsync(command);

        Assert.True(exit == ExitCodes.Failed, error);
        Assert.StartsWith($"error: refused: the checkpoint file {aside} was moved aside by a start that accepted a rollback of the entry log to seq {Head}", error, StringComparison.Ordinal);
        Assert.Contains("and it holds no checkpoint now (it was changed since). Nothing was changed. Keep it with the incident record and move it out of the data folder "
            + "(docs/operations.md, section 8), then run this command again.", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Cannot start", error, StringComparison.Ordinal);
        Assert.Equal((Head, 0L), (Scalar("SELECT MAX(seq) FROM entry_log"), Scalar("SELECT COUNT(*) FROM operator_tokens")));
        Assert.Equal("", await File.ReadAllTextAsync(aside));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task TokenCommands_OnADatabaseOlderThanItsCheckpointFile_LeaveTheRollbackToTheNextStart_WhichRefusesIt()
    {
        await RunAsync(TokenCreate);
        await RunAsync(TokenRevoke);

        // Two rows at seqs 13 and 14 would have met the file's checkpoint at 14: a start would go on, and verify would
        // report the signed rows as hash_mismatch among the CLI's, not as the rollback they are.
        SqliteConnection.ClearAllPools();
        var refused = await Assert.ThrowsAsync<LogRollbackException>(() => EdgeHarness.StartAsync(directory: log.Directory));
        Assert.Contains($"the entry log ends at seq {Head} but the checkpoint file {log.CheckpointPath} signs rows up to seq {Signed}", refused.Message, StringComparison.Ordinal);
        var verified = log.Verify();
        Assert.Equal(LogBreaks.Truncated, verified.FirstBroken?.Problem);
        Assert.DoesNotContain(verified.CheckpointProblems, p => p.Problem == CheckpointProblems.HashMismatch);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task AppendingCommand_AfterTheServiceRecordedTheRollback_IsRecordedAfterIt_AndTheLogVerifies()
    {
        await (await EdgeHarness.StartAsync(directory: log.Directory,
            configure: s => s with { LogIntegrity = s.LogIntegrity with { AcceptRollback = Signed } })).DisposeAsync();
        SqliteConnection.ClearAllPools();

        var (exit, error) = await RunAsync(TokenRevoke);

        Assert.True(exit == ExitCodes.Ok, error);
        Assert.Equal("operator_token.revoke", Text("SELECT reason FROM entry_log ORDER BY seq DESC LIMIT 1"));
        Assert.Equal(1L, Scalar("SELECT COUNT(*) FROM entry_log WHERE reason = 'log_rollback_accepted'"));
        var verified = log.Verify();
        Assert.Null(verified.FirstBroken);
        Assert.DoesNotContain(verified.CheckpointProblems, p => p.Problem == CheckpointProblems.HashMismatch);
    }

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    [MemberData(nameof(Appending))]
    public async Task AppendingCommand_WithAFileMovedAside_WhenARollbackRowAfterItIsNotJson_IsRefusedNamingTheRow_AndChangesNothing(string[] command)
    {
        await (await EdgeHarness.StartAsync(directory: log.Directory,
            configure: s => s with { LogIntegrity = s.LogIntegrity with { AcceptRollback = Signed } })).DisposeAsync();
        SqliteConnection.ClearAllPools();
        var seq = Scalar("SELECT seq FROM entry_log WHERE reason = 'log_rollback_accepted'");
        var movedTo = Directory.GetFiles(Path.GetDirectoryName(log.CheckpointPath)!, LogRollback.RecordedPrefix + "*").Single();
        File.Move(movedTo, movedTo.Replace(".rolled-back-", ".unrecorded-rollback-", StringComparison.Ordinal));
        Execute($"DROP TRIGGER entry_log_no_update; UPDATE entry_log SET detail = NULL WHERE seq = {seq}");
        var head = Scalar("SELECT MAX(seq) FROM entry_log");

        var (exit, error) = await RunAsync(command);

        Assert.True(exit == ExitCodes.Failed, error);
        Assert.StartsWith($"error: refused: the entry log's row {seq} (integrity/log_rollback_accepted) has a detail that is not the JSON object the service writes", error, StringComparison.Ordinal);
        Assert.Contains($"Nothing was changed. Run `accesscontrol log verify --db ... --checkpoints {movedTo}`", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Cannot start", error, StringComparison.Ordinal);
        Assert.Equal((head, 0L), (Scalar("SELECT MAX(seq) FROM entry_log"), Scalar("SELECT COUNT(*) FROM operator_tokens")));
    }

    /// <summary>Runs the command as <c>accesscontrol</c> would, on the rolled-back database, a year after its rows.</summary>
    private async Task<(int Exit, string Error)> RunAsync(string[] command)
    {
        Execute("INSERT OR IGNORE INTO people (id, name, kind, status, updated_at, updated_by) VALUES ('p-carol', 'Carol', 'employee', 'active', 0, 'test')");
        var clock = new NodaTime.Testing.FakeClock(TestLog.Start + Duration.FromDays(400));
        using var output = new StringWriter();
        using var error = new StringWriter();
        string[] args = [.. command, "--db", log.Database.Path, .. command[0] == "log" ? new[] { "--config", log.SettingsFile() } : []];
        var exit = await AdminCommands.RunAsync(args, clock, output, error, _ => null, Tester);
        return (exit!.Value, error.ToString());
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False");
        connection.Open();
        TestLog.Execute(connection, sql);
    }

    private long Scalar(string sql) => (long)Query(sql)!;

    private string? Text(string sql) => (string?)Query(sql);

    private object? Query(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={log.Database.Path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }
}

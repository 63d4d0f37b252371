using System.Security.Cryptography;
using System.Text.Json;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using Microsoft.Data.Sqlite;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// A database older than the checkpoint file beside it (a backup restored with the newer file left in place, or an
/// older copy put there to hide rows): the service refuses to start, writing nothing, unless the operator accepts that
/// very rollback; then the log records it in an <c>integrity</c> row and the old file is moved aside, where it still
/// shows the lost rows as <c>truncated</c> (docs/operations.md section 8, docs/log-integrity.md).
/// </summary>
public sealed class LogRollbackAtStartTests : IDisposable
{
    private const long Head = 12;
    private const long Signed = Head + 300;
    private readonly TestLog log = TestLog.RolledBack(Head, Signed);

    public void Dispose() => log.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task Run_OnADatabaseOlderThanItsCheckpointFile_ExitsWithTwo_NamingHeadAndCheckpoint_AndWritesNothing()
    {
        var fileBefore = SHA256.HashData(await File.ReadAllBytesAsync(log.CheckpointPath));

        var (exit, output) = await ProgramRun.RunAsync("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "accesscontrol.dll"), "run", "--site", EdgeHarness.DemoSiteFile, "--data", log.Directory,
             "--broker-port", "0", "--http", "http://127.0.0.1:0"], TimeSpan.FromSeconds(60));

        Assert.True(exit == 2, output);
        Assert.Contains($"the entry log ends at seq {Head} but the checkpoint file {log.CheckpointPath} signs rows up to seq {Signed}", output, StringComparison.Ordinal);
        Assert.Contains("docs/operations.md, section 8", output, StringComparison.Ordinal);
        Assert.Contains($"--accept-log-rollback {Signed}", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        SqliteConnection.ClearAllPools();
        Assert.Equal((Head, Head), (Scalar("SELECT MAX(seq) FROM entry_log"), Scalar("SELECT MAX(seq) FROM log_checkpoints")));
        Assert.Equal(fileBefore, SHA256.HashData(await File.ReadAllBytesAsync(log.CheckpointPath)));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task Start_WithTheRollbackAccepted_RecordsItInTheLog_VerifiesOk_AndTheMovedFileStillShowsTheLostRowsAsTruncated()
    {
        string movedTo;
        await using (var edge = await EdgeHarness.StartAsync(directory: log.Directory, configure: AcceptSigned))
        {
            var (row, detail) = RollbackRow(edge);
            Assert.Equal(Head + 1, row.Seq);
            Assert.StartsWith("cli:", row.Actor, StringComparison.Ordinal);
            Assert.False(detail.GetProperty("movedByEarlierStart").GetBoolean());
            movedTo = detail.GetProperty("movedTo").GetString()!;
        }

        var now = new LogVerifier(log.Database).Verify();
        var moved = new LogVerifier(log.Database, movedTo, log.PublicKeyPath) { WaitForFiling = () => { } }.Verify();

        Assert.True(now.Ok, string.Join("; ", now.CheckpointProblems.Select(p => $"{p.Seq} {p.Problem} {p.Detail}")) + now.FirstBroken);
        Assert.Equal(LogBreaks.Truncated, moved.FirstBroken?.Problem);
        Assert.Contains($"a checkpoint covers up to seq {Signed}", moved.FirstBroken!.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(moved.CheckpointProblems, p => p.Problem == CheckpointProblems.HashMismatch);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task Start_WithTheRollbackAccepted_WhoseRowCannotBeWritten_IsRefusedAtTheNextStart_AndRecordedWhenAcceptedAgain()
    {
        var original = await File.ReadAllBytesAsync(log.CheckpointPath);

        // The database refuses that one row, as a full disk or a read-only file would, after the file went aside.
        Execute("CREATE TRIGGER rollback_row_fails BEFORE INSERT ON entry_log WHEN NEW.reason = 'log_rollback_accepted' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
        await Assert.ThrowsAnyAsync<SqliteException>(() => EdgeHarness.StartAsync(directory: log.Directory, configure: AcceptSigned));
        Execute("DROP TRIGGER rollback_row_fails");

        // The rollback is not in the log: the next start without the flag must not go past it.
        var refused = await Assert.ThrowsAsync<LogRollbackException>(() => EdgeHarness.StartAsync(directory: log.Directory));
        Assert.Contains($"signs rows up to seq {Signed}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("stopped before it recorded the rollback in the log", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"--accept-log-rollback {Signed}", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, Scalar("SELECT COUNT(*) FROM entry_log WHERE reason = 'log_rollback_accepted'"));

        // Accepted again: recorded once, saying an earlier start moved the file, which is whole under its final name.
        await using (var edge = await EdgeHarness.StartAsync(directory: log.Directory, configure: AcceptSigned))
        {
            var (_, detail) = RollbackRow(edge);
            Assert.True(detail.GetProperty("movedByEarlierStart").GetBoolean());
            var movedTo = detail.GetProperty("movedTo").GetString()!;
            Assert.StartsWith("entry-log.checkpoints.rolled-back-", Path.GetFileName(movedTo), StringComparison.Ordinal);
            Assert.Equal(original, await File.ReadAllBytesAsync(movedTo));
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(original)), detail.GetProperty("fileSha256").GetString());
        }

        Assert.True(new LogVerifier(log.Database).Verify().Ok);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(log.CheckpointPath)!, "*unrecorded*"));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task Start_AfterAStartThatRecordedTheRollbackButStoppedBeforeRenamingTheFile_RenamesIt_WithoutASecondRow()
    {
        string movedTo;
        await using (var edge = await EdgeHarness.StartAsync(directory: log.Directory, configure: AcceptSigned))
        {
            movedTo = RollbackRow(edge).Detail.GetProperty("movedTo").GetString()!;
        }

        // The state a start leaves when it stops between the row's commit and the file's last rename.
        var unrecorded = movedTo.Replace(".rolled-back-", ".unrecorded-rollback-", StringComparison.Ordinal);
        File.Move(movedTo, unrecorded);

        await using (var edge = await EdgeHarness.StartAsync(directory: log.Directory))
        {
            RollbackRow(edge);
        }

        Assert.True(File.Exists(movedTo));
        Assert.False(File.Exists(unrecorded));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task Start_WithAFileMovedAside_WhenARollbackRowAfterItIsNotJson_IsRefused_NamingTheRow_AndPointingToVerify()
    {
        long seq;
        string movedTo;
        await using (var edge = await EdgeHarness.StartAsync(directory: log.Directory, configure: AcceptSigned))
        {
            var (row, detail) = RollbackRow(edge);
            (seq, movedTo) = (row.Seq, detail.GetProperty("movedTo").GetString()!);
        }

        // A start that stopped before the rename, and a row since changed outside the service: whose rollback it records cannot be told.
        var unrecorded = movedTo.Replace(".rolled-back-", ".unrecorded-rollback-", StringComparison.Ordinal);
        File.Move(movedTo, unrecorded);
        Execute($"DROP TRIGGER entry_log_no_update; UPDATE entry_log SET detail = 'rollback accepted' WHERE seq = {seq}");
        var head = Scalar("SELECT MAX(seq) FROM entry_log");

        var refused = await Assert.ThrowsAsync<LogRollbackException>(() => EdgeHarness.StartAsync(directory: log.Directory));

        Assert.StartsWith($"Cannot start: the entry log's row {seq} (integrity/log_rollback_accepted) has a detail that is not the JSON object the service writes", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"Nothing was written. Run `accesscontrol log verify --db ... --checkpoints {movedTo}`", refused.Message, StringComparison.Ordinal);
        Assert.Equal(head, Scalar("SELECT MAX(seq) FROM entry_log"));
        Assert.True(File.Exists(unrecorded));
    }

    /// <summary>The one <c>log_rollback_accepted</c> row, which names the head and the checkpoint beyond it.</summary>
    private static (LogEntry Row, JsonElement Detail) RollbackRow(EdgeHarness edge)
    {
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Integrity }), r => r.Reason == LogKinds.RollbackAcceptedReason);
        using var document = JsonDocument.Parse(row.Detail!);
        var detail = document.RootElement.Clone();
        Assert.Equal((Head, Signed), (detail.GetProperty("head").GetInt64(), detail.GetProperty("checkpointSeq").GetInt64()));
        return (row, detail);
    }

    private static ServiceSettings AcceptSigned(ServiceSettings settings) => settings with { LogIntegrity = settings.LogIntegrity with { AcceptRollback = Signed } };

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False");
        connection.Open();
        TestLog.Execute(connection, sql);
    }

    private long Scalar(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={log.Database.Path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}

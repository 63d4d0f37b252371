using System.Security.Cryptography;
using System.Text.Json;
using AccessControl.EntryLog;
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
    private readonly TestLog log = TestLog.Create(rows: 0);

    public LogRollbackAtStartTests()
    {
        // Rows of a reason the service writes too (the harness checks every reason it finds), signed at seq 12.
        AppendDoorEvents(1, Head);

        // The backup at seq 12, then 300 rows more, signed; then the backup put back in the database's place.
        var backup = Path.Combine(log.Directory, "backup.db");
        using (var source = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False"))
        using (var target = new SqliteConnection($"Data Source={backup};Pooling=False"))
        {
            source.Open();
            target.Open();
            source.BackupDatabase(target);
        }

        AppendDoorEvents(Head + 1, Signed);
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { "", "-wal", "-shm" }.Select(s => log.Database.Path + s).Where(File.Exists))
        {
            File.Delete(file);
        }

        File.Move(backup, log.Database.Path);
    }

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
        await using (var edge = await EdgeHarness.StartAsync(directory: log.Directory,
            configure: s => s with { LogIntegrity = s.LogIntegrity with { AcceptRollback = Signed } }))
        {
            var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Integrity }), r => r.Reason == LogKinds.RollbackAcceptedReason);
            Assert.Equal(Head + 1, row.Seq);
            using var detail = JsonDocument.Parse(row.Detail!);
            Assert.Equal((Head, Signed), (detail.RootElement.GetProperty("head").GetInt64(), detail.RootElement.GetProperty("checkpointSeq").GetInt64()));
            Assert.StartsWith("cli:", row.Actor, StringComparison.Ordinal);
            movedTo = detail.RootElement.GetProperty("movedTo").GetString()!;
        }

        var now = new LogVerifier(log.Database).Verify();
        var moved = new LogVerifier(log.Database, movedTo, log.PublicKeyPath) { WaitForFiling = () => { } }.Verify();

        Assert.True(now.Ok, string.Join("; ", now.CheckpointProblems.Select(p => $"{p.Seq} {p.Problem} {p.Detail}")) + now.FirstBroken);
        Assert.Equal(LogBreaks.Truncated, moved.FirstBroken?.Problem);
        Assert.Contains($"a checkpoint covers up to seq {Signed}", moved.FirstBroken!.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(moved.CheckpointProblems, p => p.Problem == CheckpointProblems.HashMismatch);
    }

    private void AppendDoorEvents(long from, long to)
    {
        log.Writer.Append([.. Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => new LogEntry
        {
            At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Door, SiteId = "dc1", DoorId = "door-hall-a", Source = "doors/ctl-1", EventId = "door-" + i, Reason = "opened",
        })]);
        log.Writer.Checkpoint();
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

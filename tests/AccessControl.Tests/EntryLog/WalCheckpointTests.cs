using AccessControl.Storage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// The WAL must not grow for ever while swipes never stop: SQLite starts it over only after a checkpoint that copied
/// every frame, which a PASSIVE checkpoint racing a busy writer never does.
/// </summary>
public class WalCheckpointTests
{
    [Fact]
    [Trait("control", "NIST-AU-4")]
    public async Task CheckpointsRacingAWriterThatNeverPauses_KeepTheWalBounded_AndTheChainVerifies()
    {
        using var log = TestLog.Create(rows: 1);
        const int Commits = 6000;
        var due = System.Threading.Channels.Channel.CreateUnbounded<SemaphoreSlim>();
        var writing = Task.Run(async () =>
        {
            for (var i = 1; i <= Commits; i++)
            {
                log.AppendRows(1);
                if (i % 200 == 0)
                {
                    // The service's periodic checkpoint: once it has begun, the writer goes on at once, as swipes do.
                    using var begun = new SemaphoreSlim(0);
                    due.Writer.TryWrite(begun);
                    await begun.WaitAsync();
                }
            }

            due.Writer.Complete();
        });

        var rounds = 0;
        await foreach (var begun in due.Reader.ReadAllAsync())
        {
            var round = Task.Run(() => WalCheckpoints.Run(log.Database, restartFrames: 1000));
            begun.Release();
            await round;
            rounds++;
        }

        await writing;
        var wal = new FileInfo(log.Database.Path + "-wal").Length;

        // Each commit adds several 4 KiB frames: a WAL that never started over would hold them all (well over 100 MB).
        Assert.Equal(Commits / 200, rounds);
        Assert.True(wal < Commits * 4096L, $"WAL is {wal:N0} bytes after {Commits} commits and {rounds} checkpoint rounds");
        Assert.True(log.Verify().Ok);
    }

    [Fact]
    [Trait("control", "NIST-AU-4")]
    public async Task ACheckpointThatMeetsALongReader_DoesNotKeepTheSwipesCommitsWaiting()
    {
        // An auditor's long read (log verify over the API, a large query) holds a snapshot while swipes go on committing.
        using var log = TestLog.Create(rows: 1);
        using var auditor = log.Database.OpenReadOnly();
        using var reading = auditor.BeginTransaction(deferred: true);
        Assert.True(auditor.ExecuteScalar<long>("SELECT COUNT(*) FROM entry_log", transaction: reading) > 0);
        log.AppendRows(20); // frames the auditor's snapshot may still need: no checkpoint can copy them yet

        // The round's RESTART takes the writer's lock and waits for the auditor. Seen from a writer that does not wait:
        using var probe = new SqliteConnection(log.Database.ConnectionString);
        probe.Open();
        probe.Execute("PRAGMA busy_timeout=0");
        var round = Task.Run(() => WalCheckpoints.Run(log.Database, restartFrames: 0));
        while (!round.IsCompleted && !WriteLockHeld(probe))
        {
            await Task.Yield();
        }

        // A swipe's commit now, a writer that gives up after 3 of the service's 5 s: it was refused (SQLITE_BUSY,
        // i.e. log_failure and a deny) while the RESTART waited the connection's 5 s for the auditor; it gets in now,
        // the auditor still reading.
        using var swipe = log.Database.Open();
        swipe.Execute("PRAGMA busy_timeout=3000");
        swipe.Execute("BEGIN IMMEDIATE; ROLLBACK;", commandTimeout: 1); // (the driver retries a busy command for its timeout)
        var framesWhileReading = await round.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(auditor.ExecuteScalar<long>("SELECT COUNT(*) FROM entry_log", transaction: reading) > 0);

        // Once the auditor is done, the next round starts the WAL over: the commit after it writes from its start.
        reading.Commit();
        WalCheckpoints.Run(log.Database, restartFrames: 0);
        log.AppendRows(1);
        var framesAfter = WalCheckpoints.Run(log.Database, restartFrames: int.MaxValue);
        Assert.InRange(framesAfter, 1, framesWhileReading - 1);
        Assert.True(log.Verify().Ok);

        static bool WriteLockHeld(SqliteConnection probe)
        {
            // Straight to SQLite: the driver would retry a busy command for a second.
            if (SQLitePCL.raw.sqlite3_exec(probe.Handle, "BEGIN IMMEDIATE") == SQLitePCL.raw.SQLITE_BUSY)
            {
                return true;
            }

            probe.Execute("ROLLBACK");
            return false;
        }
    }
}

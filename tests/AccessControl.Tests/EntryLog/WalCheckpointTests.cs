using AccessControl.Storage;

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
}

using Microsoft.Data.Sqlite;
using Xunit;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// The fail-closed tests switch a write failure on while the service's pipeline appends on its own thread (heartbeats,
/// status). The switch must hold: a failure switched on inside a batch in flight once failed that batch and was rolled
/// back with it, and the next swipe was granted (a flaky end-to-end test in CI).
/// </summary>
public sealed class WriteFailureHookTests : IDisposable
{
    private readonly TestLog log = TestLog.Create(rows: 0);

    public void Dispose() => log.Dispose();

    [Fact]
    public async Task SimulatedWriteFailure_SwitchedOnWhileAnotherThreadAppends_FailsTheNextAppend()
    {
        var appends = 0;
        using var stop = new CancellationTokenSource();
        var background = Task.Run(() =>
        {
            for (var i = 1_000_000; !stop.IsCancellationRequested; i += 6)
            {
                try
                {
                    log.Writer.Append([log.Entry(i + 1)]);
                }
                catch (SqliteException)
                {
                    // the failure is on: the background batch fails, as a heartbeat's would
                }

                Interlocked.Increment(ref appends);
            }
        });

        var leaked = new List<int>();
        for (var round = 0; round < 50; round++)
        {
            // Switch while the other thread is between or inside its appends, not before it has started.
            var seen = Volatile.Read(ref appends);
            SpinWait.SpinUntil(() => Volatile.Read(ref appends) > seen);
            log.Writer.SimulateWriteFailure(true);
            try
            {
                log.Writer.Append([log.Entry(round * 6 + 1)]);
                leaked.Add(round);
            }
            catch (SqliteException)
            {
            }
            finally
            {
                log.Writer.SimulateWriteFailure(false);
            }
        }

        await stop.CancelAsync();
        await background;
        Assert.Empty(leaked);
    }
}

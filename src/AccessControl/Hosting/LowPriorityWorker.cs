using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace AccessControl.Hosting;

/// <summary>
/// One thread at the lowest CPU priority (nice 19 on Linux) for background work that must not take a core from the
/// swipes on a two-core edge box: the entry log's maintenance, whose index round on a large log is 100-150 ms of CPU a
/// second at 1000 events/s (docs/benchmarks.md). The scheduler gives it what the decision path leaves. Work is queued
/// and awaited; an exception is the awaiter's.
/// </summary>
internal sealed class LowPriorityWorker : IDisposable
{
    private const int Lowest = 19;
    private readonly BlockingCollection<(Action Work, TaskCompletionSource Done)> queue = [];
    private readonly Thread thread;

    public LowPriorityWorker(string name)
    {
        thread = new Thread(Run) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Whether the thread runs at the lowest priority (false where the system would not lower it).</summary>
    public bool Lowered { get; private set; }

    public Task RunAsync(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        queue.Add((work, done));
        return done.Task;
    }

    public void Dispose()
    {
        queue.CompleteAdding();
        thread.Join();
        queue.Dispose();
    }

    /// <summary>
    /// Takes no more work and waits for the work in hand at most <paramref name="wait"/>: work that can take minutes (a
    /// verification of the whole log) must not hold a stop that long. Work still running then (and what was queued behind
    /// it) is left to end on its own, with the process at the latest: the thread is a background thread.
    /// </summary>
    public void Dispose(TimeSpan wait)
    {
        queue.CompleteAdding();
        if (thread.Join(wait))
        {
            queue.Dispose();
        }
    }

    private void Run()
    {
        Lowered = LowerThisThread();
        foreach (var (work, done) in queue.GetConsumingEnumerable())
        {
            try
            {
                work();
                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        }
    }

    /// <summary>setpriority(2) on the calling thread (on Linux a thread has its own nice value); lowering needs no privilege.</summary>
    private static bool LowerThisThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return SetPriority(0 /* PRIO_PROCESS: with a thread id, that thread */, GetThreadId(), Lowest) == 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    // DllImport, not LibraryImport: two int-only calls need no marshalling code, and the project allows no unsafe code.
    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}

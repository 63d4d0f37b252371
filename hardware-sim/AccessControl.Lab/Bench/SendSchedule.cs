using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AccessControl.Lab.Bench;

/// <summary>How the bench spaces the events it sends at a given rate.</summary>
public enum Arrivals
{
    /// <summary>One event every 1/rate seconds, each sent at its instant (a constant-rate open loop, as wrk2 and vegeta pace).</summary>
    Paced,

    /// <summary>Independent readers: exponential gaps of mean 1/rate (a Poisson process), from a fixed seed so runs compare.</summary>
    Poisson,

    /// <summary>
    /// The first sixteen sessions' generator: wake on <c>Task.Delay(1)</c> and send whatever is due. The runtime's timer
    /// wakes every 1-2 ms, so at 1000 ev/s events leave in clumps of 1-3 at the same instant.
    /// </summary>
    Ticks,
}

/// <summary>
/// Sends events at the instants an <see cref="Arrivals"/> plan gives, from a thread of its own that sleeps until each
/// instant on the monotonic clock (<c>clock_nanosleep</c> with an absolute deadline: no drift, no spinning, so the two
/// cores stay with the broker and the service).
/// </summary>
public static class SendSchedule
{
    /// <summary>Due times of <paramref name="total"/> events at <paramref name="rate"/> per second, in Stopwatch ticks from the start.</summary>
    public static long[] Plan(Arrivals arrivals, int rate, int total, int seed = 20261129)
    {
        var due = new long[total];
        var random = new Random(seed);
        double at = 0;
        for (var i = 0; i < total; i++)
        {
            due[i] = (long)(at * Stopwatch.Frequency);
            at += arrivals == Arrivals.Poisson ? -Math.Log(1 - random.NextDouble()) / rate : 1.0 / rate;
        }

        return due;
    }

    /// <summary>Calls <paramref name="send"/> for each event at its due time; completes when the last was sent.</summary>
    public static Task RunAsync(long[] due, Action<int> send, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < due.Length && !cancellationToken.IsCancellationRequested; i++)
                {
                    SleepUntil(start + due[i]);
                    send(i);
                }

                done.TrySetResult();
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        })
        { IsBackground = true, Name = "bench-sender" };
        thread.Start();
        return done.Task;
    }

    private static void SleepUntil(long timestamp)
    {
        var remaining = timestamp - Stopwatch.GetTimestamp();
        if (remaining <= 0)
        {
            return;
        }

        // Stopwatch reads CLOCK_MONOTONIC in nanoseconds on Linux, so its timestamp is the absolute deadline itself.
        if (OperatingSystem.IsLinux() && Stopwatch.Frequency == 1_000_000_000)
        {
            var deadline = new Timespec { Seconds = timestamp / 1_000_000_000, Nanoseconds = timestamp % 1_000_000_000 };
            while (ClockNanosleep(ClockMonotonic, TimerAbsoluteTime, ref deadline, IntPtr.Zero) == Eintr)
            {
            }

            return;
        }

        Thread.Sleep(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
    }

    private const int ClockMonotonic = 1;
    private const int TimerAbsoluteTime = 1;
    private const int Eintr = 4;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_nanosleep")]
    private static extern int ClockNanosleep(int clock, int flags, ref Timespec request, IntPtr remain);
}

using NodaTime;

namespace AccessControl.Tests.HardwareSim.Support;

/// <summary>
/// A time provider (and NodaTime clock) that only moves when a test says so, so that resend, reconnect and door
/// timers run without sleeping. Timer callbacks run inside <see cref="Advance"/>, in due order.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider, IClock
{
    private readonly object gate = new();
    private readonly List<ManualTimer> timers = [];
    private DateTimeOffset now;
    private TaskCompletionSource timersChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ManualTimeProvider(Instant start) => now = start.ToDateTimeOffset();

    /// <summary>Completes the next time a timer is created or re-armed: the code under test is waiting on time again.</summary>
    public Task TimersChanged
    {
        get
        {
            lock (gate)
            {
                return timersChanged.Task;
            }
        }
    }

    /// <summary>Whether a timer is armed to fire exactly <paramref name="dueIn"/> from now (e.g. a loop waiting out its interval).</summary>
    public bool IsArmed(TimeSpan dueIn)
    {
        lock (gate)
        {
            return timers.Any(t => t.DueAt == now + dueIn);
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (gate)
        {
            return now;
        }
    }

    public override long GetTimestamp() => GetUtcNow().UtcTicks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public Instant GetCurrentInstant() => Instant.FromDateTimeOffset(GetUtcNow());

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves time forward, firing every timer that falls due on the way; returns how many fired.</summary>
    public int Advance(TimeSpan by)
    {
        var fired = 0;
        DateTimeOffset target;
        lock (gate)
        {
            target = now + by;
        }

        while (true)
        {
            ManualTimer? due;
            lock (gate)
            {
                due = timers.Where(t => t.DueAt <= target).MinBy(t => t.DueAt);
                if (due is null)
                {
                    now = target;
                    return fired;
                }

                if (due.DueAt > now)
                {
                    now = due.DueAt;
                }

                if (due.Period > TimeSpan.Zero && due.Period != Timeout.InfiniteTimeSpan)
                {
                    due.DueAt += due.Period;
                }
                else
                {
                    timers.Remove(due);
                }
            }

            fired++;
            due.Fire();
        }
    }

    /// <summary>
    /// Runs the code under test as a discrete-event simulation until <paramref name="condition"/> completes:
    /// jumps to the next armed timer and fires it, then waits for the condition or for a timer to be armed again
    /// (the callbacks may start real I/O, which is never raced). With no timer armed it just waits.
    /// Fails after <paramref name="guard"/> of real time.
    /// </summary>
    /// <remarks>
    /// Use it where every timer, once fired, leads to the condition or to another timer (a device's reconnect and
    /// resend loops do). Where a timer's work ends in I/O only (a door closing), advance by the known amount with
    /// <see cref="Advance"/> after a signal that the timer is armed.
    /// </remarks>
    public async Task AdvanceUntilAsync(Task condition, TimeSpan? guard = null)
    {
        using var timeout = new CancellationTokenSource(guard ?? Await.Guard);
        while (!condition.IsCompleted)
        {
            var changed = TimersChanged;
            TimeSpan? next;
            lock (gate)
            {
                next = timers.Count == 0 ? null : timers.Min(t => t.DueAt) - now;
            }

            if (next is { } wait)
            {
                Advance(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
            }

            await Task.WhenAny(condition, changed).WaitAsync(timeout.Token);
        }

        await condition;
    }

    private void Schedule(ManualTimer timer, TimeSpan dueTime, TimeSpan period)
    {
        TaskCompletionSource signal;
        lock (gate)
        {
            timers.Remove(timer);
            if (dueTime == Timeout.InfiniteTimeSpan)
            {
                return;
            }

            timer.DueAt = now + dueTime;
            timer.Period = period;
            timers.Add(timer);
            signal = timersChanged;
            timersChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        signal.TrySetResult();
    }

    private void Unschedule(ManualTimer timer)
    {
        lock (gate)
        {
            timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset DueAt { get; set; }

        public TimeSpan Period { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            owner.Schedule(this, dueTime, period);
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose() => owner.Unschedule(this);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

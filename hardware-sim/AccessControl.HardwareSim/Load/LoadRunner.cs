using System.Diagnostics;
using AccessControl.HardwareSim.Readers;
using AccessControl.Protocol;

namespace AccessControl.HardwareSim.Load;

/// <summary>
/// Drives started readers with an open-loop stream of card swipes and measures swipe-to-decision latency with
/// <see cref="Stopwatch"/> timestamps (monotonic, unaffected by wall-clock changes). Pacing waits on the injected
/// <see cref="TimeProvider"/>.
/// </summary>
public sealed class LoadRunner
{
    private readonly IReadOnlyList<CardReader> readers;
    private readonly TimeProvider time;

    public LoadRunner(IReadOnlyList<CardReader> readers, TimeProvider time)
    {
        if (readers.Count == 0)
        {
            throw new ArgumentException("At least one reader is needed.", nameof(readers));
        }

        this.readers = readers;
        this.time = time;
    }

    /// <summary>Optional progress line once a second of the send phase (events made, decisions in).</summary>
    public Action<string>? Progress { get; init; }

    public async Task<LoadReport> RunAsync(LoadOptions options, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var resentBefore = readers.Sum(r => r.Counters.Resent);
        var latencies = new List<TimeSpan>();
        long grants = 0;
        long denies = 0;
        var outstanding = new List<Task>();
        var total = (long)Math.Floor(options.RatePerSecond * options.Duration.TotalSeconds);
        var interval = TimeSpan.FromSeconds(1 / options.RatePerSecond);

        var started = Stopwatch.GetTimestamp();
        var nextProgress = TimeSpan.FromSeconds(1);
        for (long i = 0; i < total; i++)
        {
            var due = interval * i;
            var wait = due - Stopwatch.GetElapsedTime(started);
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, time, cancellationToken);
            }

            var reader = readers[(int)(i % readers.Count)];
            var card = options.Cards[(int)(i % options.Cards.Count)];
            outstanding.Add(SwipeAsync(reader, card));

            if (Progress is not null && Stopwatch.GetElapsedTime(started) >= nextProgress)
            {
                Progress($"{nextProgress.TotalSeconds:0} s: {i + 1} sent, {Interlocked.Read(ref grants) + Interlocked.Read(ref denies)} answered");
                nextProgress += TimeSpan.FromSeconds(1);
            }
        }

        var sendPhase = Stopwatch.GetElapsedTime(started);
        var drained = Task.WhenAll(outstanding);
        await Task.WhenAny(drained, Task.Delay(options.Drain, time, cancellationToken));

        // Events still unanswered now are reported as such, not waited for.
        cancellationToken.ThrowIfCancellationRequested();

        var elapsed = Stopwatch.GetElapsedTime(started);
        LatencySummary latency;
        lock (latencies)
        {
            latency = LatencySummary.From(latencies);
        }

        var acked = Interlocked.Read(ref grants) + Interlocked.Read(ref denies);
        return new LoadReport(
            readers.Count,
            outstanding.Count,
            acked,
            Interlocked.Read(ref grants),
            Interlocked.Read(ref denies),
            outstanding.Count - acked,
            readers.Sum(r => r.Counters.Resent) - resentBefore,
            latency,
            sendPhase,
            elapsed);

        async Task SwipeAsync(CardReader reader, string card)
        {
            var before = Stopwatch.GetTimestamp();
            DecisionMessage decision;
            try
            {
                decision = await reader.PresentCardAsync(card, options.Technology, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var took = Stopwatch.GetElapsedTime(before);
            lock (latencies)
            {
                latencies.Add(took);
            }

            Interlocked.Increment(ref decision.Grant ? ref grants : ref denies);
        }
    }
}

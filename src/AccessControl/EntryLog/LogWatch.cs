using System.Security.Cryptography;
using AccessControl.Hosting;
using AccessControl.Protocol;
using AccessControl.Supervision;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// What one verification by the service gave: the verification, or, when it could not run (the file unreadable, a key
/// file not a key), the type of what stopped it (its message, which may name a path, is in the service's log).
/// </summary>
public sealed record LogWatchRun(LogVerification? Verification, string? Failure);

/// <summary>One thing a verification found wrong: a key that stays the same while it is found again, and a plain sentence.</summary>
public sealed record LogFinding(string Key, string Text);

/// <summary>
/// What the service's own verification of the entry log last found (the health check <c>log-integrity</c>): the last
/// verification that ran and when, and the failure of the last attempt when it could not run.
/// </summary>
public sealed record LogWatchState
{
    /// <summary>Whether the service verifies the log every interval (<see cref="LogIntegrityOptions.VerifyInterval"/> not 0).</summary>
    public required bool On { get; init; }

    /// <summary>The last verification that ran since the start; null before the first.</summary>
    public LogVerification? Last { get; init; }

    public Instant? LastAt { get; init; }

    /// <summary>Why the last attempt could not verify: the exception's type (its message, which may name a path, is in the service's log); null when it ran.</summary>
    public string? Failure { get; init; }

    public Instant? FailedAt { get; init; }
}

/// <summary>
/// The service verifies its own entry log (<see cref="LogVerifier"/>, as <c>accesscontrol log verify</c> does) every
/// <see cref="LogIntegrityOptions.VerifyInterval"/>, so that a row changed or deleted by someone with the file, or an
/// append-only trigger dropped, is found without waiting for an auditor to ask: each new finding raises one
/// <see cref="AlarmTypes.LogIntegrity"/> alarm (logged, then published), and the health check says so.
/// </summary>
/// <remarks>
/// A verification reads the whole log (about 5 s per million rows): it runs on a thread of its own at the lowest
/// priority, never on the log maintenance's, whose WAL checkpoints and index rounds would wait minutes behind it. While
/// it reads, the WAL grows and starts over after it (<see cref="Storage.WalCheckpoints"/>); commits are not held.
/// Nothing here touches a decision: a verification that cannot run (the file unreadable, a key file not a key) is
/// logged and tried again next interval. The same finding found again is not raised again in this process; a new one is.
/// </remarks>
public sealed class LogWatch : IDisposable
{
    /// <summary>
    /// The first verification runs this long after the start, not one whole interval later: a service restarted every
    /// day would otherwise never verify. Not at once: the start has its own work (<see cref="FirstAfter"/>).
    /// </summary>
    public static readonly TimeSpan FirstVerifyAfter = TimeSpan.FromMinutes(5);

    /// <summary>
    /// When the first verification runs: <see cref="FirstVerifyAfter"/> after the start, or two checkpoint intervals
    /// when checkpoints are signed less often: a new log's rows wait that long for their first checkpoint, and a log
    /// with rows and no checkpoint at all is a finding (<see cref="CheckpointProblems.NoCheckpoint"/>).
    /// </summary>
    public static TimeSpan FirstAfter(LogIntegrityOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var signed = options.CheckpointInterval * 2;
        return signed > FirstVerifyAfter ? signed : FirstVerifyAfter;
    }

    /// <summary>How long a stop waits for a verification in hand before it leaves it to end with the process.</summary>
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(2);

    private readonly LogVerifier verifier;
    private readonly IClock clock;
    private readonly ILogger logger;
    private readonly Func<IReadOnlyList<Alarm>, CancellationToken, Task> raise;
    private readonly LowPriorityWorker worker = new("ac-log-verify");
    private readonly CancellationTokenSource stopping = new();
    private readonly object gate = new();
    private readonly HashSet<string> raised = new(StringComparer.Ordinal);
    private Task<LogWatchRun>? walking;
    private volatile LogWatchState state;

    /// <param name="on">Whether the service verifies every interval (the health check says so); an auditor's request verifies either way.</param>
    /// <param name="raise">Raises the alarms (the pipeline's <c>RaiseAsync</c>: logged durably, then published).</param>
    public LogWatch(LogVerifier verifier, bool on, IClock clock, ILogger logger, Func<IReadOnlyList<Alarm>, CancellationToken, Task> raise)
    {
        this.verifier = verifier;
        this.clock = clock;
        this.logger = logger;
        this.raise = raise;
        state = new LogWatchState { On = on };
    }

    public LogWatchState State => state;

    /// <summary>Test seam: runs on the verifying thread just before each walk of the log (a gate holds a walk in hand).</summary>
    internal Action? BeforeWalk { get; set; }

    /// <summary>Test seam: runs when a verification asked for joins the one under way.</summary>
    internal Action? OnJoin { get; set; }

    /// <summary>Walks of the log begun since the start (the periodic ones and the auditors' together).</summary>
    public int Walks => Volatile.Read(ref walks);

    private int walks;

    /// <summary>
    /// Verifies the log once: the periodic verification, and an auditor's <c>GET /api/v1/log/verify</c>. A verification
    /// already under way is joined, not doubled (its result covers the log up to the head it began at, which it names):
    /// however many ask at once, one walk of the whole log runs, on the lowest-priority thread, never on a request's.
    /// Each verification keeps what it found for the health check and raises an alarm for what is new, whoever asked.
    /// <paramref name="cancellationToken"/> stops the waiting, not the walk, which others may be waiting for.
    /// </summary>
    public Task<LogWatchRun> VerifyAsync(CancellationToken cancellationToken)
    {
        Task<LogWatchRun> walk;
        lock (gate)
        {
            if (walking is null || walking.IsCompleted)
            {
                walking = WalkAsync();
            }
            else
            {
                OnJoin?.Invoke();
            }

            walk = walking;
        }

        return walk.WaitAsync(cancellationToken);
    }

    /// <summary>The periodic job's verification (<see cref="VerifyAsync"/>); one that cannot run is logged and kept as the state's failure.</summary>
    public Task VerifyOnceAsync(CancellationToken cancellationToken) => VerifyAsync(cancellationToken);

    private async Task<LogWatchRun> WalkAsync()
    {
        LogVerification? result = null;
        try
        {
            await worker.RunAsync(() =>
            {
                Interlocked.Increment(ref walks);
                BeforeWalk?.Invoke();
                result = verifier.Verify();
            });
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            // ArgumentException: a public key file that is not a PEM key (LogSigningKey.LoadPublicKey).
            logger.LogError(ex, "The entry log could not be verified; it is tried again at the next interval. Run accesscontrol log verify.");
            state = state with { Failure = ex.GetType().Name, FailedAt = clock.GetCurrentInstant() };
            return new LogWatchRun(null, ex.GetType().Name);
        }

        var verified = result!;
        state = state with { Last = verified, LastAt = clock.GetCurrentInstant(), Failure = null, FailedAt = null };
        var findings = Findings(verified);
        if (findings.Count == 0)
        {
            logger.LogInformation("The entry log verifies: {Rows} rows up to seq {Head}.", verified.Rows, verified.HeadSeq);
            return new LogWatchRun(verified, null);
        }

        logger.LogError("The entry log does not verify: {Findings}. Run accesscontrol log verify.", string.Join("; ", findings.Select(f => f.Text)));
        var fresh = findings.Where(f => !raised.Contains(f.Key)).ToList();
        if (fresh.Count > 0)
        {
            // One walk at a time (VerifyAsync), so `raised` has one writer. A raise that fails (the log cannot be written)
            // leaves the findings unraised: the next verification raises them. The requester still gets the result.
            try
            {
                await raise([new Alarm(AlarmTypes.LogIntegrity, null, null, null, AlarmDetail(verified, fresh[0]))], stopping.Token);
                raised.UnionWith(fresh.Select(f => f.Key));
            }
            catch (Exception ex) when (ex is SqliteException or Events.EntryLogUnavailableException or Events.PipelineItemFailedException
                or InvalidOperationException or OperationCanceledException or ObjectDisposedException)
            {
                logger.LogError(ex, "The log_integrity alarm could not be raised; the next verification raises it.");
            }
        }

        return new LogWatchRun(verified, null);
    }

    /// <summary>
    /// Everything a verification found, the broken row first, then the checkpoints, the triggers and the query index;
    /// empty when the log verifies and its index matches it. Only verify's own texts: no person, no card, no path.
    /// </summary>
    public static IReadOnlyList<LogFinding> Findings(LogVerification verification)
    {
        ArgumentNullException.ThrowIfNull(verification);
        var findings = new List<LogFinding>();
        if (verification.FirstBroken is { } broken)
        {
            findings.Add(new($"row:{broken.Problem}:{broken.Seq}", $"{broken.Problem} at seq {broken.Seq} ({broken.Detail})"));
        }

        findings.AddRange(verification.CheckpointProblems.Select(p => new LogFinding($"checkpoint:{p.Problem}:{p.Seq}",
            p.Seq > 0 ? $"checkpoint {p.Problem} at seq {p.Seq} ({p.Detail})" : $"checkpoint {p.Problem} ({p.Detail})")));
        findings.AddRange(verification.ProtectionProblems.Select(p => new LogFinding($"protection:{p.Problem}:{p.Trigger}", $"{p.Problem} ({p.Detail})")));
        if (verification is { IndexAltered: true, Index: { } index })
        {
            findings.Add(new($"index:{index.FirstDifferingSeq}",
                $"the query index differs from the log in {index.Differing} rows (first at seq {index.FirstDifferingSeq}): queries through it could miss rows"));
        }

        return findings;
    }

    /// <summary>
    /// The alarm's detail: the new finding in plain words, how many of each kind were found in all, and what to run, e.g.
    /// <c>entry log verification failed: content_changed at seq 12 (row 12's content does not match its hash); 0 checkpoint problems, 0 trigger problems; run accesscontrol log verify</c>.
    /// </summary>
    private static string AlarmDetail(LogVerification verification, LogFinding finding) =>
        (verification.Ok ? "entry log query index altered: " : "entry log verification failed: ") + finding.Text
        + $"; {verification.CheckpointProblems.Count} checkpoint problems, {verification.ProtectionProblems.Count} trigger problems"
        + (verification.IndexAltered && !finding.Key.StartsWith("index:", StringComparison.Ordinal) ? ", the query index differs too" : "")
        + "; run accesscontrol log verify";

    /// <summary>Stops the thread; a verification in hand is waited for briefly, then left to end with the process.</summary>
    public void Dispose()
    {
        stopping.Cancel();
        worker.Dispose(StopWait);
        stopping.Dispose();
    }
}

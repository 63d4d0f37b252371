using System.Collections.Immutable;
using System.Text.Json;
using System.Threading.Channels;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.Fingerprints;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Supervision;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;
using Polly;

namespace AccessControl.Events;

/// <summary>
/// The path of every device message: parse, decide, append to the entry log, and only after the commit, publish.
/// </summary>
/// <remarks>
/// One loop owns the decision state (anti-passback, escorts, door and reader supervision) and the log writer. It drains
/// whatever has queued up while the previous commit was running and commits it as one transaction (group commit),
/// so a quiet site pays one fsync per event and a busy one amortizes it over the batch. Nothing is published
/// before its row is durable; if the commit fails, every decision in the batch becomes deny/log_failure
/// (fail closed) and a log_failure alarm is raised.
/// </remarks>
public sealed class EventPipeline : IAsyncDisposable
{
    private readonly Channel<Item> queue;
    private readonly LiveConfiguration configuration;
    private readonly EntryLogWriter writer;
    private readonly IMessagePublisher publisher;
    private readonly IClock clock;
    private readonly Topics topics;
    private readonly PipelineOptions options;
    private readonly ILogger logger;
    private readonly ResiliencePipeline commitRetry;
    private readonly RecentDecisions recent;
    private readonly LatencyTrace? trace;
    private bool traceFailureLogged;
    /// <summary>At most one <c>log_failure</c> alarm per this interval while the log stays unwritable.</summary>
    private static readonly Duration LogFailureAlarmInterval = Duration.FromMinutes(1);

    private readonly LateRows lateRows;
    private OutageJournal? journal;
    private bool journalFailureLogged;
    private bool journalClearFailureLogged;
    private Instant? lastLogFailureAlarm;

    // Set by whoever queues an item, on their own thread (see PostAsync). Never disposed: it holds no OS handle unless
    // its WaitHandle is asked for, and a writer racing the pipeline's end may still set it.
    private readonly ManualResetEventSlim itemQueued = new(false, spinCount: 0);
    private readonly DoorWatch doors;
    private readonly ReaderWatch readers;
    private readonly ControllerWatch controllers;
    private LogHealth logHealth = LogHealth.Writable;
    private int readersOffline;
    private int controllersOffline;
    private int doorsOffline;
    private readonly List<Staged> batch = [];
    private readonly Dictionary<(string Source, string EventId), int> batchEvents = [];

    // When each staged item's message was received (0: not a message), for the Decision metric; parallel to batch.
    private readonly List<long> batchReceived = [];
    private readonly IFingerprintTemplates templates;
    private readonly ReplayGuard replay;
    private readonly AlarmThrottle malformedAlarms;
    private readonly AlarmThrottle floodAlarms;

    // Readers and doors apart (a door's id may equal a reader's): keyed by the topic's own id, no key built per message.
    private readonly DeviceRateLimit readerRate;
    private readonly DeviceRateLimit doorRate;
    private readonly DeviceRateLimit unreadableFireRate;
    private readonly AlarmThrottle unverifiedReplays;

    // Alarm storms (AlarmTypes.Coalesced), per type and device, and the last alarm held back of each: it goes out late
    // when the storm ends, standing for the others.
    private readonly AlarmThrottle storms;
    private readonly Dictionary<string, AlarmMessage> heldBack = new(StringComparer.Ordinal);
    private readonly CredentialProbing probing;
    private PassbackState passback = PassbackState.Empty;
    private EscortState escorts = EscortState.Empty;
    private FingerprintState fingerprints = FingerprintState.Empty;
    private readonly TimeProvider time;
    private (Instant Clock, long Stamp) lastCheck;

    // Fire release state: as staged, and as of the last commit (what Fire shows and what a failed commit returns to).
    private FireState fire;
    private FireState fireCommitted;

    // Cards waiting for their holder's finger, by fingerprint reader (one at a time per reader, as at a real door).
    private ImmutableDictionary<string, Verification> verifications = ImmutableDictionary<string, Verification>.Empty;
    private Task? loop;
    private long publishFailures;

    // A seq reset staged in this batch, applied only once its row is durable; while set, the batch takes no more items.
    private SeqReset? seqResetStaged;

    // The eventId of the reader event being staged, once its payload is parsed: a failure after that answers under it.
    private string? stagingEventId;

    // Test hook (SimulateStagingFailure); set by a test's thread, read by the pipeline's.
    private volatile StagingFailure? simulatedStagingFailure;

    public EventPipeline(
        LiveConfiguration configuration,
        EntryLogWriter writer,
        IMessagePublisher publisher,
        IClock clock,
        Topics topics,
        PipelineOptions options,
        ILogger<EventPipeline> logger,
        TimeProvider timeProvider,
        IFingerprintTemplates? fingerprints = null,
        IReadOnlyDictionary<string, IReadOnlyCollection<long>>? seqHistory = null,
        PassbackState? passbackHistory = null,
        FingerprintState? fingerprintHistory = null,
        FireState? fireState = null,
        EscortState? escortHistory = null,
        OutageJournal? outageJournal = null,
        IReadOnlyList<DoorPosition>? doorHistory = null,
        OfflineDevices? offlineHistory = null)
    {
        passback = passbackHistory ?? PassbackState.Empty;
        escorts = escortHistory ?? EscortState.Empty;
        this.fingerprints = fingerprintHistory ?? FingerprintState.Empty;
        fire = fireCommitted = fireState ?? FireState.Empty;
        ArgumentNullException.ThrowIfNull(options);
        doors = new DoorWatch(options.OfflineWindow);
        doors.Restore(doorHistory ?? [], clock.GetCurrentInstant());
        foreach (var door in fire.ReleasedDoors)
        {
            doors.Released(new DoorId(door));
        }

        templates = fingerprints ?? NoFingerprintTemplates.Instance;
        time = timeProvider;
        options.Validate();
        replay = new ReplayGuard(options, seqHistory);
        malformedAlarms = new AlarmThrottle(options.MalformedAlarmInterval);
        floodAlarms = new AlarmThrottle(options.MalformedAlarmInterval);
        readerRate = new DeviceRateLimit(options.DeviceBurst, options.DeviceInterval);
        doorRate = new DeviceRateLimit(options.DeviceBurst, options.DeviceInterval);
        unreadableFireRate = new DeviceRateLimit(options.DeviceBurst, options.DeviceInterval);
        unverifiedReplays = new AlarmThrottle(options.ReplayAlarmInterval);
        storms = new AlarmThrottle(options.AlarmStormInterval);
        probing = new CredentialProbing(options.ProbingUnknownCards, options.ProbingWindow);
        this.configuration = configuration;
        this.writer = writer;
        this.publisher = publisher;
        this.clock = clock;
        this.topics = topics;
        this.options = options;
        this.logger = logger;
        recent = new RecentDecisions(options.RecentEvents);
        trace = options.TraceFile is { } traceFile ? new LatencyTrace(traceFile) : null;
        lateRows = new LateRows(options.LateRowsCapacity, outageJournal);
        journal = outageJournal;
        RestoreLateRows(writer);
        readers = new ReaderWatch(clock.GetCurrentInstant());
        controllers = new ControllerWatch(clock.GetCurrentInstant());
        readers.Restore((offlineHistory ?? OfflineDevices.None).Readers);
        controllers.Restore((offlineHistory ?? OfflineDevices.None).Controllers);
        PublishHealth();   // the devices still offline count from the start, not from the first commit

        // The clock check starts now, not at the first supervision tick: a step in the first interval after a start
        // (or a restart after a crash) is caught too.
        lastCheck = (clock.GetCurrentInstant(), timeProvider.GetTimestamp());
        queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        // A table lock inside the connection (SQLITE_LOCKED) is retried; anything else fails the batch closed. Not
        // SQLITE_BUSY: it comes only after SQLite's busy handler has already waited the whole busy timeout (5 s) for the
        // other writer, so a retry only waits that long again. With three retries on it, another process holding the
        // write lock held the pipeline 20 s per batch, and every swipe, door event, alarm and fire-panel event behind it.
        commitRetry = new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddRetry(new Polly.Retry.RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<SqliteException>(e => e.SqliteErrorCode == 6),
                MaxRetryAttempts = 3,
                Delay = TimeSpan.FromMilliseconds(5),
                BackoffType = DelayBackoffType.Exponential,
            })
            .Build();
    }

    /// <summary>Rows just committed, in log order. Called on the pipeline's thread: handlers must be quick.</summary>
    public event Action<IReadOnlyList<LogEntry>>? Committed;

    /// <summary>Publishes that failed (broker down); the reader re-sends and gets the logged decision again.</summary>
    public long PublishFailures => Interlocked.Read(ref publishFailures);

    /// <summary>Stage latencies inside the service (docs/operations.md, "Metrics").</summary>
    public PipelineMetrics Metrics { get; } = new();

    /// <summary>Whether the entry log takes rows, as of the last commit (published by the pipeline's thread).</summary>
    public LogHealth LogState => Volatile.Read(ref logHealth);

    /// <summary>Events and other items waiting for the pipeline now.</summary>
    public int QueueDepth => queue.Reader.Count;

    /// <summary>How many items the queue holds before the broker connection stops reading (back-pressure).</summary>
    public int QueueCapacity => options.QueueCapacity;

    /// <summary>Readers reported offline and not heard from since, as of the last batch.</summary>
    public int ReadersOffline => Volatile.Read(ref readersOffline);

    /// <summary>Door controllers reported offline and not heard from since, as of the last batch.</summary>
    public int ControllersOffline => Volatile.Read(ref controllersOffline);

    /// <summary>Doors whose controller is reported offline, as of the last batch.</summary>
    public int DoorsOffline => Volatile.Read(ref doorsOffline);

    /// <summary>The latency trace (<see cref="PipelineOptions.TraceFile"/>), null when off; others add their spans to it.</summary>
    public LatencyTrace? Trace => trace;

    /// <summary>
    /// Starts the loop on a thread of its own: every swipe waits for it, so it must not queue behind the thread pool's
    /// other work (MQTT client loops, HTTP requests, publishes) when the two cores of an edge box are busy.
    /// </summary>
    public void Start(CancellationToken stopping)
    {
        if (loop is not null)
        {
            return;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop = done.Task;
        var thread = new Thread(() =>
        {
            try
            {
                Run(stopping);
                done.TrySetResult();
            }
            catch (Exception ex)
            {
                logger.LogCritical(ex, "The event pipeline stopped unexpectedly.");
                done.TrySetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "ac-event-pipeline",
        };
        thread.Start();
    }

    /// <summary>Hands a received MQTT message to the pipeline. Copies nothing: the caller passes memory it no longer touches.</summary>
    public ValueTask EnqueueAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        EnqueueAsync(topic, payload, fromRetainedStore: false, cancellationToken);

    /// <summary>
    /// Hands a received MQTT message to the pipeline; <paramref name="fromRetainedStore"/> when the broker delivered it
    /// from its retained store (at the service's subscribe or start), not as it was published: a device's status kept
    /// from the past, which tells its last known state but is no sign that it is alive now.
    /// </summary>
    public ValueTask EnqueueAsync(string topic, ReadOnlyMemory<byte> payload, bool fromRetainedStore, CancellationToken cancellationToken) =>
        PostAsync(new Inbound(topic, payload, time.GetTimestamp(), fromRetainedStore), cancellationToken);

    /// <summary>
    /// Appends a row (admin change, security event) in log order; completes when it is durable. A row written by the
    /// operator of the HTTP request being served names the address it came from (<see cref="RequestOrigin"/>).
    /// </summary>
    public async Task<LogEntry> AppendAsync(LogEntry entry, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new Append(RequestOrigin.Stamp(entry), done), cancellationToken);
        return await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Appends rows (a batch of a site file's import) in log order, all in the same commit: when it completes every one
    /// is durable; when it throws, none is. Completes when they are durable, with the rows as written.
    /// </summary>
    public async Task<IReadOnlyList<LogEntry>> AppendAllAsync(IReadOnlyList<LogEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var done = new TaskCompletionSource<LogEntry>[entries.Count];
        for (var i = 0; i < done.Length; i++)
        {
            done[i] = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        await PostAsync(new AppendAll([.. entries.Select(RequestOrigin.Stamp)], done), cancellationToken);
        return await Task.WhenAll(done.Select(d => d.Task)).WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Resets a device's seq baseline (its firmware lost its counter): the next event must carry a seq above
    /// <paramref name="baseline"/> (any seq when null). Audited by an admin row in log order; completes when it is durable,
    /// and takes effect only then (an <see cref="EntryLogUnavailableException"/> leaves the baseline as it was).
    /// </summary>
    /// <param name="source"><c>readers/{id}</c> or <c>doors/{id}</c>.</param>
    /// <param name="site">The device's site, for the row (so that a token limited to that site reads it); null when unknown.</param>
    public async Task<LogEntry> ResetDeviceSeqAsync(string source, long? baseline, string actor, string? site = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new SeqReset(source, baseline, actor, site, done) { Remote = RequestOrigin.RemoteOf(actor) }, cancellationToken);
        return await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The fire release state as of the last commit (rebuilt from the entry log at start-up).</summary>
    public FireState Fire => Volatile.Read(ref fireCommitted);

    /// <summary>
    /// An operator's reset of the fire release: refused (<see cref="FireResetOutcome.NotCleared"/>) while a panel has not
    /// sent <c>clear</c> since its last alarm, unless <paramref name="force"/>; otherwise a <c>fire_reset</c> row per
    /// released site and, once durable, <c>relock</c> (retained) to every released door.
    /// </summary>
    /// <param name="site">The one site the operator acts for (a site-limited token): only its release is reset, and
    /// only its panels are asked; a release at other sites only is <see cref="FireResetOutcome.OtherSitesOnly"/>.
    /// Null for every site.</param>
    public async Task<FireResetResult> ResetFireAsync(string actor, bool force, string? site = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        var done = new TaskCompletionSource<FireResetResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new FireReset(actor, force, site, done) { Remote = RequestOrigin.RemoteOf(actor) }, cancellationToken);
        return await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Publishes <c>release</c> (retained) again to every released door: called whenever the service's MQTT connection
    /// comes up, so that a release survives a service crash and a broker that lost its retained messages.
    /// </summary>
    public async Task ReassertFireReleaseAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new FireReassert(done), cancellationToken);
        await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs the supervision checks (held-open doors, silent readers) at the clock's current time.</summary>
    public async Task TickAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new Tick(done), cancellationToken);
        await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Raises alarms found by supervision outside the pipeline (e.g. overdue visitor badges): logged, then published.</summary>
    public async Task RaiseAsync(IReadOnlyList<Alarm> alarms, CancellationToken cancellationToken = default)
    {
        if (alarms.Count == 0)
        {
            return;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new Tick(done) { Alarms = alarms }, cancellationToken);
        await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Hands the pipeline an outage journal made while the service runs (it could not be made at start): the rows of an
    /// entry-log outage are kept in it from then on, those of an outage in progress at once. False, and the journal is
    /// the caller's still, when the pipeline has one already or when it holds an outage of an earlier run, whose rows
    /// only a start takes back (before anything else is written to the log).
    /// </summary>
    public async Task<bool> AdoptOutageJournalAsync(OutageJournal made, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new AdoptJournal(made, done), cancellationToken);
        return await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Item kinds <see cref="SimulateStagingFailure"/> takes.</summary>
    private static readonly IReadOnlySet<string> SimulatedStagingKinds = new HashSet<string>(StringComparer.Ordinal)
    {
        nameof(Append), nameof(AppendAll), nameof(SeqReset), nameof(FireReset), nameof(FireReassert), nameof(Tick), "ReaderEvent",
    };

    /// <summary>
    /// Test hook for a bug in staging an item: every item of <paramref name="kind"/> throws <paramref name="failure"/>
    /// when the pipeline stages it (before anything of it is staged; a reader's event once its payload is parsed); null
    /// removes it. Kinds: <c>Append</c> (<see cref="AppendAsync"/>), <c>AppendAll</c> (<see cref="AppendAllAsync"/>), <c>SeqReset</c>, <c>FireReset</c>,
    /// <c>FireReassert</c>, <c>Tick</c> (<see cref="TickAsync"/> and <see cref="RaiseAsync"/>), <c>ReaderEvent</c>.
    /// </summary>
    internal void SimulateStagingFailure(string kind, Exception? failure)
    {
        if (!SimulatedStagingKinds.Contains(kind))
        {
            throw new ArgumentException($"Not an item kind the hook knows: '{kind}'.", nameof(kind));
        }

        simulatedStagingFailure = failure is null ? null : new StagingFailure(kind, failure);
    }

    private void ThrowIfSimulated(string kind)
    {
        if (simulatedStagingFailure is { } simulated && simulated.Kind == kind)
        {
            throw simulated.Failure;
        }
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        itemQueued.Set();
        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        SayWhatAnOutageLeaves();
        trace?.Dispose();
        journal?.Dispose();
    }

    private void Run(CancellationToken stopping)
    {
        var reader = queue.Reader;
        try
        {
            while (WaitToRead(reader, stopping))
            {
                // Before the state is copied: a step of the wall clock moves the decision windows whatever becomes of
                // this batch, and before any of its decisions, which then see the windows moved.
                var checkedAt = clock.GetCurrentInstant();
                var stepped = CheckClock(checkedAt);
                var committed = new DecisionStateCopy(passback, escorts, fingerprints, verifications);
                if (stepped is { } step)
                {
                    StageAlarm(step, checkedAt);
                    while (batchReceived.Count < batch.Count)
                    {
                        batchReceived.Add(0);
                    }
                }

                while (batch.Count < options.MaxBatch && seqResetStaged is null && reader.TryRead(out var item))
                {
                    var received = item is Inbound inbound ? inbound.Received : 0;
                    if (received != 0)
                    {
                        Metrics.QueueWait.Record(time.GetElapsedTime(received));
                    }

                    Stage(item);
                    while (batchReceived.Count < batch.Count)
                    {
                        batchReceived.Add(received);
                    }
                }

                // Completes synchronously unless the commit is retried after a locked table.
                CommitAsync(committed, stopping).GetAwaiter().GetResult();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            logger.LogInformation("Event pipeline stopped.");
        }
    }

    /// <summary>
    /// Compares how far the service clock moved since the last check (before each batch) with how much time really
    /// passed (the monotonic clock): a difference beyond <see cref="PipelineOptions.ClockJumpThreshold"/> is a step of the
    /// wall clock. Decisions go on with the new time (schedules need wall time); the open escort windows, fingerprint
    /// checks and fingerprint locks move with a step back, the locks alone with a step forward; device events stay
    /// ordered by their seq.
    /// </summary>
    private Alarm? CheckClock(Instant now)
    {
        var stamp = time.GetTimestamp();
        var last = lastCheck;
        lastCheck = (now, stamp);
        if (options.ClockJumpThreshold is not { } threshold)
        {
            return null;
        }

        var jump = (now - last.Clock).ToTimeSpan() - time.GetElapsedTime(last.Stamp, stamp);
        if (jump.Duration() <= threshold)
        {
            return null;
        }

        // Supervision counts silence and open time; a step of the wall clock is not time that passed. Nor for the
        // decisions' short windows, but only as far as that never lets anyone in later than a window's real end:
        // - a step back moves the windows back: an escort's window would otherwise open again once the clock caught up
        //   (a visitor let in alone, minutes after the escort's swipe), and a card would wait minutes for its finger;
        // - a step forward may be time that passed unseen (a machine resumed from suspend), so the windows that let
        //   someone in are left to close early (the escort or the card swipes again), and only the fingerprint locks,
        //   which keep people out, move with it.
        readers.ClockStepped(now);
        controllers.ClockStepped(now);
        doors.ClockStepped(now);
        var by = Duration.FromTimeSpan(jump);
        var back = by < Duration.Zero ? by : Duration.Zero;
        escorts = escorts.Shift(back);
        fingerprints = fingerprints.Shift(by);
        if (back != Duration.Zero)
        {
            verifications = verifications.ToImmutableDictionary(v => v.Key, v => v.Value with { Deadline = v.Value.Deadline + back }, verifications.KeyComparer);
        }

        return new Alarm(AlarmTypes.ClockAnomaly, null, null, null,
                $"the service clock jumped {(jump > TimeSpan.Zero ? "forward" : "back")} by {jump.Duration().TotalSeconds:0} s between two checks " +
                $"({WireFormat.FormatInstant(last.Clock)} to {WireFormat.FormatInstant(now)}); decisions use the new time, " +
                (jump < TimeSpan.Zero
                    ? "open escort windows, fingerprint checks and lockouts keep the real time they had left"
                    : "fingerprint lockouts keep the real time they had left, open escort windows and fingerprint checks may close early") +
                ", device events stay ordered by their seq");
    }

    /// <summary>
    /// Queues an item and wakes the pipeline's thread from the caller's own thread: a received event goes from the
    /// connection's reading thread to the pipeline's with one wake-up. (The channel's own wake-up of a waiting reader
    /// runs on a thread-pool worker, which would have to wake first.) Waits for room only when the queue is full.
    /// </summary>
    private ValueTask PostAsync(Item item, CancellationToken cancellationToken)
    {
        if (queue.Writer.TryWrite(item))
        {
            itemQueued.Set();
            return ValueTask.CompletedTask;
        }

        return PostWhenRoomAsync(item, cancellationToken);
    }

    private async ValueTask PostWhenRoomAsync(Item item, CancellationToken cancellationToken)
    {
        await queue.Writer.WriteAsync(item, cancellationToken);
        itemQueued.Set();
    }

    /// <summary>Blocks the pipeline's thread until an item is queued (true) or the queue is completed and empty (false).</summary>
    /// <remarks>
    /// Sleeps without spinning first (a blocking wait on a task spins, calling sched_yield, before it sleeps): on two cores
    /// shared with the broker, spinning while the queue is empty takes CPU from what would fill it.
    /// </remarks>
    private bool WaitToRead(ChannelReader<Item> reader, CancellationToken stopping)
    {
        while (true)
        {
            if (reader.TryPeek(out _))
            {
                return true;
            }

            if (reader.Completion.IsCompleted)
            {
                return false;
            }

            // Reset, then look again: an item queued in between has set the event after the reset.
            itemQueued.Reset();
            if (reader.TryPeek(out _) || reader.Completion.IsCompleted)
            {
                continue;
            }

            itemQueued.Wait(stopping);
        }
    }

    // ---- staging: decide and build the rows; nothing leaves the process yet ----------------------------

    private void Stage(Item item)
    {
        stagingEventId = null;
        try
        {
            if (simulatedStagingFailure is not null)
            {
                ThrowIfSimulated(item.GetType().Name);
            }

            switch (item)
            {
                case Inbound inbound:
                    StageInbound(inbound);
                    break;
                case Append append:
                    batch.Add(new Staged(append.Entry) { Appended = append.Done });
                    break;
                case AppendAll appendAll:
                    // One item, staged whole into this batch (past MaxBatch if it must): its rows share one commit.
                    for (var i = 0; i < appendAll.Entries.Count; i++)
                    {
                        batch.Add(new Staged(appendAll.Entries[i]) { Appended = appendAll.Done[i] });
                    }

                    break;
                case SeqReset reset:
                    StageSeqReset(reset);
                    break;
                case FireReset fireReset:
                    StageFireReset(fireReset);
                    break;
                case FireReassert reassert:
                    batch.Add(new Staged(null) { Ticked = reassert.Done, Retained = ReleaseCommands(fire.ReleasedDoors), LifeSafety = true });
                    break;
                case AdoptJournal adopt:
                    adopt.Done.TrySetResult(Adopt(adopt.Journal));
                    break;
                case Tick tick:
                    var now = clock.GetCurrentInstant();
                    var topology = configuration.Topology;
                    escorts = escorts.Prune(now);
                    if (tick.Alarms is null)
                    {
                        fingerprints = fingerprints.Prune(now);
                        foreach (var expired in verifications.Values.Where(v => v.Deadline <= now).ToList())
                        {
                            verifications = verifications.Remove(expired.FingerprintReader);
                            StageVerificationEnd(expired, $"no fingerprint within {expired.TimeoutSeconds} s", now);
                        }
                    }

                    var alarms = tick.Alarms ?? [.. doors.Check(now, topology), .. readers.Check(now, topology), .. controllers.Check(now, topology)];
                    foreach (var alarm in alarms)
                    {
                        StageAlarm(alarm, now);
                    }

                    StageStormEnds(now);
                    batch.Add(new Staged(null) { Ticked = tick.Done });
                    break;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug in handling one item must not stop the pipeline, nor leave anyone waiting for an answer that never
            // comes: a device's message is logged as malformed (a reader hears deny), and whoever waits for any other
            // item hears that it failed. The items staged before it are kept.
            logger.LogError(ex, "Unexpected failure handling a pipeline item.");
            if (item is Inbound inbound)
            {
                StageFailedMessage(inbound);
            }
            else
            {
                item.Fail(new PipelineItemFailedException("The event pipeline failed to handle the request (an internal error, in the service's log).", ex));
            }
        }
    }

    /// <summary>
    /// A device's message the pipeline failed to handle: a <c>malformed</c> row, and to a reader, deny under the eventId of
    /// its event when it was read (a deny without it would match none of the reader's events: it would go on waiting).
    /// </summary>
    private void StageFailedMessage(Inbound inbound)
    {
        const string Error = "internal error while handling the event";
        var address = topics.Parse(inbound.Topic);
        var now = clock.GetCurrentInstant();
        if (stagingEventId is { } eventId)
        {
            try
            {
                StageMalformed(inbound, address, eventId, Error, now);
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Looking for an earlier answer to the event (in the log) failed as well: logged as if no eventId was read.
                logger.LogError(ex, "Unexpected failure logging event {EventId} as malformed; logging it without its eventId.", eventId);
            }
        }

        StageMalformed(inbound, address, null, Error, now);
    }

    private void StageInbound(Inbound inbound)
    {
        var now = clock.GetCurrentInstant();
        var address = topics.Parse(inbound.Topic);
        var payload = new System.Buffers.ReadOnlySequence<byte>(inbound.Payload);
        if (!inbound.FromRetainedStore && Paced(address, inbound, now))
        {
            return;
        }

        switch (address.Kind)
        {
            case TopicKind.ReaderEvents:
                var parsed = WireFormat.ParseReaderEvent(payload, options.MaxPayloadBytes);
                if (!parsed.Success)
                {
                    StageMalformed(inbound, address, parsed.EventId, parsed.Error!, now);
                    return;
                }

                stagingEventId = parsed.Value!.EventId;
                StageReaderEvent(address.DeviceId, parsed.Value, now);
                return;

            case TopicKind.DoorEvents:
                var door = WireFormat.ParseDoorEvent(payload, options.MaxPayloadBytes);
                if (!door.Success)
                {
                    StageMalformed(inbound, address, door.EventId, door.Error!, now);
                    return;
                }

                StageDoorEvent(address.DeviceId, door.Value!, now);
                return;

            case TopicKind.FireEvents:
                var fireEvent = WireFormat.ParseFireEvent(payload, options.MaxPayloadBytes);
                if (!fireEvent.Success)
                {
                    if (!inbound.FromRetainedStore && PacedUnreadable(address, inbound, now))
                    {
                        return;
                    }

                    StageMalformed(inbound, address, fireEvent.EventId, fireEvent.Error!, now);
                    return;
                }

                StageFireEvent(address.DeviceId, fireEvent.Value!, now);
                return;

            case TopicKind.ReaderStatus:
            case TopicKind.DoorStatus:
                if (inbound.Payload.IsEmpty)
                {
                    // MQTT's own way to clear a retained status (a device taken out of service tidies up after itself):
                    // not garbage, so no malformed alarm, and not a sign of life either.
                    StageDeviceRow(address, LogReasons.DeviceStatusCleared, null, now);
                    return;
                }

                var status = WireFormat.ParseDeviceStatus(payload, options.MaxPayloadBytes);
                if (!status.Success)
                {
                    StageMalformed(inbound, address, null, status.Error!, now);
                    return;
                }

                StageStatus(address, status.Value!, inbound.FromRetainedStore, now);
                return;

            default:
                logger.LogWarning("Ignoring a message on a topic the service does not handle: {Topic}", Truncate(inbound.Topic));
                return;
        }
    }

    /// <summary>
    /// Whether a reader's or door's message came over its rate (<see cref="DeviceRateLimit"/>): then it is dropped before
    /// it is read, costing neither a row nor a decision, and a <c>device_flood</c> alarm says so at most once per device per
    /// interval. A fire panel's message is never dropped: it may release doors for a fire.
    /// </summary>
    private bool Paced(TopicAddress address, Inbound inbound, Instant now)
    {
        var isReader = address.Kind is TopicKind.ReaderEvents or TopicKind.ReaderStatus;
        if (!isReader && address.Kind is not (TopicKind.DoorEvents or TopicKind.DoorStatus))
        {
            return false;
        }

        var rate = isReader ? readerRate : doorRate;
        if (rate.TryTake(address.DeviceId, inbound.Received, time))
        {
            return false;
        }

        var device = (isReader ? "readers/" : "doors/") + address.DeviceId;
        if (floodAlarms.ShouldAlarm(device, now))
        {
            var topology = configuration.Topology;
            var doorId = isReader ? topology.Readers.GetValueOrDefault(new ReaderId(address.DeviceId))?.Door : new DoorId(address.DeviceId);
            var door = doorId is { } known ? topology.Doors.GetValueOrDefault(known) : null;
            var detail = $"{(isReader ? "reader" : "door")} {address.DeviceId} sends more than {options.DeviceBurst} messages at once and then one per "
                + $"{options.DeviceInterval.TotalMilliseconds:0.###} ms: {rate.Dropped(address.DeviceId)} dropped unanswered and unlogged so far; a real device never does, "
                + "look at it (a stolen secret, a firmware fault)";
            logger.LogWarning("Dropping messages of {Device}: {Detail}", device, detail);
            StageAlarm(new Alarm(AlarmTypes.DeviceFlood, door?.Site.Value, doorId?.Value, isReader ? address.DeviceId : null, detail), now);
        }

        return true;
    }

    /// <summary>
    /// Whether a fire panel's payload that could not be read came over the panel's rate: then it is dropped unlogged, and a
    /// <c>device_flood</c> alarm says so as <see cref="Paced"/> does. A panel's readable events are never paced (they may
    /// release doors for a fire); an unreadable one releases nothing, and a panel stuck sending garbage would otherwise
    /// write a row per message, as fast as the broker takes them, ahead of every door's swipes.
    /// </summary>
    private bool PacedUnreadable(TopicAddress address, Inbound inbound, Instant now)
    {
        if (unreadableFireRate.TryTake(address.DeviceId, inbound.Received, time))
        {
            return false;
        }

        var device = FireState.FireSourcePrefix + address.DeviceId;
        if (floodAlarms.ShouldAlarm(device, now))
        {
            var detail = $"fire panel {address.DeviceId} sends more than {options.DeviceBurst} unreadable payloads at once and then one per "
                + $"{options.DeviceInterval.TotalMilliseconds:0.###} ms: {unreadableFireRate.Dropped(address.DeviceId)} dropped unlogged so far; its readable "
                + "fire events are never dropped; look at it (a firmware fault)";
            logger.LogWarning("Dropping unreadable messages of {Device}: {Detail}", device, detail);
            StageAlarm(new Alarm(AlarmTypes.DeviceFlood, null, null, null, detail), now);
        }

        return true;
    }

    private void StageReaderEvent(string readerId, ReaderEvent e, Instant now)
    {
        ThrowIfSimulated("ReaderEvent");
        var snapshot = configuration.Current;
        var known = snapshot.Topology.Readers.TryGetValue(new ReaderId(readerId), out var reader);
        var source = "readers/" + readerId;
        Door? door = known && snapshot.Topology.Doors.TryGetValue(reader!.Door, out var d) ? d : null;

        // Only an event the replay guard accepted shows the reader alive: heartbeats captured earlier and replayed (or
        // a redelivery answered from the log) would otherwise keep a dead or unplugged reader looking online.
        void Heard()
        {
            if (known && door is not null)
            {
                StageAlarmIfAny(readers.Seen(reader!, door, now), now);
            }
        }

        // A refused one is no sign of life either, but it did arrive: the reader's silence alarm says so.
        void Refused(ReplayRejection rejection)
        {
            if (known)
            {
                readers.Refused(reader!, now, rejection.Detail);
            }
        }

        if (e.Type == ReaderEventType.Heartbeat)
        {
            // Heartbeats carry seq and advance the baseline; they are not logged, so a stale one (an MQTT redelivery) is dropped quietly.
            if (replay.Check(source, e.Seq, e.At, e.Offline, now) is { } stale)
            {
                logger.LogDebug("Ignoring a heartbeat from {Reader}: {Why}", readerId, stale.Detail);
                Refused(stale);
            }
            else
            {
                Heard();
            }

            return;
        }

        switch (AnswerDuplicate(source, e.EventId, readerId, e.Seq, out var earlierSeq))
        {
            case EventIdUse.Duplicate:
                return;
            case EventIdUse.Reused:
                var reused = Reused(source, e.EventId, e.Seq, earlierSeq);
                Refused(reused);
                StageReplayedReaderEvent(readerId, door, e, reused, now, snapshot);
                return;
        }

        if (replay.Check(source, e.Seq, e.At, e.Offline, now) is { } rejection)
        {
            Refused(rejection);
            StageReplayedReaderEvent(readerId, door, e, rejection, now, snapshot);
            return;
        }

        Heard();

        if (e.Type == ReaderEventType.Tamper)
        {
            var tamper = new Alarm(AlarmTypes.Tamper, door?.Site.Value, door?.Id.Value, readerId, e.Detail ?? "reader reports tamper");
            StageAlarm(tamper, now, source, e);
            return;
        }

        if (e.Type == ReaderEventType.FingerprintMatch)
        {
            StageFingerprint(readerId, known ? reader : null, e, now, snapshot);
            return;
        }

        // Offline replays are decided at the time they happened (bounded), and open nothing now.
        var decideAt = e.Offline && e.At <= now && now - e.At <= options.OfflineWindow ? e.At : now;
        var request = new AccessRequest(new ReaderId(readerId), e.Card!, e.Technology!, decideAt);
        escorts = escorts.Prune(now);
        var (decision, stricter) = Decide(request, snapshot);
        if (e.Offline)
        {
            decision = decision with { Move = null, UnlockFor = Duration.Zero, Escort = null };
        }

        string? verifyDetail = null;
        var commands = ImmutableArray<(string, byte[])>.Empty;
        if (decision.IsPending)
        {
            (decision, verifyDetail, commands) = AskForFingerprint(readerId, reader!, e, decision, now, snapshot.Topology);
        }

        StageAccess(new AccessRow(readerId, source, e.EventId, e.Seq, e.At, e.Offline, e.Card!, e.Technology), decision, now, snapshot,
            [(decision.IsPending ? "fingerprintRequest" : "why", verifyDetail), (ChangeInFlight, stricter ? "true" : null)], commands: commands);
        if (decision.Reason == AccessReason.UnknownCredential && known && door is not null)
        {
            StageAlarmIfAny(probing.Unknown(reader!, door, now), now);
        }
    }

    /// <summary>In a row's detail: decided by a cardholder change not yet in force (its audit row not yet durable).</summary>
    private const string ChangeInFlight = "changeInFlight";

    /// <summary>
    /// Decides with the cardholders in force and, while an admin change is in flight (<see cref="LiveConfiguration.Snapshot.Pending"/>:
    /// its audit row not yet durable, or its tables not yet written), also with the cardholders as they will be. The
    /// stricter answer stands (deny, then pending, then grant): a change takes access away no later than its audit row,
    /// and gives it no earlier. <c>Stricter</c>: the answer is the one the change in flight gave.
    /// </summary>
    private (AccessDecision Decision, bool Stricter) Decide(in AccessRequest request, LiveConfiguration.Snapshot snapshot)
    {
        var decision = DecisionEngine.Decide(request, snapshot.Topology, snapshot.Cardholders, passback, escorts, fingerprints);
        if (snapshot.Pending is not { } pending || Strictness(decision) == 2)
        {
            return (decision, false);
        }

        var after = DecisionEngine.Decide(request, snapshot.Topology, pending, passback, escorts, fingerprints);
        return Strictness(after) > Strictness(decision) ? (after, true) : (decision, false);

        static int Strictness(AccessDecision d) => d.IsGranted ? 0 : d.IsPending ? 1 : 2;
    }

    /// <summary>
    /// Applies a decision tentatively (passback, escorts: rolled back with the batch if the commit fails), and stages its
    /// row, its reply and, for an escort leaving people behind, the visitor_unescorted alarms.
    /// </summary>
    private void StageAccess(AccessRow access, AccessDecision decision, Instant now, LiveConfiguration.Snapshot snapshot,
        (string Name, object? Value)[] extra, (string ReaderId, string EventId)? linked = null, string? matchedTemplate = null,
        ImmutableArray<(string Topic, byte[] Payload)> commands = default, ImmutableArray<(string Topic, byte[] Payload)> cancels = default)
    {
        passback = passback.Apply(decision);

        var escort = decision.Escort;
        if (escort is not null)
        {
            escorts = escorts.Apply(escort, escort.Opened is null || access.EventId is null ? null : new EscortEntry(access.ReaderId, access.EventId));
        }

        var escortedBy = escort?.Used;
        var entry = new LogEntry
        {
            At = now,
            Kind = LogKinds.Access,
            SiteId = decision.Site?.Value,
            ReaderId = access.ReaderId,
            DoorId = decision.Door?.Value,
            ZoneId = decision.Zone?.Value,
            PersonId = decision.Person?.Value,
            Card = access.Card,
            Source = access.Source,
            EventId = access.Keyed ? access.EventId : null,
            DeviceSeq = access.Seq,
            DeviceAt = access.DeviceAt,
            Offline = access.Offline,
            Decision = decision.IsPending ? "pending" : decision.IsGranted ? "grant" : "deny",
            Reason = decision.Reason.ToCode(),
            UnlockSeconds = (int)decision.UnlockFor.TotalSeconds,
            Detail = Json([
                ("technology", access.Technology),
                ("passbackViolation", decision.PassbackViolation ? "true" : null),
                ("escort", escortedBy?.Escort.Value),
                ("escortReader", escortedBy?.Entry?.ReaderId),
                ("escortEventId", escortedBy?.Entry?.EventId),
                ("escortSeq", escortedBy?.Entry?.Seq),
                .. extra]),
        };
        if (access.Source is not null && access.EventId is not null && access.Keyed)
        {
            batchEvents[(access.Source, access.EventId)] = batch.Count;
        }

        batch.Add(new Staged(entry)
        {
            Decision = decision,
            ReaderId = access.Source is null ? null : access.ReaderId,
            ReplyEventId = access.Keyed ? null : access.EventId,
            Linked = linked,
            MatchedTemplate = matchedTemplate,
            Commands = commands.IsDefault ? [] : commands,
            Cancels = cancels.IsDefault ? [] : cancels,
        });

        if (escort is not null)
        {
            // Each person left behind is reported once, in the innermost zone they are in: leaving the site out of the
            // vault leaves the visitor in the vault, and so in the hall around it, but that is one visitor alone.
            HashSet<PersonId>? reported = null;
            foreach (var (zone, leftBehind) in escort.AllLeft())
            {
                foreach (var person in leftBehind)
                {
                    if (!(reported ??= []).Add(person))
                    {
                        continue;
                    }

                    snapshot.Cardholders.People.TryGetValue(person, out var visitor);
                    snapshot.Cardholders.People.TryGetValue(escort.Person, out var escortPerson);
                    var who = visitor?.Kind == People.PersonKind.Visitor ? "visitor" : "escorted person";
                    StageAlarm(new Alarm(AlarmTypes.VisitorUnescorted, decision.Site?.Value, decision.Door?.Value, access.ReaderId,
                        $"{who} {person}{NameOf(visitor)} is still inside {zone}; their escort {escort.Person}{NameOf(escortPerson)} left through {access.ReaderId}")
                    {
                        PersonId = person.Value, // so that the visitor's own history (person=) holds it, as the escort's (escort=) does
                        Escort = escort.Person.Value,
                    }, now);
                }
            }
        }
    }

    // ---- two factors: card, then finger ------------------------------------------------------------

    /// <summary>
    /// A card passed every check at a two-factor door: ask the door's fingerprint reader to verify its holder. The verify
    /// command (with the holder's templates) is sent only after the pending row commits. A card already waiting at that
    /// reader is superseded (answered fingerprint_timeout, its request cancelled): one person at the reader at a time.
    /// </summary>
    private (AccessDecision Decision, string? Detail, ImmutableArray<(string Topic, byte[] Payload)> Commands) AskForFingerprint(
        string cardReaderId, Reader cardReader, ReaderEvent e, AccessDecision pending, Instant now, SiteTopology topology)
    {
        AccessDecision Final(AccessReason reason) => AccessDecision.Deny(reason, pending.Site, pending.Door, pending.Zone, pending.Person);

        if (e.Offline)
        {
            // A replayed card cannot be verified after the fact: it is recorded as what it was, a card without its finger.
            return (Final(AccessReason.FingerprintTimeout), "offline replay: no fingerprint verification possible", []);
        }

        var zone = pending.Zone is { } z && topology.Zones.TryGetValue(z, out var found) ? found : null;
        var fingerprintReader = topology.Readers.Values.FirstOrDefault(r => r.Kind == ReaderKind.Fingerprint && r.Door == cardReader.Door && r.Direction == cardReader.Direction);
        if (zone?.Fingerprint is not { } policy || fingerprintReader is null)
        {
            logger.LogError("Door {Door} needs a fingerprint but has no fingerprint reader facing {Direction}; denied.", cardReader.Door, cardReader.Direction);
            return (Final(AccessReason.FingerprintTimeout), "no fingerprint reader at this door", []);
        }

        var enrolled = templates.ActiveTemplates(pending.Person!.Value);
        if (enrolled.Count == 0)
        {
            // Enrolled according to the snapshot, but the store has nothing readable (revoked just now, or a key problem): fail closed.
            return (Final(AccessReason.FingerprintNotEnrolled), null, []);
        }

        if (verifications.TryGetValue(fingerprintReader.Id.Value, out var previous))
        {
            verifications = verifications.Remove(previous.FingerprintReader);
            StageVerificationEnd(previous, "superseded by another card at the same fingerprint reader", now);
        }

        var requestId = Guid.NewGuid().ToString("N");
        var timeout = (int)policy.Timeout.TotalSeconds;
        var verification = new Verification(requestId, fingerprintReader.Id.Value, cardReaderId, e.EventId, e.Card!, e.Technology!, pending.Person.Value,
            policy.Threshold, timeout, now + policy.Timeout, [.. enrolled.Select(t => t.TemplateId)]);
        verifications = verifications.SetItem(fingerprintReader.Id.Value, verification);
        var command = new ReaderCommand(Guid.NewGuid().ToString("N"), ReaderCommands.VerifyFingerprint, requestId, e.EventId, timeout, [.. enrolled]);
        return (pending, requestId, [(topics.ReaderCommands(fingerprintReader.Id.Value), WireFormat.Write(command))]);
    }

    /// <summary>
    /// A fingerprint reader's answer. Only an answer to the request pending at that very reader, in time, counts; a
    /// score at or above the zone's threshold makes the service decide the card again (everything may have changed
    /// since it was presented) with the second factor verified. The answer's row carries the final decision, which goes
    /// to both readers.
    /// </summary>
    private void StageFingerprint(string readerId, Reader? reader, ReaderEvent e, Instant now, LiveConfiguration.Snapshot snapshot)
    {
        var source = "readers/" + readerId;
        var row = new AccessRow(readerId, source, e.EventId, e.Seq, e.At, e.Offline, null, null);
        (string, object?)[] answer = [("requestId", e.RequestId), ("score", e.Score?.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("templateId", e.TemplateId)];
        if (reader?.Kind != ReaderKind.Fingerprint || !verifications.TryGetValue(readerId, out var v) || v.RequestId != e.RequestId)
        {
            // A finger alone never opens a door: no card is waiting here for this request.
            snapshot.Topology.Doors.TryGetValue(reader?.Door ?? default, out var atDoor);
            var unexpected = AccessDecision.Deny(reader is null ? AccessReason.UnknownReader : AccessReason.FingerprintUnexpected, atDoor?.Site, atDoor?.Id);
            StageAccess(row, unexpected, now, snapshot, answer);
            return;
        }

        // The card's final decision, taken now for a card presented live: a live row even when the finger came from the
        // reader's buffer (offline) in time, as it unlocks the door now; restarts rebuild anti-passback and escorts from
        // live grants. What the device said stays in the detail.
        verifications = verifications.Remove(readerId);
        var cardRow = row with { Card = v.Card, Technology = v.Technology, Offline = false };
        (string, object?)[] detail = [.. answer, ("threshold", v.Threshold.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("cardReader", v.CardReader), ("cardEventId", v.CardEventId), ("fingerOffline", e.Offline ? "true" : null)];
        var linked = (v.CardReader, v.CardEventId);
        snapshot.Topology.Doors.TryGetValue(reader.Door, out var door);
        snapshot.Topology.Sites.TryGetValue(door?.Site ?? default, out var site);
        var zone = door?.Destination(reader.Direction);
        // At the deadline the wait is over, as the tick ends it (Deadline <= now): which of the two comes first at that
        // very instant must not decide between a grant and a timeout.
        if (now >= v.Deadline)
        {
            StageAccess(cardRow, AccessDecision.Deny(AccessReason.FingerprintTimeout, door?.Site, door?.Id, zone, v.Person), now, snapshot, detail, linked);
            return;
        }

        if (e.TemplateId is { } named && !v.Templates.Contains(named))
        {
            // A template this request did not send (another person's, or none at all): the finger proves nothing about
            // this cardholder. A faulty or forged answer, not a wrong finger, so it does not count toward the lockout,
            // whatever its score: asked before the score, or a low one would lock the card and raise fingerprint_failures
            // against its holder for the reader's fault, and the row would not say to look at the reader.
            StageAccess(cardRow, AccessDecision.Deny(AccessReason.FingerprintMismatch, door?.Site, door?.Id, zone, v.Person), now, snapshot,
                [.. detail, ("why", "template not sent")], linked);
            return;
        }

        if (e.Score < v.Threshold)
        {
            var rules = site?.Fingerprints ?? FingerprintRules.Default;
            fingerprints = fingerprints.Mismatch(v.Card, now, rules, out var lockedUntil);
            StageAccess(cardRow, AccessDecision.Deny(AccessReason.FingerprintMismatch, door?.Site, door?.Id, zone, v.Person), now, snapshot, detail, linked);
            if (lockedUntil is { } until)
            {
                snapshot.Cardholders.People.TryGetValue(v.Person, out var person);
                StageAlarm(new Alarm(AlarmTypes.FingerprintFailures, door?.Site.Value, door?.Id.Value, readerId,
                    $"card {v.Card} of {v.Person}{NameOf(person)}: {rules.LockoutAfter} fingerprint mismatches in a row; the card is locked until {WireFormat.FormatInstant(until)}")
                {
                    Card = v.Card,
                    PersonId = v.Person.Value,
                    Until = until,
                }, now);
            }

            return;
        }

        if (!MayMatch(v, e.TemplateId, out var revoking))
        {
            // Revoked since the request (or being revoked: its audit row may already be durable): the finger proves nothing.
            StageAccess(cardRow, AccessDecision.Deny(AccessReason.FingerprintNotEnrolled, door?.Site, door?.Id, zone, v.Person), now, snapshot,
                [.. detail, ("why", "template revoked"), (ChangeInFlight, revoking ? "true" : null)], linked);
            return;
        }

        fingerprints = fingerprints.Matched(v.Card);
        escorts = escorts.Prune(now);
        var request = new AccessRequest(new ReaderId(v.CardReader), v.Card, v.Technology, now) { FingerprintVerified = true, FingerprintOf = v.Person };
        var (decision, stricter) = Decide(request, snapshot);
        StageAccess(cardRow, decision, now, snapshot, [.. detail, (ChangeInFlight, stricter ? "true" : null)], linked, decision.IsGranted ? e.TemplateId : null);
    }

    /// <summary>
    /// Whether the templates the finger may have matched are all still in force: the one the reader names (one it was
    /// sent), or, when it names none, every one sent. <paramref name="revoking"/>: one is refused only because its revocation is in flight.
    /// </summary>
    private bool MayMatch(Verification v, string? matched, out bool revoking)
    {
        revoking = false;
        ImmutableArray<string> candidates = matched is not null ? [matched] : v.Templates;
        foreach (var templateId in candidates)
        {
            if (!templates.MayMatch(v.Person, templateId, out var inFlight))
            {
                revoking = inFlight;
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Ends a verification without a finger (timed out, or superseded): a deny row for the card, its final answer, and a
    /// cancel to the fingerprint reader, which goes out even if the row cannot be written (<see cref="Staged.Cancels"/>).
    /// </summary>
    private void StageVerificationEnd(Verification v, string why, Instant now)
    {
        var cancel = new ReaderCommand(Guid.NewGuid().ToString("N"), ReaderCommands.CancelFingerprint, v.RequestId, v.CardEventId, 0, []);
        StageCardWaitEnd(v.CardReader, v.CardEventId, v.Card, v.Technology, v.Person, why, now,
            [("requestId", v.RequestId), ("fingerprintReader", v.FingerprintReader)],
            [(topics.ReaderCommands(v.FingerprintReader), WireFormat.Write(cancel))]);
    }

    /// <summary>
    /// Ends a card's wait for its finger as a deny <c>fingerprint_timeout</c>: a row of its own (the card event's row
    /// already says pending), the card reader's final answer under its eventId, and any <paramref name="cancels"/>.
    /// </summary>
    private void StageCardWaitEnd(string cardReaderId, string cardEventId, string card, string? technology, PersonId? person, string why, Instant now,
        (string Name, object? Value)[] detail, ImmutableArray<(string Topic, byte[] Payload)> cancels)
    {
        var topology = configuration.Topology;
        topology.Readers.TryGetValue(new ReaderId(cardReaderId), out var cardReader);
        Door? door = cardReader is not null && topology.Doors.TryGetValue(cardReader.Door, out var d) ? d : null;
        var decision = AccessDecision.Deny(AccessReason.FingerprintTimeout, door?.Site, door?.Id, door?.Destination(cardReader!.Direction), person);
        var row = new AccessRow(cardReaderId, null, null, null, null, false, card, technology);
        StageAccess(row, decision, now, configuration.Current, [.. detail, ("cardEventId", cardEventId), ("why", why)],
            (cardReaderId, cardEventId), cancels: cancels);
    }

    private void StageDoorEvent(string doorId, DoorEvent e, Instant now)
    {
        var source = "doors/" + doorId;
        var topology = configuration.Topology;
        topology.Doors.TryGetValue(new DoorId(doorId), out var door);
        if (e.Type == DoorEventType.Heartbeat)
        {
            // As a reader's: seq advances the baseline, nothing is logged. Only an accepted one says the controller is
            // alive now; a stale one (an MQTT redelivery, a captured one sent again) is dropped and proves nothing.
            if (replay.Check(source, e.Seq, e.At, e.Offline, now) is { } stale)
            {
                logger.LogDebug("Ignoring a heartbeat on door {Door}: {Why}", doorId, stale.Detail);
                ControllerRefused(door, stale, now, topology);
            }
            else
            {
                ControllerSeen(door, now, topology);
            }

            return;
        }

        switch (Seen(source, e.EventId, e.Seq, out var earlierSeq))
        {
            case EventIdUse.Duplicate:
                return;
            case EventIdUse.Reused:
                var reused = Reused(source, e.EventId, e.Seq, earlierSeq);
                ControllerRefused(door, reused, now, topology);
                StageReplayedDoorEvent(doorId, door, e, reused, now);
                return;
        }

        if (replay.Check(source, e.Seq, e.At, e.Offline, now) is { } rejection)
        {
            ControllerRefused(door, rejection, now, topology);
            StageReplayedDoorEvent(doorId, door, e, rejection, now);
            return;
        }

        var at = e.Offline ? e.At : now;
        var entry = new LogEntry
        {
            At = now,
            Kind = LogKinds.Door,
            SiteId = door?.Site.Value,
            DoorId = doorId,
            Source = source,
            EventId = e.EventId,
            DeviceSeq = e.Seq,
            DeviceAt = e.At,
            Offline = e.Offline,
            Reason = e.Type switch { DoorEventType.Opened => LogReasons.DoorOpened, DoorEventType.Closed => LogReasons.DoorClosed, _ => LogReasons.ExitRequest },
            Detail = door is null ? Json(("error", "unknown door")) : null,
        };
        batchEvents[(source, e.EventId)] = batch.Count;
        batch.Add(new Staged(entry));
        if (door is not null)
        {
            ControllerSeen(door, now, topology);
            StageAlarmIfAny(doors.Report(door, e.Type, at, now, e.Seq), now);
        }
    }

    /// <summary>The controller of <paramref name="door"/> was heard from: door_controller_online for each of its doors if it was offline.</summary>
    private void ControllerSeen(Door? door, Instant now, SiteTopology topology)
    {
        if (door is not null && topology.Controllers.TryGetValue(door.Controller, out var controller))
        {
            foreach (var alarm in controllers.Seen(controller, now, topology))
            {
                StageAlarm(alarm, now);
            }
        }
    }

    /// <summary>A message on a door of the controller was refused as a suspected replay: no sign of life, but its silence alarms say it arrived.</summary>
    private void ControllerRefused(Door? door, ReplayRejection rejection, Instant now, SiteTopology topology)
    {
        if (door is not null && topology.Controllers.TryGetValue(door.Controller, out var controller))
        {
            controllers.Refused(controller, now, rejection.Detail);
        }
    }

    // ---- life safety: fire release ---------------------------------------------------------------------

    /// <summary>
    /// A fire panel's event. An alarm is logged (kind alarm, reason fire_alarm, published like every alarm) and, unless
    /// the site is already released, releases every fail-safe door of the panel's site: one fire_release row listing
    /// them, then <c>release</c> retained to each. A clear is logged and relocks nothing. Fire events are not subject
    /// to the replay guard's clock and seq rules: refusing a real alarm over a panel's clock would be worse than any replay
    /// (a replayed alarm can only release doors, which the broker ACL already limits to the panel itself).
    /// </summary>
    private void StageFireEvent(string panelId, FireEvent e, Instant now)
    {
        var source = FireState.FireSourcePrefix + panelId;
        var use = Seen(source, e.EventId, e.Seq, out var earlierSeq);
        if (use == EventIdUse.Duplicate)
        {
            return;
        }

        // A fire is acted on whatever its id: under an eventId the panel used for another event (another seq) it is
        // logged apart from that one (the id in its detail) instead of being taken for a re-send and left undone.
        var eventId = use == EventIdUse.Reused ? null : e.EventId;
        (string, object?) reused = ("reusedEventId", eventId is null ? e.EventId : null);
        (string, object?) reusedSeq = ("earlierSeq", eventId is null ? earlierSeq : null);
        if (eventId is null)
        {
            logger.LogWarning("Fire event {EventId} from {Panel} has the eventId of its event of seq {Earlier}: acted on, logged apart.", e.EventId, panelId, earlierSeq);
        }
        else
        {
            batchEvents[(source, e.EventId)] = batch.Count;
        }

        var topology = configuration.Topology;
        if (!topology.FirePanels.TryGetValue(panelId, out var panel))
        {
            logger.LogWarning("Fire event {EventId} from {Panel}, which is not a fire panel of any site: logged, nothing released.", e.EventId, panelId);
            batch.Add(new Staged(new LogEntry
            {
                At = now,
                Kind = LogKinds.Security,
                Source = source,
                EventId = eventId,
                DeviceSeq = e.Seq,
                DeviceAt = e.At,
                Reason = LogReasons.UnknownFirePanel,
                Detail = Json(("type", e.Type == FireEventType.Alarm ? "alarm" : "clear"), ("detail", e.Detail), reused, reusedSeq),
            }));
            return;
        }

        var site = panel.Site.Value;
        if (e.Type == FireEventType.Clear)
        {
            fire = fire.Clear(site, panelId);
            logger.LogWarning("Fire panel {Panel} cleared its alarm; released doors stay released until an operator resets.", panelId);
            batch.Add(new Staged(new LogEntry
            {
                At = now,
                Kind = LogKinds.Safety,
                SiteId = site,
                Source = source,
                EventId = eventId,
                DeviceSeq = e.Seq,
                DeviceAt = e.At,
                Reason = FireReasons.Clear,
                Detail = Json(("detail", e.Detail), ("released", fire.Sites.ContainsKey(site) ? "true" : "false"), reused, reusedSeq),
            }));
            return;
        }

        logger.LogCritical("Fire alarm from panel {Panel} (site {Site}).", panelId, site);
        var message = new AlarmMessage(Guid.NewGuid().ToString("N"), now, AlarmTypes.FireAlarm, site, null, null, e.Detail ?? $"fire panel {panelId} reports a fire alarm");
        var alreadyReleased = fire.Sites.TryGetValue(site, out var current);
        fire = fire.Alarm(site, panelId);
        batch.Add(new Staged(new LogEntry
        {
            At = now,
            Kind = LogKinds.Alarm,
            SiteId = site,
            Source = source,
            EventId = eventId,
            DeviceSeq = e.Seq,
            DeviceAt = e.At,
            Reason = AlarmTypes.FireAlarm,
            Detail = Json(("alarmId", message.AlarmId), ("detail", message.Detail), reused, reusedSeq),
        })
        {
            Alarm = message,
            LifeSafety = true,
            FireChange = f => f.Alarm(site, panelId),

            // Already released: the doors get their release again (cheap, and it repairs a controller that missed it).
            Retained = alreadyReleased ? ReleaseCommands(current!.Doors) : [],
        });

        if (alreadyReleased)
        {
            return;
        }

        var released = topology.Doors.Values.Where(d => d.Site == panel.Site && d.FailSafe).Select(d => d.Id.Value).Order(StringComparer.Ordinal).ToImmutableArray();
        fire = fire.Release(site, panelId, now, released);
        foreach (var door in released)
        {
            doors.Released(new DoorId(door));
        }

        batch.Add(new Staged(new LogEntry
        {
            At = now,
            Kind = LogKinds.Safety,
            SiteId = site,
            Source = source,
            Reason = FireReasons.Release,
            Detail = Json(("panel", panelId), ("doors", string.Join(',', released))),
        })
        {
            Retained = ReleaseCommands(released),
            LifeSafety = true,
            FireChange = f => f.Release(site, panelId, now, released),
        });
    }

    private void StageFireReset(FireReset reset)
    {
        var now = clock.GetCurrentInstant();
        var scope = fire.Scope(reset.Site);
        var inAlarm = scope.PanelsInAlarm.Values.SelectMany(p => p).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToImmutableArray();
        var releases = scope.Sites.Values.OrderBy(s => s.SiteId, StringComparer.Ordinal).ToList();
        if (!fire.IsReleased || !scope.IsReleased)
        {
            var others = fire.Sites.Keys.Order(StringComparer.Ordinal).ToImmutableArray();
            reset.Done.TrySetResult(new FireResetResult(fire.IsReleased ? FireResetOutcome.OtherSitesOnly : FireResetOutcome.NotReleased, [], inAlarm, others));
            return;
        }

        if (!reset.Force && releases.Any(s => !s.Cleared))
        {
            reset.Done.TrySetResult(new FireResetResult(FireResetOutcome.NotCleared, [], inAlarm, [.. releases.Where(s => !s.Cleared).Select(s => s.SiteId)]));
            return;
        }

        var relocked = scope.ReleasedDoors.Order(StringComparer.Ordinal).ToImmutableArray();
        var sites = releases.Select(r => r.SiteId).ToImmutableArray();
        var othersReleased = fire.Sites.Count - releases.Count;

        // Every row is built before anything changes: a failure building one (a bug) leaves every release as it was,
        // as the operator is told, instead of some sites reset in memory with no row and no relock sent.
        var rows = new List<Staged>(releases.Count);
        for (var i = 0; i < releases.Count; i++)
        {
            var release = releases[i];
            var last = i == releases.Count - 1;
            rows.Add(new Staged(new LogEntry
            {
                At = now,
                Kind = LogKinds.Safety,
                SiteId = release.SiteId,
                Reason = FireReasons.Reset,
                Actor = reset.Actor,
                Detail = Json(
                    ("panel", release.Panel),
                    ("since", WireFormat.FormatInstant(release.Since)),
                    ("doors", string.Join(',', release.Doors)),
                    ("forced", reset.Force ? "true" : null),
                    ("panelsInAlarm", release.Cleared ? null : string.Join(',', release.PanelsInAlarm)),
                    ("tokenSite", reset.Site),
                    ("otherSitesReleased", reset.Site is null ? null : (long?)othersReleased),
                    ("remote", reset.Remote)),
            })
            {
                Retained = last ? RetainedDoorCommands(relocked, DoorCommands.Relock) : [],
                FireResetDone = last ? (reset.Done, new FireResetResult(FireResetOutcome.Reset, relocked, inAlarm, sites)) : null,
            });
        }

        foreach (var release in releases)
        {
            fire = fire.Reset(release.SiteId);
            foreach (var door in release.Doors)
            {
                doors.Relocked(new DoorId(door), now);
            }
        }

        batch.AddRange(rows);
    }

    private ImmutableArray<(string Topic, byte[] Payload)> ReleaseCommands(IEnumerable<string> doorIds) => RetainedDoorCommands(doorIds, DoorCommands.Release);

    private ImmutableArray<(string Topic, byte[] Payload)> RetainedDoorCommands(IEnumerable<string> doorIds, string command) =>
        [.. doorIds.Select(d => (topics.DoorCommands(d), WireFormat.Write(new DoorCommand(Guid.NewGuid().ToString("N"), command, 0))))];

    // ---- replay protection ----------------------------------------------------------------------------

    /// <summary>
    /// A reader event refused as a suspected replay: an access row (deny, replay_suspected) whose device_seq stays empty
    /// (the refused seq is in detail, so it never becomes a baseline at start-up), the deny to the reader, and an alarm
    /// at most once per device per <see cref="PipelineOptions.ReplayAlarmInterval"/>.
    /// </summary>
    private void StageReplayedReaderEvent(string readerId, Door? door, ReaderEvent e, ReplayRejection rejection, Instant now, LiveConfiguration.Snapshot snapshot)
    {
        logger.LogWarning("Refused event {EventId} from reader {Reader} as a suspected replay: {Why}", e.EventId, readerId, rejection.Detail);
        var source = "readers/" + readerId;
        var decision = AccessDecision.Deny(AccessReason.ReplaySuspected, door?.Site, door?.Id);
        StageAccess(new AccessRow(readerId, source, e.EventId, null, e.At, e.Offline, e.Card, e.Technology) { Keyed = rejection.Rule != ReplayRule.EventIdReused },
            decision, now, snapshot, ReplayDetail(e.Type.ToString(), rejection, e.EventId));
        StageReplayAlarm(source, door?.Site.Value, door?.Id.Value, readerId, $"reader {readerId}: event {e.EventId}", rejection, now);
        if (e.Type == ReaderEventType.Tamper)
        {
            // A tamper changes no state, so refusing it protects nothing, and the replay alarm is throttled and does not
            // say tamper: a reader whose clock or seq went wrong (a power cut) must not be opened unseen. Alarms fail loud.
            StageAlarm(new Alarm(AlarmTypes.Tamper, door?.Site.Value, door?.Id.Value, readerId,
                $"{e.Detail ?? "reader reports tamper"}; the event was refused as a suspected replay: {rejection.Detail}"), now);
        }
    }

    /// <summary>A door event refused as a suspected replay: a security row (nothing reaches door supervision) and the rate-limited alarm.</summary>
    private void StageReplayedDoorEvent(string doorId, Door? door, DoorEvent e, ReplayRejection rejection, Instant now)
    {
        logger.LogWarning("Refused event {EventId} from door {Door} as a suspected replay: {Why}", e.EventId, doorId, rejection.Detail);
        var source = "doors/" + doorId;
        // Under a reused eventId the row cannot be keyed by it: the earlier event's row is.
        var keyed = rejection.Rule != ReplayRule.EventIdReused;
        if (keyed)
        {
            batchEvents[(source, e.EventId)] = batch.Count;
        }

        batch.Add(new Staged(new LogEntry
        {
            At = now,
            Kind = LogKinds.Security,
            SiteId = door?.Site.Value,
            DoorId = doorId,
            Source = source,
            EventId = keyed ? e.EventId : null,
            DeviceAt = e.At,
            Offline = e.Offline,
            Reason = AccessReason.ReplaySuspected.ToCode(),
            Detail = Json(ReplayDetail(e.Type.ToString(), rejection, e.EventId)),
        }));
        StageReplayAlarm(source, door?.Site.Value, doorId, null, $"door {doorId}: event {e.EventId}", rejection, now);

        // The refused event cannot open anything, but a door really forced on a controller whose clock drifted must not
        // go unseen behind the throttled replay alarm. A live one happened now, and doors open only so often: each
        // alarms. Refused buffered ones (an outage longer than the offline window) are history: one a minute per door.
        if (door is not null && doors.Unverified(door, e.Type, !e.Offline, now, rejection.Detail) is { } forced
            && (!e.Offline || unverifiedReplays.ShouldAlarm(source, now)))
        {
            StageAlarm(e.Offline
                ? forced with { Detail = $"{forced.Detail}; further refused buffered openings of this door within {unverifiedReplays.Interval.TotalSeconds:0} s are logged without an alarm" }
                : forced, now);
        }
    }

    private void StageReplayAlarm(string source, string? siteId, string? doorId, string? readerId, string what, ReplayRejection rejection, Instant now)
    {
        if (replay.ShouldAlarm(source, now))
        {
            var last = rejection.LastSeq is { } l ? l.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";
            StageAlarm(new Alarm(AlarmTypes.ReplaySuspected, siteId, doorId, readerId,
                $"{what} refused as a suspected replay: {rejection.Detail} (seq {rejection.Seq}, last seen seq {last}); further refusals from this device within {options.ReplayAlarmInterval.TotalSeconds:0} s are logged without an alarm"), now);
        }
    }

    /// <summary>
    /// An event under an eventId the device used for another event (another seq): refused as a suspected replay (rule
    /// <c>event_id_reused</c>), its row kept apart from the earlier event's (no eventId column: the id is in its detail).
    /// </summary>
    private ReplayRejection Reused(string source, string eventId, long seq, long earlierSeq) =>
        new(ReplayRule.EventIdReused, seq, replay.LastSeq(source),
            $"eventId {eventId} was already used by this device's event of seq {earlierSeq.ToString(System.Globalization.CultureInfo.InvariantCulture)}; "
            + "an eventId names one event (a re-send repeats its seq)");

    private static (string Name, object? Value)[] ReplayDetail(string type, ReplayRejection rejection, string eventId) =>
    [
        ("type", type),
        ("eventId", rejection.Rule == ReplayRule.EventIdReused ? eventId : null),
        ("rule", rejection.Rule switch
        {
            ReplayRule.StaleSeq => "stale_seq",
            ReplayRule.TimeAhead => "time_ahead",
            ReplayRule.EventIdReused => "event_id_reused",
            _ => "time_behind",
        }),
        ("seq", rejection.Seq),
        ("lastSeq", rejection.LastSeq),
        ("why", rejection.Detail),
    ];

    private void StageSeqReset(SeqReset reset)
    {
        var previous = replay.LastSeq(reset.Source);
        var id = reset.Source.StartsWith("readers/", StringComparison.Ordinal) ? reset.Source["readers/".Length..] : null;

        // The baseline changes only once the row is durable (CommitAsync), and the reset closes its batch: the items
        // before it were decided with the old baseline, as its row's "previous" says, and no item after it is decided
        // with a baseline that a failed commit takes back. Undoing the reset instead would not be enough: the seqs that
        // later events of the batch used under the new baseline would be forgotten with it, though their rows are
        // logged late. An admin reset is rare; a batch ending early costs one more commit.
        var row = new Staged(new LogEntry
        {
            At = clock.GetCurrentInstant(),
            Kind = LogKinds.Admin,
            SiteId = reset.Site,
            ReaderId = id,
            DoorId = id is null && reset.Source.StartsWith("doors/", StringComparison.Ordinal) ? reset.Source["doors/".Length..] : null,
            Source = reset.Source,
            DeviceSeq = reset.Baseline,
            Reason = DeviceSeqBaselines.ResetReason,
            Actor = reset.Actor,
            Detail = Json(("baseline", reset.Baseline), ("previous", previous), ("remote", reset.Remote)),
        })
        { Appended = reset.Done };
        batch.Add(row);
        seqResetStaged = reset;
    }

    /// <param name="stored">
    /// Delivered from the broker's retained store (at the service's subscribe or start): the device's last known state.
    /// A stored <c>offline</c> still counts (nothing newer was published, or it would have replaced it), but a stored
    /// <c>online</c> is no sign of life: it may be hours old, from a device that hung with its connection up since, and
    /// taking it as one would report such a device back online at every reconnect of the service.
    /// </param>
    private void StageStatus(TopicAddress address, DeviceStatus status, bool stored, Instant now)
    {
        var isReader = address.Kind == TopicKind.ReaderStatus;
        var (reader, door) = StageDeviceRow(address, status.State == DeviceState.Online ? LogReasons.DeviceOnline : LogReasons.DeviceOffline, status, now, stored);
        if (stored && status.State == DeviceState.Online)
        {
            return;
        }

        if (!isReader && door is not null)
        {
            var topology = configuration.Topology;

            // A controller has one will, on one of its doors' status topics: it speaks for every door the controller drives.
            if (status.State == DeviceState.Online)
            {
                ControllerSeen(door, now, topology);
            }
            else if (topology.Controllers.TryGetValue(door.Controller, out var controller))
            {
                foreach (var offline in controllers.WentOffline(controller, door.Id, topology))
                {
                    StageAlarm(offline, now);
                }
            }

            return;
        }

        if (reader is null || door is null)
        {
            return;
        }

        var alarm = status.State == DeviceState.Online
            ? readers.Seen(reader, door, now)
            : readers.WentOffline(reader, door, "reader reported offline (status or MQTT last will)");
        StageAlarmIfAny(alarm, now);
    }

    /// <summary>A <c>device</c> row for a message on a status topic (<paramref name="status"/> null when it was cleared); the reader and door it is about, when known.</summary>
    private (Reader? Reader, Door? Door) StageDeviceRow(TopicAddress address, string reason, DeviceStatus? status, Instant now, bool stored = false)
    {
        var topology = configuration.Topology;
        var isReader = address.Kind == TopicKind.ReaderStatus;
        Reader? reader = null;
        Door? door = null;
        if (isReader && topology.Readers.TryGetValue(new ReaderId(address.DeviceId), out reader))
        {
            topology.Doors.TryGetValue(reader.Door, out door);
        }
        else if (!isReader)
        {
            topology.Doors.TryGetValue(new DoorId(address.DeviceId), out door);
        }

        batch.Add(new Staged(new LogEntry
        {
            At = now,
            Kind = LogKinds.Device,
            SiteId = door?.Site.Value,
            ReaderId = isReader ? address.DeviceId : null,
            DoorId = isReader ? door?.Id.Value : address.DeviceId,
            DeviceAt = status?.At,
            Reason = reason,
            Detail = status is null ? null : Json(("firmware", status.Firmware), ("retained", stored ? "true" : null)),
        }));
        return (reader, door);
    }

    /// <summary>
    /// A payload the service could not understand: a <c>malformed</c> row (the error and the byte count, never the
    /// payload), the deny to a reader, and a <c>malformed_event</c> alarm at most once per device per
    /// <see cref="PipelineOptions.MalformedAlarmInterval"/>, so that a device sending garbage cannot flood the alarms.
    /// </summary>
    private void StageMalformed(Inbound inbound, TopicAddress address, string? eventId, string error, Instant now)
    {
        var isReader = address.Kind is TopicKind.ReaderEvents or TopicKind.ReaderStatus;
        var device = isReader ? "readers/" + address.DeviceId
            : address.Kind is TopicKind.DoorEvents or TopicKind.DoorStatus ? "doors/" + address.DeviceId
            : address.Kind is TopicKind.FireEvents ? FireState.FireSourcePrefix + address.DeviceId
            : null;
        var source = address.Kind is TopicKind.ReaderEvents or TopicKind.DoorEvents or TopicKind.FireEvents ? device : null;
        // Its seq is unknown, so a malformed event under a seen eventId is taken as that event again.
        if (source is not null && eventId is not null && AnswerDuplicate(source, eventId, isReader ? address.DeviceId : null, seq: null, out _) == EventIdUse.Duplicate)
        {
            return;
        }

        logger.LogWarning("Malformed {Kind} message from {Device}: {Error}", address.Kind, address.DeviceId, error);
        var bytes = inbound.Payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var entry = new LogEntry
        {
            At = now,
            Kind = LogKinds.Malformed,
            ReaderId = isReader ? address.DeviceId : null,
            DoorId = isReader || address.Kind == TopicKind.FireEvents ? null : address.DeviceId,
            Source = source,
            EventId = source is null ? null : eventId,
            Decision = address.Kind == TopicKind.ReaderEvents ? "deny" : null,
            Reason = AccessReason.MalformedEvent.ToCode(),
            Detail = Json(("error", error), ("bytes", bytes)),
        };
        if (source is not null && eventId is not null)
        {
            batchEvents[(source, eventId)] = batch.Count;
        }

        batch.Add(new Staged(entry)
        {
            Decision = address.Kind == TopicKind.ReaderEvents ? AccessDecision.Deny(AccessReason.MalformedEvent) : null,
            ReaderId = address.Kind == TopicKind.ReaderEvents ? address.DeviceId : null,
            ReplyEventId = eventId,
        });

        // A message on a topic of no device (only the internal-error path gets here with one) is logged, not alarmed.
        if (device is not null && malformedAlarms.ShouldAlarm(device, now))
        {
            var topology = configuration.Topology;
            var isFirePanel = address.Kind == TopicKind.FireEvents;
            var doorId = isReader ? topology.Readers.GetValueOrDefault(new ReaderId(address.DeviceId))?.Door : isFirePanel ? (DoorId?)null : new DoorId(address.DeviceId);
            var door = doorId is { } known ? topology.Doors.GetValueOrDefault(known) : null;
            var what = isReader ? "reader" : isFirePanel ? "fire panel" : "door";
            var id = eventId is null ? "no readable eventId" : "eventId " + eventId;
            StageAlarm(new Alarm(AlarmTypes.MalformedEvent, door?.Site.Value, doorId?.Value, isReader ? address.DeviceId : null,
                $"{what} {address.DeviceId} sent a payload the service could not understand ({bytes} bytes, {id}): {error}; "
                + $"further malformed payloads from this device within {malformedAlarms.Interval.TotalSeconds:0} s are logged without an alarm"), now);
        }
    }

    private void StageAlarmIfAny(Alarm? alarm, Instant now)
    {
        if (alarm is { } a)
        {
            StageAlarm(a, now);
        }
    }

    /// <summary>
    /// Logs an alarm and publishes it, unless it is one of a storm (<see cref="AlarmTypes.Coalesced"/>: the same type about
    /// the same device within <see cref="PipelineOptions.AlarmStormInterval"/> of the last one published): then it is
    /// logged and held back, and the next one published says how many it stands for.
    /// </summary>
    private void StageAlarm(Alarm alarm, Instant now, string? source = null, ReaderEvent? cause = null)
    {
        var message = new AlarmMessage(Guid.NewGuid().ToString("N"), now, alarm.Type, alarm.SiteId, alarm.DoorId, alarm.ReaderId, alarm.Detail)
        {
            ControllerId = alarm.ControllerId,
        };
        var published = message;
        if (AlarmTypes.Coalesced.Contains(alarm.Type))
        {
            var device = alarm.ReaderId ?? alarm.DoorId ?? alarm.ControllerId;
            var storm = $"{alarm.Type} {device}";
            var heldBefore = storms.Take(storm, now);
            heldBack.Remove(storm);
            if (heldBefore is null)
            {
                heldBack[storm] = message;
                published = null;
            }
            else if (heldBefore > 0)
            {
                published = message with { Coalesced = heldBefore };
            }

            // A console keeps a device's state from the last offline/online alarm it received: one of the other state
            // held back now is older than this one, and published at its storm's end, after this one, it would say the
            // opposite of the truth (a reader gone offline shown online). It goes out now, before this one.
            if (published is not null && AlarmTypes.OppositeState(alarm.Type) is { } opposite
                && heldBack.Remove($"{opposite} {device}", out var superseded))
            {
                batch.Add(new Staged(null) { Alarm = superseded with { Coalesced = storms.EndEarly($"{opposite} {device}", now) - 1 } });
            }
        }

        if (source is not null && cause is not null)
        {
            batchEvents[(source, cause.EventId)] = batch.Count;
        }

        batch.Add(new Staged(new LogEntry
        {
            At = now,
            Kind = LogKinds.Alarm,
            SiteId = alarm.SiteId,
            ReaderId = alarm.ReaderId,
            DoorId = alarm.DoorId,
            Source = source,
            EventId = cause?.EventId,
            DeviceSeq = cause?.Seq,
            DeviceAt = cause?.At,
            Offline = cause?.Offline ?? false,
            Card = alarm.Card,
            PersonId = alarm.PersonId,
            Reason = alarm.Type,
            Detail = Json(("alarmId", message.AlarmId), ("detail", alarm.Detail), ("escort", alarm.Escort), ("until", alarm.Until is { } until ? WireFormat.FormatInstant(until) : null),
                ("controllerId", alarm.ControllerId), ("heldBack", published is null ? "true" : null), ("coalesced", (long?)published?.Coalesced)),
        })
        { Alarm = published });
    }

    /// <summary>
    /// Storms that went quiet for <see cref="PipelineOptions.AlarmStormInterval"/>: the last alarm held back of each is
    /// published now (already logged, under its own alarmId and time), standing for the others held back since the
    /// last one published, so that the console learns how the storm ended and how big it was.
    /// </summary>
    private void StageStormEnds(Instant now)
    {
        foreach (var (storm, held) in storms.Quieted(now).OrderBy(s => heldBack.GetValueOrDefault(s.Device)?.At))
        {
            if (heldBack.Remove(storm, out var last))
            {
                batch.Add(new Staged(null) { Alarm = last with { Coalesced = held - 1 } });
            }
        }
    }

    /// <summary>
    /// Whether an unanswered event (a door's, a fire panel's) was handled before (in memory, in the batch being built,
    /// among the rows kept during a log outage, or in the log itself), and if so whether it is the same event again or
    /// another event under the same eventId (<see cref="EventIdUse.Reused"/>, the earlier one's seq in
    /// <paramref name="earlierSeq"/>).
    /// </summary>
    private EventIdUse Seen(string source, string eventId, long seq, out long earlierSeq)
    {
        if (!recent.TryGet(source, eventId, out _, out var earlier))
        {
            if (batchEvents.TryGetValue((source, eventId), out var index))
            {
                earlier = batch[index].Entry?.DeviceSeq;
            }
            else if (LoggedOrKept(source, eventId) is { } row)
            {
                earlier = row.DeviceSeq;
            }
            else
            {
                earlierSeq = 0;
                return EventIdUse.New;
            }
        }

        return Compare(seq, earlier, out earlierSeq);
    }

    /// <summary>
    /// A re-send repeats its event's seq (§7.2); another seq under a seen eventId is another event (§7.4: an eventId names
    /// one event). Where the earlier row has no seq (a payload that could not be parsed, an event refused as a replay),
    /// an event with its eventId is taken as the same one, as before seqs were compared.
    /// </summary>
    private static EventIdUse Compare(long? seq, long? earlier, out long earlierSeq)
    {
        earlierSeq = earlier.GetValueOrDefault();
        return seq is { } s && earlier is { } e && s != e ? EventIdUse.Reused : EventIdUse.Duplicate;
    }

    /// <summary>What an event's (source, eventId) was before it: never seen, the same event again, or another event's.</summary>
    private enum EventIdUse
    {
        New,
        Duplicate,
        Reused,
    }

    /// <summary>The row of an event, from those kept during a log outage or from the log.</summary>
    private LogEntry? LoggedOrKept(string source, string eventId) => lateRows.Find(source, eventId) ?? writer.FindByEvent(source, eventId);

    /// <summary>
    /// A redelivered event (same reader, same eventId, same seq) gets the original decision again and no new row.
    /// Looks in the batch being built, then in memory, then in the log itself. Another event under a seen eventId (another
    /// seq; <paramref name="seq"/> null for a payload that could not be parsed) is not answered here: it is
    /// <see cref="EventIdUse.Reused"/>, the earlier one's seq in <paramref name="earlierSeq"/>.
    /// </summary>
    private EventIdUse AnswerDuplicate(string source, string eventId, string? readerId, long? seq, out long earlierSeq)
    {
        if (batchEvents.TryGetValue((source, eventId), out var index))
        {
            if (Compare(seq, batch[index].Entry?.DeviceSeq, out earlierSeq) == EventIdUse.Reused)
            {
                return EventIdUse.Reused;
            }

            batch.Add(new Staged(null) { DuplicateOf = index, ReaderId = readerId, ReplyEventId = eventId });
            return EventIdUse.Duplicate;
        }

        if (recent.TryGet(source, eventId, out var answer, out var earlier))
        {
            if (Compare(seq, earlier, out earlierSeq) == EventIdUse.Reused)
            {
                return EventIdUse.Reused;
            }
        }
        else
        {
            var row = LoggedOrKept(source, eventId);
            if (row is null)
            {
                earlierSeq = 0;
                return EventIdUse.New;
            }

            if (Compare(seq, row.DeviceSeq, out earlierSeq) == EventIdUse.Reused)
            {
                return EventIdUse.Reused;
            }

            // A card answered pending has its final decision on another row (the fingerprint event's, or a timeout's):
            // that is its latest answer, and a duplicate hears it.
            var latest = row.Decision == "pending" && readerId is not null ? writer.FindFinalAnswer(row) ?? row : row;
            answer = row.Kind is LogKinds.Access or LogKinds.Malformed
                ? new DecisionMessage(eventId, latest.Decision == "grant", latest.Reason ?? AccessReason.MalformedEvent.ToCode(), latest.DoorId, latest.UnlockSeconds ?? 0)
                {
                    Pending = latest.Decision == "pending",
                }
                : null;
            recent.Add(source, eventId, answer, row.DeviceSeq);
            if (answer is { Pending: true } && readerId is not null && row.Card is not null
                && !verifications.Values.Any(v => v.CardReader == readerId && v.CardEventId == eventId)
                && !batch.Exists(b => b.Linked is { } l && l.ReaderId == readerId && l.EventId == eventId))
            {
                // The card was waiting for a finger when the service stopped: that wait is over. It ends the way a wait
                // ends, logged as a timeout, so the reader hears a final answer instead of waiting for ever.
                StageCardWaitEnd(readerId, eventId, row.Card, null, row.PersonId is null ? null : new PersonId(row.PersonId),
                    "the service restarted while the card waited for its fingerprint", clock.GetCurrentInstant(), [], []);
                return EventIdUse.Duplicate;
            }
        }

        if (answer is not null && readerId is not null)
        {
            batch.Add(new Staged(null) { Reply = answer, ReaderId = readerId });
        }

        return EventIdUse.Duplicate;
    }

    // ---- commit, then act ---------------------------------------------------------------------------

    private async Task CommitAsync(DecisionStateCopy committed, CancellationToken stopping)
    {
        var rows = new List<LogEntry>(batch.Count);
        foreach (var staged in batch)
        {
            if (staged.Entry is not null)
            {
                rows.Add(staged.Entry);
            }
        }

        // After an outage, what happened meanwhile is written first, in the same transaction as this batch; on a quiet
        // site, by the next supervision tick (at most a second after the disk is back), not only with the next event:
        // until then the rows are only in memory, and the health check reports the log failing.
        var late = lateRows.IsEmpty || (rows.Count == 0 && !batch.Exists(b => b.Ticked is not null)) ? [] : lateRows.Flush(clock.GetCurrentInstant());
        IReadOnlyList<LogEntry> written;
        Exception? failure = null;
        long commitStarted = 0, committedAt = 0;
        try
        {
            IReadOnlyList<LogEntry> toWrite = late.Count == 0 ? rows : [.. late, .. rows];
            commitStarted = time.GetTimestamp();
            written = toWrite.Count == 0 ? [] : await commitRetry.ExecuteAsync(_ => ValueTask.FromResult(writer.Append(toWrite)), stopping);
            committedAt = time.GetTimestamp();
            if (rows.Count > 0)
            {
                Metrics.Commit.Record(time.GetElapsedTime(commitStarted, committedAt));
                Metrics.Committed(toWrite.Count);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !(ex is OperationCanceledException && stopping.IsCancellationRequested))
        {
            // Whatever it was (a full disk, an I/O error, or a bug): nothing of the batch is durable, so it fails closed,
            // and the pipeline's thread goes on to the next batch instead of ending with every swipe unanswered.
            committedAt = time.GetTimestamp();
            failure = ex;
            written = [];
            (passback, escorts, fingerprints, verifications) = committed;
            EndAnsweredWaits();
            logger.LogCritical(ex, "Entry log commit of {Count} rows failed; failing closed.", rows.Count + late.Count);
            var now = clock.GetCurrentInstant();
            foreach (var staged in batch.Where(b => b.Entry is not null && b.Appended is null))
            {
                lateRows.Keep(staged.Entry!, now, ex);
            }

            // Life safety is the exception to failing closed: a fire release goes out even without its row (and stays
            // in memory, so an operator can reset it); a reset without its row does not happen.
            fire = fireCommitted;
            foreach (var staged in batch.Where(b => b.LifeSafety && b.FireChange is not null))
            {
                fire = staged.FireChange!(fire);
            }

            foreach (var door in fire.ReleasedDoors)
            {
                doors.Released(new DoorId(door));
            }
        }

        if (seqResetStaged is { } seqReset)
        {
            // No change without a durable row: the operator hears 503 "not recorded", and the baseline is as it was.
            seqResetStaged = null;
            if (failure is null)
            {
                replay.Reset(seqReset.Source, seqReset.Baseline);
                if (seqReset.Source.StartsWith("doors/", StringComparison.Ordinal))
                {
                    // The door's seqs start again: its next position event is not older than the last one taken.
                    doors.SeqReset(new DoorId(seqReset.Source["doors/".Length..]));
                }
            }
        }

        var committedRows = written;
        if (failure is null && late.Count > 0)
        {
            lastLogFailureAlarm = null;
            logger.LogWarning("The entry log is writable again: {Count} rows kept during the outage were written late.", late.Count - 1);
            ClearLateRows();
            written = written.Skip(late.Count).ToList();
        }
        else if (failure is null && lateRows.JournalStale && lateRows.IsEmpty)
        {
            ClearLateRows();
        }

        PublishHealth();

        // Readers hear their decision first (they are what a person waits for), then the strikes, then everyone else.
        var outgoing = new List<(string Topic, byte[] Payload, bool Retain)>();
        var unlocks = new List<(string Topic, byte[] Payload, bool Retain)>();
        var commands = new List<(string Topic, byte[] Payload, bool Retain)>();
        var replies = new DecisionMessage?[batch.Count];
        var decided = new List<long>(batch.Count);
        var traced = trace is null ? null : new List<(int Outgoing, string ReaderId, string EventId, long Received)>();
        var rowIndex = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var staged = batch[i];
            var row = staged.Entry is null ? null : failure is null ? written[rowIndex++] : null;
            if (staged.Appended is not null)
            {
                if (row is not null)
                {
                    staged.Appended.TrySetResult(row);
                }
                else
                {
                    staged.Appended.TrySetException(new EntryLogUnavailableException("The entry log could not be written.", failure));
                }
            }

            staged.Ticked?.TrySetResult();
            if (staged.Retained.Length > 0 && (failure is null || staged.LifeSafety))
            {
                unlocks.AddRange(staged.Retained.Select(c => (c.Topic, c.Payload, true)));
            }

            if (staged.FireResetDone is { } fireReset)
            {
                if (failure is null)
                {
                    fireReset.Done.TrySetResult(fireReset.Result);
                }
                else
                {
                    fireReset.Done.TrySetException(new EntryLogUnavailableException("The entry log could not be written; nothing was relocked.", failure));
                }
            }

            // An alarm goes out even when its row could not be written (it is kept and written late, under the same
            // alarmId): a full disk must not blind the security console to a forced door. Grants fail closed; alarms
            // fail loud.
            if (staged.Alarm is not null)
            {
                outgoing.Add((topics.Alarms, WireFormat.Write(staged.Alarm), false));
            }

            if (row is not null && staged.Decision?.Escort?.Opened is { } opened)
            {
                // The people this escort brings in are linked to the escort's row by its sequence number too.
                escorts = escorts.WithEntrySeq(opened, row.Seq);
            }

            DecisionMessage? reply = staged.Reply;
            if (staged.Decision is { } decision)
            {
                var final = failure is null ? decision : decision.FailClosed();
                var eventId = staged.Entry?.EventId ?? staged.ReplyEventId;
                reply = Reply(eventId, final);
                // A failed row is kept for logging late (unless its caller waits for it): a redelivery hears the same deny.
                if ((failure is null || staged.Appended is null) && staged.Entry?.Source is { } source && staged.Entry.EventId is not null)
                {
                    recent.Set(source, staged.Entry.EventId, reply, staged.Entry.DeviceSeq);
                }

                if (staged.Linked is { } linked)
                {
                    // The card waiting for this finger hears the final answer under its own eventId.
                    var cardReply = Reply(linked.EventId, final);
                    outgoing.Add((topics.ReaderDecisions(linked.ReaderId), WireFormat.Write(cardReply), false));
                    recent.Set("readers/" + linked.ReaderId, linked.EventId, cardReply, seq: null);
                }

                if (final.IsGranted && final.Door is { } doorId && final.UnlockFor > Duration.Zero
                    && configuration.Topology.Doors.TryGetValue(doorId, out var door))
                {
                    doors.Granted(doorId, row!.At, row.At + final.UnlockFor);
                    var command = new DoorCommand(Guid.NewGuid().ToString("N"), "unlock", (int)final.UnlockFor.TotalSeconds);
                    unlocks.Add((topics.DoorCommands(door.Id.Value), WireFormat.Write(command), false));
                }

                // After the outage journal has what the log refused (the publishes below come after it), like every other message.
                commands.AddRange(staged.Cancels.Select(c => (c.Topic, c.Payload, false)));
                if (failure is null)
                {
                    commands.AddRange(staged.Commands.Select(c => (c.Topic, c.Payload, false)));
                    if (final.IsGranted && staged.MatchedTemplate is { } template)
                    {
                        templates.Matched(template, row!.At);
                    }
                }
            }
            else if (staged.Entry?.Source is { } src && staged.Entry.EventId is { } id && (failure is null || staged.Appended is null))
            {
                recent.Add(src, id, null, staged.Entry.DeviceSeq);
            }

            if (staged.DuplicateOf is { } original)
            {
                reply = replies[original] is { } first ? first with { } : null;
            }

            replies[i] = reply;
            if (reply is not null && staged.ReaderId is not null)
            {
                outgoing.Add((topics.ReaderDecisions(staged.ReaderId), WireFormat.Write(reply), false));
                if (i < batchReceived.Count && batchReceived[i] != 0 && reply.Pending is not true)
                {
                    decided.Add(batchReceived[i]);
                    if (reply.EventId is { } tracedId)
                    {
                        traced?.Add((outgoing.Count - 1, staged.ReaderId, tracedId, batchReceived[i]));
                    }
                }
            }
        }

        if (failure is not null)
        {
            RaiseLogFailure(failure, rows.Count, outgoing);

            // Before anyone hears the batch's denies: what the log refused goes to the outage journal on disk.
            PersistLateRows();
        }

        Volatile.Write(ref fireCommitted, fire);
        batch.Clear();
        batchEvents.Clear();
        batchReceived.Clear();
        foreach (var received in decided)
        {
            Metrics.Decision.Record(time.GetElapsedTime(received));
        }

        var handed = traced is null ? null : new long[outgoing.Count];
        for (var k = 0; k < outgoing.Count; k++)
        {
            if (IsDecision(outgoing[k].Topic))
            {
                _ = PublishAsync(outgoing[k].Topic, outgoing[k].Payload, outgoing[k].Retain, stopping);
                handed?[k] = time.GetTimestamp();
            }
        }

        foreach (var (topic, payload, retain) in unlocks.Concat(commands).Concat(outgoing.Where(o => !IsDecision(o.Topic))))
        {
            _ = PublishAsync(topic, payload, retain, stopping);
        }

        if (traced is { Count: > 0 })
        {
            // After every publish of the batch, so the trace's writing delays none of them.
            foreach (var (k, readerId, eventId, received) in traced)
            {
                trace!.Record(readerId, eventId, received, commitStarted, committedAt, handed![k]);
            }

            trace!.Flush();
            if (trace.Error is { } traceError && !traceFailureLogged)
            {
                traceFailureLogged = true;
                logger.LogWarning("The latency trace stopped: {Error}. Decisions are not affected.", traceError.Message);
            }
        }

        if (committedRows.Count > 0)
        {
            try
            {
                Committed?.Invoke(committedRows);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogError(ex, "A Committed handler failed.");
            }
        }
    }

    /// <summary>
    /// After a failed commit, ends again the fingerprint waits that this batch answered (timed out, superseded, or a
    /// finger): their card reader hears that final answer, deny/<c>log_failure</c>, and its row is kept to be logged late.
    /// Given back with the rest of the decision state, such a wait would time out again at the next tick: a second row
    /// for one wait, and a second, different answer. Ending a wait never opens anything; a wait this batch began is
    /// not given back at all (its verify command was never sent).
    /// </summary>
    private void EndAnsweredWaits()
    {
        foreach (var staged in batch)
        {
            if (staged.Linked is not { } card)
            {
                continue;
            }

            foreach (var (fingerprintReader, v) in verifications)
            {
                if (v.CardReader == card.ReaderId && v.CardEventId == card.EventId)
                {
                    verifications = verifications.Remove(fingerprintReader);
                    break;
                }
            }
        }
    }

    /// <summary>
    /// The <c>log_failure</c> alarm of a failed commit: the first of an outage at once, then at most one per
    /// <see cref="LogFailureAlarmInterval"/> (at a thousand swipes a second every batch fails: one alarm per batch would
    /// bury the console). Each one is also kept for the log, which gets it once it can be written.
    /// </summary>
    private void RaiseLogFailure(Exception failure, int rows, List<(string Topic, byte[] Payload, bool Retain)> outgoing)
    {
        var now = clock.GetCurrentInstant();
        if (lastLogFailureAlarm is { } last && now - last < LogFailureAlarmInterval)
        {
            return;
        }

        lastLogFailureAlarm = now;
        var detail = $"entry log commit failed ({LateRows.Describe(failure)}); {rows} events answered deny/log_failure in this batch, " +
            $"{lateRows.Count} rows kept to be logged when it recovers";
        var alarm = new AlarmMessage(Guid.NewGuid().ToString("N"), now, AlarmTypes.LogFailure, null, null, null, detail);
        outgoing.Add((topics.Alarms, WireFormat.Write(alarm), false));
        lateRows.Keep(new LogEntry
        {
            At = now,
            Kind = LogKinds.Alarm,
            Reason = AlarmTypes.LogFailure,
            Detail = Json(("alarmId", alarm.AlarmId), ("detail", detail)),
        }, now, failure);
    }

    /// <summary>
    /// At start: the rows of an outage the last run kept in the journal and did not live to write are taken back, to be
    /// written with the first commit (at the latest the first supervision tick), behind their outage row.
    /// </summary>
    private void RestoreLateRows(EntryLogWriter log)
    {
        if (journal?.Found.Outage is null)
        {
            return;
        }

        // The outage row, if the last run wrote it, comes after the log's last row when the outage began (the header's).
        var taken = lateRows.Restore(
            outage => log.OutageLogged(outage.Id, outage.LogHead, logger),
            row => row.Source is { } source && row.EventId is { } eventId && log.FindByEvent(source, eventId) is not null);
        if (taken > 0)
        {
            logger.LogWarning("The outage journal {Path} held {Count} rows of an entry-log outage that began {Since}; they are written to the log with the first commit.",
                journal.Path, taken, lateRows.Health().OutageSince);
        }

        logHealth = lateRows.Health();
    }

    /// <summary>
    /// At a stop during an entry-log outage: the rows kept in memory only (the outage journal could not be written, a
    /// read-only file system say, or was full or off) are lost with the process, and the entry log will never show them.
    /// The service's log, which a site forwards off the host, is then the only record that they existed, so it says how
    /// many and since when; the rows in the journal are taken back at the next start.
    /// </summary>
    private void SayWhatAnOutageLeaves()
    {
        var outage = lateRows.Health();
        if (outage.OutageSince is not { } since)
        {
            return;
        }

        var inMemoryOnly = outage.RowsKept - outage.RowsOnDisk;
        if (inMemoryOnly > 0 || outage.RowsLost > 0)
        {
            logger.LogCritical(
                "Stopping during an entry-log outage (commits failing since {Since}, {Error}): {Count} rows kept during it, the denies the readers heard among them, are lost with this stop and will not be in the entry log; {OnDisk} more are in the outage journal and are written at the next start, and {Lost} were lost earlier past the capacity.",
                WireFormat.FormatInstant(since), outage.Error, inMemoryOnly, outage.RowsOnDisk, outage.RowsLost);
        }
        else
        {
            logger.LogWarning("Stopping during an entry-log outage (commits failing since {Since}, {Error}): its {Count} rows are in the outage journal and are written to the log at the next start.",
                WireFormat.FormatInstant(since), outage.Error, outage.RowsOnDisk);
        }
    }

    private void PersistLateRows()
    {
        if (lateRows.Persist(writer.HeadSeq) is { } failure && !journalFailureLogged)
        {
            journalFailureLogged = true;
            logger.LogError(failure, "The outage journal could not be written: the rows kept during this outage are in memory only, and lost if the service stops before the log is writable again.");
        }
    }

    /// <summary>Takes a journal made while the service runs (<see cref="AdoptOutageJournalAsync"/>).</summary>
    private bool Adopt(OutageJournal made)
    {
        if (journal is not null || made.Found.Outage is not null)
        {
            return false;
        }

        journal = made;
        lateRows.Adopt(made);

        // During an outage no row has been written since it began: the log's head is still the one the header names.
        PersistLateRows();
        return true;
    }

    private void ClearLateRows()
    {
        journalFailureLogged = false;
        if (lateRows.Clear() is not { } failure)
        {
            journalClearFailureLogged = false;
        }
        else if (!journalClearFailureLogged)
        {
            // Once, not after every commit that tries again.
            journalClearFailureLogged = true;
            logger.LogError(failure, "The outage journal could not be emptied after its rows were written to the log; tried again after each commit.");
        }
    }

    /// <summary>What a health check reads from other threads (a new record only during an outage).</summary>
    private void PublishHealth()
    {
        Volatile.Write(ref logHealth, lateRows.Health());
        var topology = configuration.Topology;
        Volatile.Write(ref readersOffline, readers.OfflineCount(topology));
        var (controllersDown, doorsDown) = controllers.OfflineCounts(topology);
        Volatile.Write(ref controllersOffline, controllersDown);
        Volatile.Write(ref doorsOffline, doorsDown);
    }

    private static bool IsDecision(string topic) => topic.EndsWith("/decisions", StringComparison.Ordinal);

    private async Task PublishAsync(string topic, byte[] payload, bool retain, CancellationToken cancellationToken)
    {
        try
        {
            var started = time.GetTimestamp();
            await publisher.PublishAsync(topic, payload, retain, cancellationToken);
            if (IsDecision(topic))
            {
                Metrics.PublishAck.Record(time.GetElapsedTime(started));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Interlocked.Increment(ref publishFailures);
            logger.LogWarning("Publish to {Topic} failed ({Error}); the device will re-send and get the logged decision.", topic, ex.Message);
        }
    }

    private static DecisionMessage Reply(string? eventId, AccessDecision decision) =>
        new(eventId, decision.IsGranted, decision.Reason.ToCode(), decision.Door?.Value, (int)decision.UnlockFor.TotalSeconds) { Pending = decision.IsPending };

    [ThreadStatic]
    private static System.Buffers.ArrayBufferWriter<byte>? detailBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? detailWriter;

    private static string? Json(params (string Name, object? Value)[] fields)
    {
        if (Array.TrueForAll(fields, f => f.Value is null))
        {
            return null;
        }

        // A row's detail is built on the pipeline thread, one at a time: one buffer and writer serve them all.
        var buffer = detailBuffer ??= new System.Buffers.ArrayBufferWriter<byte>(256);
        var w = detailWriter ??= new Utf8JsonWriter(buffer);
        buffer.ResetWrittenCount();
        w.Reset(buffer);
        w.WriteStartObject();
        foreach (var (name, value) in fields)
        {
            switch (value)
            {
                case null:
                    break;
                case long number:
                    w.WriteNumber(name, number);
                    break;
                default:
                    w.WriteString(name, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }

        w.WriteEndObject();
        w.Flush();

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string NameOf(People.Person? person) => person is null ? "" : $" ({person.Name})";

    private static string Truncate(string text) => text.Length <= 128 ? text : text[..128] + "...";

    /// <summary>The decision state as of the last commit, restored if a batch cannot be committed.</summary>
    private readonly record struct DecisionStateCopy(
        PassbackState Passback, EscortState Escorts, FingerprintState Fingerprints, ImmutableDictionary<string, Verification> Verifications);

    /// <summary>The event an access row answers (source and eventId null for rows the service makes itself, such as a timeout).</summary>
    /// <summary>
    /// A swipe's row as it is logged. Not <see cref="Keyed"/>: its eventId is only answered under, not logged in the row's
    /// eventId column (whose (source, eventId) is unique): an event refused for reusing another event's id.
    /// </summary>
    private sealed record AccessRow(string ReaderId, string? Source, string? EventId, long? Seq, Instant? DeviceAt, bool Offline, string? Card, string? Technology)
    {
        public bool Keyed { get; init; } = true;
    }

    /// <summary>A card waiting for its holder's finger at a fingerprint reader.</summary>
    private sealed record Verification(
        string RequestId,
        string FingerprintReader,
        string CardReader,
        string CardEventId,
        string Card,
        string Technology,
        PersonId Person,
        int Threshold,
        int TimeoutSeconds,
        Instant Deadline,
        ImmutableArray<string> Templates);

    private abstract record Item
    {
        /// <summary>Tells whoever waits for the item that the pipeline failed to handle it (a bug in staging it).</summary>
        public abstract void Fail(Exception failure);
    }

    private sealed record Inbound(string Topic, ReadOnlyMemory<byte> Payload, long Received, bool FromRetainedStore = false) : Item
    {
        // Nobody waits on a device's message in the process: a reader hears its deny over MQTT (see Stage).
        public override void Fail(Exception failure)
        {
        }
    }

    private sealed record Append(LogEntry Entry, TaskCompletionSource<LogEntry> Done) : Item
    {
        public override void Fail(Exception failure) => Done.TrySetException(failure);
    }

    private sealed record AppendAll(IReadOnlyList<LogEntry> Entries, TaskCompletionSource<LogEntry>[] Done) : Item
    {
        public override void Fail(Exception failure)
        {
            foreach (var done in Done)
            {
                done.TrySetException(failure);
            }
        }
    }

    private sealed record SeqReset(string Source, long? Baseline, string Actor, string? Site, TaskCompletionSource<LogEntry> Done) : Item
    {
        /// <summary>The address of the HTTP request that asked for it (<see cref="RequestOrigin"/>), for its rows.</summary>
        public string? Remote { get; init; }

        public override void Fail(Exception failure) => Done.TrySetException(failure);
    }

    private sealed record FireReset(string Actor, bool Force, string? Site, TaskCompletionSource<FireResetResult> Done) : Item
    {
        /// <summary>The address of the HTTP request that asked for it (<see cref="RequestOrigin"/>), for its rows.</summary>
        public string? Remote { get; init; }

        public override void Fail(Exception failure) => Done.TrySetException(failure);
    }

    private sealed record FireReassert(TaskCompletionSource Done) : Item
    {
        public override void Fail(Exception failure) => Done.TrySetException(failure);
    }

    private sealed record AdoptJournal(OutageJournal Journal, TaskCompletionSource<bool> Done) : Item
    {
        public override void Fail(Exception failure) => Done.TrySetException(failure);
    }

    private sealed record Tick(TaskCompletionSource Done) : Item
    {
        /// <summary>Alarms to raise instead of running the checks; null for a regular supervision tick.</summary>
        public IReadOnlyList<Alarm>? Alarms { get; init; }

        public override void Fail(Exception failure) => Done.TrySetException(failure);
    }

    private sealed record StagingFailure(string Kind, Exception Failure);

    private sealed record Staged(LogEntry? Entry)
    {
        public AccessDecision? Decision { get; init; }

        public string? ReaderId { get; init; }

        public string? ReplyEventId { get; init; }

        public DecisionMessage? Reply { get; init; }

        public int? DuplicateOf { get; init; }

        public AlarmMessage? Alarm { get; init; }

        public TaskCompletionSource<LogEntry>? Appended { get; init; }

        public TaskCompletionSource? Ticked { get; init; }

        /// <summary>A card reader whose event this row finally answers (two factors): it gets the same decision under its eventId.</summary>
        public (string ReaderId, string EventId)? Linked { get; init; }

        /// <summary>The fingerprint template that matched, noted as used once the grant is durable.</summary>
        public string? MatchedTemplate { get; init; }

        /// <summary>Reader commands (verify) sent only once the row is durable.</summary>
        public ImmutableArray<(string Topic, byte[] Payload)> Commands { get; init; } = [];

        /// <summary>
        /// <c>cancel_fingerprint</c> to the fingerprint reader of a wait this row ends: sent whether or not the row is
        /// durable. The wait is over either way (its card hears deny), and a reader left prompting for a finger that
        /// can open nothing any more is worse than a cancel without its row: a cancel never opens anything.
        /// </summary>
        public ImmutableArray<(string Topic, byte[] Payload)> Cancels { get; init; } = [];

        /// <summary>Door commands published retained (fire release, relock) once the row is durable (or at once, when <see cref="LifeSafety"/>).</summary>
        public ImmutableArray<(string Topic, byte[] Payload)> Retained { get; init; } = [];

        /// <summary>A fire release: published and kept even if the commit fails (egress beats the log).</summary>
        public bool LifeSafety { get; init; }

        /// <summary>The change this row makes to the fire state, re-applied after a failed commit when <see cref="LifeSafety"/>.</summary>
        public Func<FireState, FireState>? FireChange { get; init; }

        /// <summary>An operator reset waiting for its rows.</summary>
        public (TaskCompletionSource<FireResetResult> Done, FireResetResult Result)? FireResetDone { get; init; }
    }
}

/// <summary>The entry log could not be written; whatever asked for the row must not proceed.</summary>
public sealed class EntryLogUnavailableException(string message, Exception? inner) : Exception(message, inner);

/// <summary>
/// The pipeline failed to handle a request (a bug, logged by the service; the inner exception says where): the request
/// did not complete, and the row it would have written was not. The pipeline goes on with the next items.
/// </summary>
public sealed class PipelineItemFailedException(string message, Exception inner) : Exception(message, inner);

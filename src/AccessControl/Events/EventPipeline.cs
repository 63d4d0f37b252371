using System.Text.Json;
using System.Threading.Channels;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.Fingerprints;
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
    private readonly IFingerprintTemplates fingerprints;
    private readonly DoorWatch doors = new();
    private readonly ReaderWatch readers;
    private readonly List<Staged> batch = [];
    private readonly Dictionary<(string Source, string EventId), int> batchEvents = [];
    private PassbackState passback = PassbackState.Empty;
    private EscortState escorts = EscortState.Empty;
    private Task? loop;
    private long publishFailures;

    public EventPipeline(
        LiveConfiguration configuration,
        EntryLogWriter writer,
        IMessagePublisher publisher,
        IClock clock,
        Topics topics,
        PipelineOptions options,
        ILogger<EventPipeline> logger,
        TimeProvider timeProvider,
        IFingerprintTemplates? fingerprints = null)
    {
        options.Validate();
        this.fingerprints = fingerprints ?? NoFingerprintTemplates.Instance;
        this.configuration = configuration;
        this.writer = writer;
        this.publisher = publisher;
        this.clock = clock;
        this.topics = topics;
        this.options = options;
        this.logger = logger;
        recent = new RecentDecisions(options.RecentEvents);
        readers = new ReaderWatch(clock.GetCurrentInstant());
        queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        // Transient lock contention (a reader holding the WAL during a checkpoint) is retried; anything else fails the batch closed.
        commitRetry = new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddRetry(new Polly.Retry.RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<SqliteException>(e => e.SqliteErrorCode is 5 or 6),
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

    public void Start(CancellationToken stopping) => loop ??= Task.Run(() => RunAsync(stopping), CancellationToken.None);

    /// <summary>Hands a received MQTT message to the pipeline. Copies nothing: the caller passes memory it no longer touches.</summary>
    public ValueTask EnqueueAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        queue.Writer.WriteAsync(new Inbound(topic, payload), cancellationToken);

    /// <summary>Appends a row (admin change, security event) in log order; completes when it is durable.</summary>
    public async Task<LogEntry> AppendAsync(LogEntry entry, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        await queue.Writer.WriteAsync(new Append(entry, done), cancellationToken);
        return await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs the supervision checks (held-open doors, silent readers) at the clock's current time.</summary>
    public async Task TickAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await queue.Writer.WriteAsync(new Tick(done), cancellationToken);
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
        await queue.Writer.WriteAsync(new Tick(done) { Alarms = alarms }, cancellationToken);
        await done.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        var reader = queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stopping))
            {
                var committedPassback = passback;
                var committedEscorts = escorts;
                while (batch.Count < options.MaxBatch && reader.TryRead(out var item))
                {
                    Stage(item);
                }

                await CommitAsync(committedPassback, committedEscorts, stopping);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            logger.LogInformation("Event pipeline stopped.");
        }
    }

    // ---- staging: decide and build the rows; nothing leaves the process yet ----------------------------

    private void Stage(Item item)
    {
        try
        {
            switch (item)
            {
                case Inbound inbound:
                    StageInbound(inbound);
                    break;
                case Append append:
                    batch.Add(new Staged(append.Entry) { Appended = append.Done });
                    break;
                case Tick tick:
                    var now = clock.GetCurrentInstant();
                    var topology = configuration.Topology;
                    escorts = escorts.Prune(now);
                    var alarms = tick.Alarms ?? [.. doors.Check(now, topology), .. readers.Check(now, topology)];
                    foreach (var alarm in alarms)
                    {
                        StageAlarm(alarm, now);
                    }

                    batch.Add(new Staged(null) { Ticked = tick.Done });
                    break;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug in handling one message must not stop the pipeline; the message is logged as malformed.
            logger.LogError(ex, "Unexpected failure handling a pipeline item.");
            if (item is Inbound inbound)
            {
                StageMalformed(inbound, topics.Parse(inbound.Topic), null, "internal error while handling the event", clock.GetCurrentInstant());
            }
        }
    }

    private void StageInbound(Inbound inbound)
    {
        var now = clock.GetCurrentInstant();
        var address = topics.Parse(inbound.Topic);
        var payload = new System.Buffers.ReadOnlySequence<byte>(inbound.Payload);
        switch (address.Kind)
        {
            case TopicKind.ReaderEvents:
                var parsed = WireFormat.ParseReaderEvent(payload, options.MaxPayloadBytes);
                if (!parsed.Success)
                {
                    StageMalformed(inbound, address, parsed.EventId, parsed.Error!, now);
                    return;
                }

                StageReaderEvent(address.DeviceId, parsed.Value!, now);
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

            case TopicKind.ReaderStatus:
            case TopicKind.DoorStatus:
                var status = WireFormat.ParseDeviceStatus(payload, options.MaxPayloadBytes);
                if (!status.Success)
                {
                    StageMalformed(inbound, address, null, status.Error!, now);
                    return;
                }

                StageStatus(address, status.Value!, now);
                return;

            default:
                logger.LogWarning("Ignoring a message on a topic the service does not handle: {Topic}", Truncate(inbound.Topic));
                return;
        }
    }

    private void StageReaderEvent(string readerId, ReaderEvent e, Instant now)
    {
        var snapshot = configuration.Current;
        var source = "readers/" + readerId;
        var known = snapshot.Topology.Readers.TryGetValue(new ReaderId(readerId), out var reader);
        Door? door = known && snapshot.Topology.Doors.TryGetValue(reader!.Door, out var d) ? d : null;
        if (known && door is not null)
        {
            StageAlarmIfAny(readers.Seen(reader!, door, now), now);
        }

        if (e.Type == ReaderEventType.Heartbeat)
        {
            return;
        }

        if (AnswerDuplicate(source, e.EventId, readerId))
        {
            return;
        }

        if (e.Type == ReaderEventType.Tamper)
        {
            var tamper = new Alarm(AlarmTypes.Tamper, door?.Site.Value, door?.Id.Value, readerId, e.Detail ?? "reader reports tamper");
            StageAlarm(tamper, now, source, e);
            return;
        }

        // Offline replays are decided at the time they happened (bounded), and open nothing now.
        var decideAt = e.Offline && e.At <= now && now - e.At <= options.OfflineWindow ? e.At : now;
        var request = new AccessRequest(new ReaderId(readerId), e.Card!, e.Technology!, decideAt);
        escorts = escorts.Prune(now);
        var decision = DecisionEngine.Decide(request, snapshot.Topology, snapshot.Cardholders, passback, escorts);
        if (e.Offline)
        {
            decision = decision with { Move = null, UnlockFor = Duration.Zero, Escort = null };
        }

        if (decision.Move is { } move)
        {
            passback = passback.Apply(move);
        }

        // Tentative like the passback move: rolled back with the batch if the commit fails.
        var escort = decision.Escort;
        if (escort is not null)
        {
            escorts = escorts.Apply(escort, escort.Opened is null ? null : new EscortEntry(readerId, e.EventId));
        }

        var escortedBy = escort?.Used;

        var entry = new LogEntry
        {
            At = now,
            Kind = LogKinds.Access,
            SiteId = decision.Site?.Value,
            ReaderId = readerId,
            DoorId = decision.Door?.Value,
            ZoneId = decision.Zone?.Value,
            PersonId = decision.Person?.Value,
            Card = e.Card,
            Source = source,
            EventId = e.EventId,
            DeviceSeq = e.Seq,
            DeviceAt = e.At,
            Offline = e.Offline,
            Decision = decision.IsGranted ? "grant" : "deny",
            Reason = decision.Reason.ToCode(),
            UnlockSeconds = (int)decision.UnlockFor.TotalSeconds,
            Detail = Json(
                ("technology", e.Technology),
                ("passbackViolation", decision.PassbackViolation ? "true" : null),
                ("escort", escortedBy?.Escort.Value),
                ("escortReader", escortedBy?.Entry?.ReaderId),
                ("escortEventId", escortedBy?.Entry?.EventId),
                ("escortSeq", escortedBy?.Entry?.Seq)),
        };
        batchEvents[(source, e.EventId)] = batch.Count;
        batch.Add(new Staged(entry) { Decision = decision, ReaderId = readerId });

        if (escort is { Left: { } zone, LeftUnescorted: { IsDefaultOrEmpty: false } leftBehind })
        {
            foreach (var person in leftBehind)
            {
                snapshot.Cardholders.People.TryGetValue(person, out var visitor);
                snapshot.Cardholders.People.TryGetValue(escort.Person, out var escortPerson);
                var who = visitor?.Kind == People.PersonKind.Visitor ? "visitor" : "escorted person";
                StageAlarm(new Alarm(AlarmTypes.VisitorUnescorted, decision.Site?.Value, decision.Door?.Value, readerId,
                    $"{who} {person}{NameOf(visitor)} is still inside {zone}; their escort {escort.Person}{NameOf(escortPerson)} left through {readerId}"), now);
            }
        }
    }

    private void StageDoorEvent(string doorId, DoorEvent e, Instant now)
    {
        var source = "doors/" + doorId;
        if (recent.TryGet(source, e.EventId, out _) || batchEvents.ContainsKey((source, e.EventId)) || writer.FindByEvent(source, e.EventId) is not null)
        {
            return;
        }

        var topology = configuration.Topology;
        topology.Doors.TryGetValue(new DoorId(doorId), out var door);
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
            Reason = e.Type switch { DoorEventType.Opened => "opened", DoorEventType.Closed => "closed", _ => "exit_request" },
            Detail = door is null ? Json(("error", "unknown door")) : null,
        };
        batchEvents[(source, e.EventId)] = batch.Count;
        batch.Add(new Staged(entry));
        if (door is not null)
        {
            StageAlarmIfAny(doors.Report(door, e.Type, at), now);
        }
    }

    private void StageStatus(TopicAddress address, DeviceStatus status, Instant now)
    {
        var topology = configuration.Topology;
        var isReader = address.Kind == TopicKind.ReaderStatus;
        Reader? reader = null;
        Door? door = null;
        if (isReader && topology.Readers.TryGetValue(new ReaderId(address.DeviceId), out reader))
        {
            topology.Doors.TryGetValue(reader.Door, out door);
        }

        batch.Add(new Staged(new LogEntry
        {
            At = now,
            Kind = LogKinds.Device,
            SiteId = door?.Site.Value,
            ReaderId = isReader ? address.DeviceId : null,
            DoorId = isReader ? door?.Id.Value : address.DeviceId,
            DeviceAt = status.At,
            Reason = status.State == DeviceState.Online ? "online" : "offline",
            Detail = Json(("firmware", status.Firmware)),
        }));

        if (reader is null || door is null)
        {
            return;
        }

        var alarm = status.State == DeviceState.Online
            ? readers.Seen(reader, door, now)
            : readers.WentOffline(reader, door, "reader reported offline (status or MQTT last will)");
        StageAlarmIfAny(alarm, now);
    }

    private void StageMalformed(Inbound inbound, TopicAddress address, string? eventId, string error, Instant now)
    {
        var isReader = address.Kind is TopicKind.ReaderEvents or TopicKind.ReaderStatus;
        var source = address.Kind is TopicKind.ReaderEvents ? "readers/" + address.DeviceId
            : address.Kind is TopicKind.DoorEvents ? "doors/" + address.DeviceId
            : null;
        if (source is not null && eventId is not null && AnswerDuplicate(source, eventId, isReader ? address.DeviceId : null))
        {
            return;
        }

        logger.LogWarning("Malformed {Kind} message from {Device}: {Error}", address.Kind, address.DeviceId, error);
        var entry = new LogEntry
        {
            At = now,
            Kind = LogKinds.Malformed,
            ReaderId = isReader ? address.DeviceId : null,
            DoorId = isReader ? null : address.DeviceId,
            Source = source,
            EventId = source is null ? null : eventId,
            Decision = address.Kind == TopicKind.ReaderEvents ? "deny" : null,
            Reason = AccessReason.MalformedEvent.ToCode(),
            Detail = Json(("error", error), ("bytes", inbound.Payload.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))),
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
    }

    private void StageAlarmIfAny(Alarm? alarm, Instant now)
    {
        if (alarm is { } a)
        {
            StageAlarm(a, now);
        }
    }

    private void StageAlarm(Alarm alarm, Instant now, string? source = null, ReaderEvent? cause = null)
    {
        var message = new AlarmMessage(Guid.NewGuid().ToString("N"), now, alarm.Type, alarm.SiteId, alarm.DoorId, alarm.ReaderId, alarm.Detail);
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
            Reason = alarm.Type,
            Detail = Json(("alarmId", message.AlarmId), ("detail", alarm.Detail)),
        })
        { Alarm = message });
    }

    /// <summary>
    /// A redelivered event (same reader, same eventId) gets the original decision again and no new row.
    /// Looks in the batch being built, then in memory, then in the log itself.
    /// </summary>
    private bool AnswerDuplicate(string source, string eventId, string? readerId)
    {
        if (batchEvents.TryGetValue((source, eventId), out var index))
        {
            batch.Add(new Staged(null) { DuplicateOf = index, ReaderId = readerId, ReplyEventId = eventId });
            return true;
        }

        if (!recent.TryGet(source, eventId, out var answer))
        {
            var row = writer.FindByEvent(source, eventId);
            if (row is null)
            {
                return false;
            }

            answer = row.Kind is LogKinds.Access or LogKinds.Malformed
                ? new DecisionMessage(eventId, row.Decision == "grant", row.Reason ?? AccessReason.MalformedEvent.ToCode(), row.DoorId, row.UnlockSeconds ?? 0)
                : null;
            recent.Add(source, eventId, answer);
        }

        if (answer is not null && readerId is not null)
        {
            batch.Add(new Staged(null) { Reply = answer, ReaderId = readerId });
        }

        return true;
    }

    // ---- commit, then act ---------------------------------------------------------------------------

    private async Task CommitAsync(PassbackState committedPassback, EscortState committedEscorts, CancellationToken stopping)
    {
        var rows = new List<LogEntry>(batch.Count);
        foreach (var staged in batch)
        {
            if (staged.Entry is not null)
            {
                rows.Add(staged.Entry);
            }
        }

        IReadOnlyList<LogEntry> written;
        Exception? failure = null;
        try
        {
            written = rows.Count == 0 ? [] : await commitRetry.ExecuteAsync(_ => ValueTask.FromResult(writer.Append(rows)), stopping);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or InvalidOperationException)
        {
            failure = ex;
            written = [];
            passback = committedPassback;
            escorts = committedEscorts;
            logger.LogCritical(ex, "Entry log commit of {Count} rows failed; failing closed.", rows.Count);
        }

        // Readers hear their decision first (they are what a person waits for), then the strikes, then everyone else.
        var outgoing = new List<(string Topic, byte[] Payload, bool Retain)>();
        var unlocks = new List<(string Topic, byte[] Payload, bool Retain)>();
        var replies = new DecisionMessage?[batch.Count];
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
            if (staged.Alarm is not null && failure is null)
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
                reply = new DecisionMessage(eventId, final.IsGranted, final.Reason.ToCode(), final.Door?.Value, (int)final.UnlockFor.TotalSeconds);
                if (failure is null && staged.Entry?.Source is { } source && eventId is not null)
                {
                    recent.Add(source, eventId, reply);
                }

                if (final.IsGranted && final.Door is { } doorId && final.UnlockFor > Duration.Zero
                    && configuration.Topology.Doors.TryGetValue(doorId, out var door))
                {
                    doors.Granted(doorId, row!.At + final.UnlockFor);
                    var command = new DoorCommand(Guid.NewGuid().ToString("N"), "unlock", (int)final.UnlockFor.TotalSeconds);
                    unlocks.Add((topics.DoorCommands(door.Id.Value), WireFormat.Write(command), false));
                }
            }
            else if (staged.Entry?.Source is { } src && staged.Entry.EventId is { } id && failure is null)
            {
                recent.Add(src, id, null);
            }

            if (staged.DuplicateOf is { } original)
            {
                reply = replies[original] is { } first ? first with { } : null;
            }

            replies[i] = reply;
            if (reply is not null && staged.ReaderId is not null)
            {
                outgoing.Add((topics.ReaderDecisions(staged.ReaderId), WireFormat.Write(reply), false));
            }
        }

        if (failure is not null)
        {
            var alarm = new AlarmMessage(Guid.NewGuid().ToString("N"), clock.GetCurrentInstant(), AlarmTypes.LogFailure, null, null, null,
                $"entry log commit failed ({failure.GetType().Name}); {rows.Count} events answered deny/log_failure");
            outgoing.Add((topics.Alarms, WireFormat.Write(alarm), false));
        }

        batch.Clear();
        batchEvents.Clear();
        foreach (var (topic, payload, retain) in outgoing.Where(o => o.Topic.EndsWith("/decisions", StringComparison.Ordinal))
            .Concat(unlocks)
            .Concat(outgoing.Where(o => !o.Topic.EndsWith("/decisions", StringComparison.Ordinal))))
        {
            _ = PublishAsync(topic, payload, retain, stopping);
        }

        if (written.Count > 0)
        {
            try
            {
                Committed?.Invoke(written);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogError(ex, "A Committed handler failed.");
            }
        }
    }

    private async Task PublishAsync(string topic, byte[] payload, bool retain, CancellationToken cancellationToken)
    {
        try
        {
            await publisher.PublishAsync(topic, payload, retain, cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Interlocked.Increment(ref publishFailures);
            logger.LogWarning("Publish to {Topic} failed ({Error}); the device will re-send and get the logged decision.", topic, ex.Message);
        }
    }

    private static string? Json(params (string Name, object? Value)[] fields)
    {
        if (fields.All(f => f.Value is null))
        {
            return null;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
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
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string NameOf(People.Person? person) => person is null ? "" : $" ({person.Name})";

    private static string Truncate(string text) => text.Length <= 128 ? text : text[..128] + "...";

    private abstract record Item;

    private sealed record Inbound(string Topic, ReadOnlyMemory<byte> Payload) : Item;

    private sealed record Append(LogEntry Entry, TaskCompletionSource<LogEntry> Done) : Item;

    private sealed record Tick(TaskCompletionSource Done) : Item
    {
        /// <summary>Alarms to raise instead of running the checks; null for a regular supervision tick.</summary>
        public IReadOnlyList<Alarm>? Alarms { get; init; }
    }

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
    }
}

/// <summary>The entry log could not be written; whatever asked for the row must not proceed.</summary>
public sealed class EntryLogUnavailableException(string message, Exception? inner) : Exception(message, inner);

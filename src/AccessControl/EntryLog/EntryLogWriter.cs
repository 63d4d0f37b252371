using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.EntryLog;

/// <summary>
/// Appends rows to the entry log, many per transaction (group commit). Owned by one thread, the event pipeline:
/// a single writer means no lock contention and a total order of rows. A call returns only after the commit,
/// i.e. after SQLite has fsync'ed the WAL, so whatever the caller does next (publishing a grant) is backed by a durable row.
/// </summary>
/// <remarks>
/// Every row is chained (<see cref="LogChain"/>): the writer keeps the chain head (last seq and hash) in memory, read
/// once at open, assigns each row's seq itself and hashes it before the INSERT, so the hot path costs one SHA-256 of
/// a few hundred bytes per row and no extra query. The head moves only after a commit: a failed batch leaves it where
/// the database is. With <see cref="LogCheckpointing"/>, every N rows a signed checkpoint is written in the same
/// transaction and then appended to the checkpoint file by a thread-pool thread (<see cref="FileCheckpoints"/>: the
/// file's fsync is not the swipe's to wait for); <see cref="CheckpointIfDue"/> (a periodic job) covers quiet periods.
/// A lock guards the few methods other threads call (periodic checkpoints); the pipeline never contends for it except
/// then, and never for the file. See docs/log-integrity.md.
/// </remarks>
public sealed class EntryLogWriter : IDisposable
{
    /// <summary>The actor of the rows the writer makes itself (a gap, an outage).</summary>
    public const string ServiceActor = "entry-log-writer";

    private const string InsertSql = """
        INSERT INTO entry_log (seq, at, kind, site_id, reader_id, door_id, zone_id, person_id, card, source, event_id,
                               device_seq, device_at, offline, decision, reason, unlock_seconds, actor, detail, hash)
        VALUES ($seq, $at, $kind, $site_id, $reader_id, $door_id, $zone_id, $person_id, $card, $source, $event_id,
                $device_seq, $device_at, $offline, $decision, $reason, $unlock_seconds, $actor, $detail, $hash)
        """;

    private const string InsertCheckpointSql =
        "INSERT INTO log_checkpoints (seq, hash, rows, at, key_id, signature) VALUES ($seq, $hash, $rows, $at, $key_id, $signature)";

    /// <summary>SQLITE_CONSTRAINT_PRIMARYKEY: another process (a purge from the CLI) appended since the head was read.</summary>
    private const int PrimaryKeyConflict = 1555;

    /// <summary>How the log's own rows write a time (purge and refusal rows).</summary>
    internal static readonly InstantPattern Rfc3339 = InstantPattern.CreateWithInvariantCulture("uuuu'-'MM'-'dd'T'HH':'mm':'ss.fff'Z'");

    private readonly Database database;
    private readonly SqliteConnection connection;

    // Run for every row and every new event: prepared once and bound without allocating (see RawStatement).
    private readonly RawStatement insert;
    private readonly RawStatement exists;
    private readonly SqliteCommand find;
    private readonly object?[] values = new object?[LogChain.ColumnCount];
    private readonly LogChain chain = new();
    private readonly Lock gate = new();
    private readonly LogCheckpointing? checkpointing;
    private readonly List<LogCheckpoint> unfiled = [];
    private readonly Lock filing = new();
    private readonly ILogger logger;
    private Task backgroundFiling = Task.CompletedTask;

    // The newest checkpoint written to the service's log (under `filing`): each is written there once.
    private long loggedUpTo;
    private bool disposed;
    private long headSeq;
    private Exception? unexpectedFailure;
    private byte[] headHash = LogChain.Start;
    private long purgedUpTo;
    private long lastCheckpointSeq;
    private Instant lastCheckpointAt;

    /// <summary>
    /// Opens the writer: reads the chain head and, on a database whose rows predate the chain, seals them once and
    /// records a <c>genesis</c> row. Without <paramref name="checkpointing"/> rows are chained but no checkpoint is signed.
    /// </summary>
    /// <param name="logger">
    /// Where each checkpoint's line is also written (<see cref="CheckpointLogged"/>): the service's own log, which a
    /// site forwards off the host to its central log server. Null: nowhere but the table and the file.
    /// </param>
    public EntryLogWriter(Database database, LogCheckpointing? checkpointing = null, ILogger? logger = null)
    {
        this.checkpointing = checkpointing;
        this.logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        this.database = database;
        connection = database.Open();
        try
        {
            // Checkpoints run in the background (EdgeService), not inside a swipe's commit.
            using (var pragma = connection.CreateCommand())
            {
                pragma.CommandText = "PRAGMA wal_autocheckpoint = 0";
                pragma.ExecuteNonQuery();
            }

            insert = new RawStatement(connection, InsertSql);
            exists = new RawStatement(connection, "SELECT 1 FROM entry_log WHERE source = $source AND event_id = $event_id");
            find = connection.CreateCommand();
            find.CommandText = $"SELECT {EntryLogQuery.Columns} FROM entry_log WHERE source = $source AND event_id = $event_id";
            find.Parameters.Add(new SqliteParameter { ParameterName = "$source" });
            find.Parameters.Add(new SqliteParameter { ParameterName = "$event_id" });
            find.Prepare();

            LoadHead();
            SealUnchainedRows();
            if (checkpointing is not null)
            {
                LoadLastCheckpoint(checkpointing.Clock.GetCurrentInstant());
                FileMissingCheckpoints();
            }
        }
        catch
        {
            // Nobody else will: the caller gets no writer to dispose, and the connection, left open, would hold the
            // file (its WAL, its locks) for as long as the process lives, one more with every attempt of a host that retries.
            find?.Dispose();
            exists?.Dispose();
            insert?.Dispose();
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The last row written (0 for an empty log).</summary>
    /// <remarks>
    /// Read without the writer's lock: the health check reads it, and a commit holds the lock for as long as it waits for
    /// the disk or for another process's lock on the file (the busy timeout, 5 s); the health check must answer meanwhile.
    /// The head only moves under the lock, after a commit, so a read gets the head before or after it, never a torn value.
    /// </remarks>
    public long HeadSeq => Volatile.Read(ref headSeq);

    /// <summary>Checkpoints committed to the database but not yet in the checkpoint file (the file could not be written); retried.</summary>
    public int UnfiledCheckpoints
    {
        get
        {
            lock (gate)
            {
                return unfiled.Count;
            }
        }
    }

    /// <summary>
    /// Appends the entries in one transaction and returns them with their sequence numbers.
    /// Throws <see cref="SqliteException"/> when the batch could not be committed; then nothing of it was written.
    /// </summary>
    public IReadOnlyList<LogEntry> Append(IReadOnlyList<LogEntry> entries)
    {
        if (entries.Count == 0)
        {
            return [];
        }

        lock (gate)
        {
            BeforeAppend?.Invoke();
            try
            {
                return AppendOnce(entries);
            }
            catch (SqliteException ex) when (ex.SqliteExtendedErrorCode == PrimaryKeyConflict)
            {
                // Another process appended (a purge from the CLI, whose steps append one after the other): take its head
                // again inside the retry's own write transaction, where no other writer can append before this one's rows.
                // (Taking it before the transaction left a window: the purge's next row took the number again, and the
                // swipe failed closed for no fault of the disk.)
                AfterConflict?.Invoke();
                return AppendOnce(entries, reloadHead: true);
            }
        }
    }

    /// <summary>Test hook: runs at every call of <see cref="Append"/>, holding the writer's lock, before the transaction begins.</summary>
    internal Action? BeforeAppend { get; set; }

    /// <summary>Test hook: runs when <see cref="Append"/> found its row number taken by another writer, before it tries again.</summary>
    internal Action? AfterConflict { get; set; }

    /// <summary>
    /// Signs a checkpoint when rows were added and <see cref="LogIntegrityOptions.CheckpointInterval"/> has passed since
    /// the last one; also retries checkpoint-file lines that could not be written. For a periodic job. Returns the new checkpoint.
    /// </summary>
    public LogCheckpoint? CheckpointIfDue()
    {
        if (checkpointing is null)
        {
            return null;
        }

        LogCheckpoint? checkpoint;
        lock (gate)
        {
            var now = checkpointing.Clock.GetCurrentInstant();
            checkpoint = headSeq > lastCheckpointSeq && now - lastCheckpointAt >= Duration.FromTimeSpan(checkpointing.Options.CheckpointInterval)
                ? CheckpointLocked(now)
                : null;
        }

        FileCheckpoints();
        return checkpoint;
    }

    /// <summary>
    /// At the service's start: records the rows written after the last signed checkpoint, if any, in an
    /// <c>integrity</c>/<c>unsigned_at_start</c> row (their range and count), before the next checkpoint signs them with
    /// the rest. A clean stop signs the head, so only a crash, the CLI (an admin row, a purge) or someone with the file
    /// leaves such rows; once signed, the last could not be told from the others, so the log says it first. Returns
    /// the row, or null when every row is signed (or checkpoints are off).
    /// </summary>
    public LogEntry? RecordUnsignedAtStart()
    {
        if (checkpointing is null)
        {
            return null;
        }

        long from, to;
        lock (gate)
        {
            (from, to) = (Math.Max(lastCheckpointSeq, purgedUpTo) + 1, headSeq);
        }

        if (to < from)
        {
            return null;
        }

        var rows = Scalar<long>("SELECT COUNT(*) FROM entry_log WHERE seq >= $from", ("$from", from));
        var entry = new LogEntry
        {
            At = checkpointing.Clock.GetCurrentInstant(),
            Kind = LogKinds.Integrity,
            Reason = LogKinds.UnsignedAtStartReason,
            Actor = ServiceActor,
            Detail = JsonSerializer.Serialize(new { fromSeq = from, toSeq = to, rows, lastCheckpointSeq }),
        };
        return Append([entry])[0];
    }

    /// <summary>Signs a checkpoint of the head now, if rows were added since the last one (at a clean stop, in tests).</summary>
    public LogCheckpoint? Checkpoint()
    {
        if (checkpointing is null)
        {
            return null;
        }

        LogCheckpoint? checkpoint;
        lock (gate)
        {
            checkpoint = headSeq > lastCheckpointSeq ? CheckpointLocked(checkpointing.Clock.GetCurrentInstant()) : null;
        }

        FileCheckpoints();
        return checkpoint;
    }

    /// <summary>The filing <see cref="Append"/> started last (filings run one at a time, so the earlier ones are done when it is).</summary>
    internal Task BackgroundFiling => Volatile.Read(ref backgroundFiling);

    /// <summary>
    /// Appends the checkpoints committed so far and not yet in the checkpoint file to it, each line fsync'ed; returns
    /// how many are still pending (0 unless the file cannot be written). When it returns, every checkpoint committed
    /// before the call is in the file or pending. <see cref="Append"/> starts one on the thread pool after a commit that
    /// made a checkpoint; the periodic job and a clean stop call it too. It takes the writer's lock only to copy and
    /// trim the pending list, so appends never wait for the file.
    /// </summary>
    public int FileCheckpoints()
    {
        if (checkpointing is null)
        {
            return 0;
        }

        lock (filing)
        {
            List<LogCheckpoint> pending;
            lock (gate)
            {
                if (disposed)
                {
                    return unfiled.Count;
                }

                pending = [.. unfiled];
            }

            // A file that cannot be written must not fail the swipe whose commit already succeeded: the line stays
            // pending (see UnfiledCheckpoints) and is retried, and `verify` reports the gap meanwhile.
            var filed = 0;
            foreach (var checkpoint in pending)
            {
                // The service's log first, whatever the file does: it is the copy that leaves the host (forwarded by
                // the journal to the site's log server), which whoever holds the data folder and its key cannot recall.
                if (checkpoint.Seq > loggedUpTo)
                {
                    logger.LogInformation(CheckpointLogged, CheckpointLogPrefix + "{CheckpointLine}", checkpoint.ToJsonLine());
                    loggedUpTo = checkpoint.Seq;
                }

                try
                {
                    CheckpointFile.Append(checkpointing.File, checkpoint);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    break;
                }

                filed++;
            }

            lock (gate)
            {
                // Only this method removes, under `filing`: the first `filed` entries are the ones just written.
                unfiled.RemoveRange(0, filed);
                return unfiled.Count;
            }
        }
    }

    /// <summary>
    /// The event of the service's log that carries a checkpoint: its message is <see cref="CheckpointLogPrefix"/> followed by
    /// the checkpoint file's line for it, byte for byte. A site whose journal is forwarded to a log server (PCI DSS 10.3.3)
    /// thus has every checkpoint off the host with no other setup, and an auditor makes a checkpoint file of them for
    /// <c>log verify --checkpoints</c> (docs/log-integrity.md, "An off-host copy through the service's log").
    /// </summary>
    public static readonly EventId CheckpointLogged = new(7101, "EntryLogCheckpoint");

    /// <summary>What precedes the checkpoint's JSON line in <see cref="CheckpointLogged"/>'s message.</summary>
    public const string CheckpointLogPrefix = "Entry log checkpoint signed: ";

    /// <summary>Rows deleted per step of a purge, at most (<see cref="Purge(Instant, string, Instant, LogRetention, OsAccount)"/>).</summary>
    public const int PurgeStepRows = 20_000;

    /// <summary>How long a purge leaves the database to the service's commits between two steps.</summary>
    internal static readonly TimeSpan PurgePause = TimeSpan.FromMilliseconds(30);

    /// <summary>
    /// The retention purge, the only way rows leave the log: deletes the rows recorded before <paramref name="before"/>,
    /// but never a row after the last signed checkpoint (so the purged range's last hash is vouched for by a signature),
    /// and never a row younger than <paramref name="retention"/>'s minimum: a <paramref name="before"/> within it is
    /// refused and nothing is deleted. Each purge row records the minimum applied and its reason; each refusal is
    /// recorded too (<see cref="Refuse"/>), so that an attempt to cut the log short is seen; and a purge that finds
    /// nothing to delete writes its row all the same (0 rows, <see cref="RecordNothingPurged"/>): every run is on record.
    /// </summary>
    /// <remarks>
    /// It goes in steps of at most <see cref="PurgeStepRows"/> rows, oldest first, each a purge of its own in one short
    /// transaction: an <c>integrity</c>/<c>purge</c> row naming the step's range and the hash of its last row (where
    /// <c>verify</c> starts from afterwards), the bound in <c>log_purge</c> (which is what lets the delete trigger
    /// through), then the delete. Between steps the database is left to the service's commits for a moment: one
    /// transaction over millions of rows would hold the write lock for as long as the whole delete takes, the service
    /// waits 5 s for it (busy_timeout), and every swipe after that would be denied <c>log_failure</c>. A purge stopped
    /// between steps leaves a log that verifies; running it again goes on from there.
    /// </remarks>
    /// <param name="osAccount">The OS account the purge runs as, recorded beside <paramref name="actor"/> in each row it writes (refusals too).</param>
    /// <exception cref="LogPurgeRefusalNotRecordedException">Refused, and the refusal's row could not be written.</exception>
    public LogPurgeResult Purge(Instant before, string actor, Instant now, LogRetention retention, OsAccount? osAccount = null) =>
        Purge(before, actor, now, retention, PurgeStepRows, int.MaxValue, osAccount);

    /// <summary><see cref="Purge(Instant, string, Instant, LogRetention, OsAccount)"/> with its step size, and at most <paramref name="maxSteps"/> steps (tests).</summary>
    internal LogPurgeResult Purge(Instant before, string actor, Instant now, LogRetention retention, int stepRows, int maxSteps, OsAccount? osAccount = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        ArgumentNullException.ThrowIfNull(retention);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepRows, 1);
        if (before > retention.LatestCutOff(now))
        {
            return Refuse(new LogPurgeRefusal(LogPurgeRefusal.WithinMinimumRetention, before, actor, retention.Minimum, retention.Reason, retention.Refusal(before, now)) { OsAccount = osAccount }, now);
        }

        // The bound is found outside the lock, through the log's time index (LogSnapshot), so that the pipeline's
        // appends do not wait for it. Checkpoints and rows are only ever added, so a bound found a moment ago is still
        // covered by a checkpoint and still before the cut-off.
        long? lastCheckpoint;
        long? bound;
        using (var log = LogSnapshot.Open(database))
        {
            using var checkpoint = log.Command("SELECT MAX(seq) FROM log_checkpoints");
            lastCheckpoint = checkpoint.ExecuteScalar() as long?;
            bound = lastCheckpoint is null ? null : log.LastSeqBefore(before, lastCheckpoint.Value);
        }

        if (lastCheckpoint is null)
        {
            return Refuse(new LogPurgeRefusal(LogPurgeRefusal.NoCheckpoint, before, actor, retention.Minimum, retention.Reason,
                "refused: no signed checkpoint yet: rows are purged only up to the last checkpoint. Nothing was purged") { OsAccount = osAccount }, now);
        }

        long first = 0, last = 0, rows = 0, steps = 0;
        long? firstPurgeSeq = null, purgeSeq = null;
        while (steps < maxSteps && PurgeStep(bound, before, actor, osAccount, now, retention, stepRows) is { } step)
        {
            first = steps == 0 ? step.FromSeq : first;
            (last, rows, steps) = (step.ToSeq, rows + step.Rows, steps + 1);
            firstPurgeSeq ??= step.PurgeSeq;
            purgeSeq = step.PurgeSeq;
            if (step.ToSeq < bound)
            {
                Thread.Sleep(PurgePause);
            }
        }

        if (steps == 0)
        {
            var nothing = RecordNothingPurged(before, actor, osAccount, now, retention);
            return new LogPurgeResult(LogPurgeOutcome.NothingToPurge, 0, 0, 0, nothing,
                $"no row before {Rfc3339.Format(before)} up to the last checkpoint (seq {lastCheckpoint}) is left to purge; recorded as row {nothing}");
        }

        var recorded = firstPurgeSeq == purgeSeq ? $"row {purgeSeq}" : $"rows {firstPurgeSeq}..{purgeSeq}";
        var left = last < bound ? $"; stopped before seq {bound}: run it again to go on" : "";
        return new LogPurgeResult(LogPurgeOutcome.Purged, first, last, rows, purgeSeq,
            $"purged {rows} rows (seq {first}..{last}){(steps > 1 ? $" in {steps} steps" : "")}; recorded as {recorded}; minimum retention {retention}{left}");
    }

    /// <summary>
    /// Records a refused purge in the chain, as a <c>security</c> row (<see cref="LogPurgeRefusal.ToEntry"/>), and returns
    /// the refusal with that row's seq as <see cref="LogPurgeResult.PurgeSeq"/>. Nothing is deleted.
    /// <see cref="Purge(Instant, string, Instant, LogRetention, OsAccount)"/> records its own refusals; a caller that refuses before
    /// it can call it (a configured minimum retention that is not allowed, <see cref="LogPurgeRefusal.ForSettings"/>)
    /// records its refusal here.
    /// </summary>
    /// <exception cref="LogPurgeRefusalNotRecordedException">The row could not be written (the log is unavailable).</exception>
    public LogPurgeResult Refuse(LogPurgeRefusal refusal, Instant now)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        IReadOnlyList<LogEntry> written;
        try
        {
            written = Append([refusal.ToEntry(now)]);
        }
        catch (SqliteException ex)
        {
            throw new LogPurgeRefusalNotRecordedException(refusal.Message, ex);
        }

        return new LogPurgeResult(LogPurgeOutcome.Refused, 0, 0, 0, written[0].Seq, refusal.Message);
    }

    /// <summary>Test hook: runs in each step of a purge just before the step begins its write transaction.</summary>
    internal Action? BeforePurgeStepTransaction { get; set; }

    /// <summary>
    /// The row of a purge that found nothing to delete, so that every run is on record (who, when, which cut-off, which
    /// minimum): a <c>purge</c> row like a step's, of 0 rows, whose range is the empty one after the log's purge horizon
    /// (<c>fromSeq</c> = <c>toSeq</c> + 1) and whose <c>lastHash</c> is the one the horizon's purge recorded (zeros when
    /// the log was never purged). So the newest purge row still says where the chain resumes, as <c>verify</c> reads it;
    /// nothing goes into <c>log_purge</c>, so the horizon (and what the delete trigger lets through) stays where it was.
    /// Returns the row's seq; throws <see cref="SqliteException"/> when it could not be written, and
    /// <see cref="LogPurgeInconsistentException"/>, writing nothing, when the horizon's purge row is not in the log.
    /// </summary>
    private long RecordNothingPurged(Instant before, string actor, OsAccount? osAccount, Instant now, LogRetention retention)
    {
        lock (gate)
        {
            using var transaction = connection.BeginTransaction();
            LoadHead(transaction);
            var lastHash = purgedUpTo == 0 ? Convert.ToHexStringLower(LogChain.Start) : HorizonLastHash(transaction);
            var entry = PurgeRow(new PurgeDetail(purgedUpTo + 1, purgedUpTo, 0, Rfc3339.Format(before), lastHash, retention.Iso, retention.Reason,
                osAccount?.User, osAccount?.Uid, osAccount?.LoginUid, osAccount?.LoginUser), actor, now);
            var (seq, hash) = WriteRows([entry], new LogEntry[1]);
            transaction.Commit();
            headSeq = seq;
            headHash = hash;
            return seq;
        }
    }

    /// <summary>
    /// The <c>lastHash</c> of the purge that made the horizon: the row <c>log_purge</c>'s highest bound names, which must
    /// be a <c>purge</c> row of that bound. (Not the newest purge row that can be found: a bound inserted into
    /// <c>log_purge</c> without its row would then have its range recorded with another purge's hash, in a row that looks right.)
    /// </summary>
    /// <exception cref="LogPurgeInconsistentException">The row is not in the log, or is not that purge.</exception>
    private string HorizonLastHash(SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT p.purge_seq, e.seq IS NOT NULL,
                   CASE WHEN e.kind = $kind AND e.reason = $reason AND json_valid(e.detail) AND json_extract(e.detail, '$.toSeq') = p.up_to_seq
                        THEN json_extract(e.detail, '$.lastHash') END
            FROM log_purge p LEFT JOIN entry_log e ON e.seq = p.purge_seq
            ORDER BY p.up_to_seq DESC, p.id DESC LIMIT 1
            """;
        command.Parameters.AddWithValue("$kind", LogKinds.Integrity);
        command.Parameters.AddWithValue("$reason", LogKinds.PurgeReason);
        using var reader = command.ExecuteReader();
        reader.Read();
        var purgeSeq = reader.GetInt64(0);
        if (!reader.IsDBNull(2))
        {
            return reader.GetString(2);
        }

        var row = reader.GetBoolean(1) ? $"row {purgeSeq} of the entry log is not the purge row of that range" : $"the entry log has no row {purgeSeq}";
        throw new LogPurgeInconsistentException(
            $"log_purge says rows up to seq {purgedUpTo} were purged by the purge recorded in row {purgeSeq}, but {row}: "
            + "the purge bound and the log disagree, which only someone with the file could have caused");
    }

    private static LogEntry PurgeRow(PurgeDetail detail, string actor, Instant now) => new()
    {
        At = now,
        Kind = LogKinds.Integrity,
        Reason = LogKinds.PurgeReason,
        Actor = actor,
        Detail = JsonSerializer.Serialize(detail, PurgeDetail.Json),
    };

    /// <summary>One step of a purge: the oldest rows up to <paramref name="bound"/>, at most <paramref name="stepRows"/>; null when none are left.</summary>
    private LogPurgeResult? PurgeStep(long? bound, Instant before, string actor, OsAccount? osAccount, Instant now, LogRetention retention, int stepRows)
    {
        lock (gate)
        {
            // The head is taken inside the step's own write transaction (BEGIN IMMEDIATE), where the service cannot append
            // before the step's row. (Taken before it, every swipe committed in between took the step's row number: the
            // step tried again, and on a busy site gave up after ten tries.)
            BeforePurgeStepTransaction?.Invoke();
            using var transaction = connection.BeginTransaction();
            LoadHead(transaction);
            if (bound is not { } upTo || upTo <= purgedUpTo)
            {
                return null;
            }

            var first = Scalar<long>(transaction, "SELECT MIN(seq) FROM entry_log WHERE seq <= $bound", ("$bound", upTo));
            var to = Scalar<long?>(transaction, "SELECT seq FROM entry_log WHERE seq <= $bound ORDER BY seq LIMIT 1 OFFSET $skip", ("$bound", upTo), ("$skip", stepRows - 1)) ?? upTo;
            var rows = Scalar<long>(transaction, "SELECT COUNT(*) FROM entry_log WHERE seq <= $to", ("$to", to));
            var lastHash = Scalar<byte[]>(transaction, "SELECT hash FROM entry_log WHERE seq = $to", ("$to", to));
            var entry = PurgeRow(new PurgeDetail(first, to, rows, Rfc3339.Format(before), Convert.ToHexStringLower(lastHash), retention.Iso, retention.Reason,
                osAccount?.User, osAccount?.Uid, osAccount?.LoginUid, osAccount?.LoginUser), actor, now);

            var written = new LogEntry[1];
            var (seq, hash) = WriteRows([entry], written);
            Execute(transaction, "INSERT INTO log_purge (up_to_seq, purge_seq, at, actor) VALUES ($bound, $purge, $at, $actor)",
                ("$bound", to), ("$purge", seq), ("$at", now.ToUnixTimeMilliseconds()), ("$actor", actor));
            Execute(transaction, "DELETE FROM entry_log WHERE seq <= $bound", ("$bound", to));
            transaction.Commit();
            headSeq = seq;
            headHash = hash;
            purgedUpTo = to;
            return new LogPurgeResult(LogPurgeOutcome.Purged, first, to, rows, seq, "");
        }
    }

    /// <summary>The row already written for a device's event, if any (the idempotency lookup).</summary>
    public LogEntry? FindByEvent(string source, string eventId)
    {
        // Under the lock like every use of the connection: the periodic checkpoint commits on another thread.
        lock (gate)
        {
            // Nearly always asked of a new event, which is not there: an allocation-free check first, the row only on a hit.
            exists.Bind(1, source);
            exists.Bind(2, eventId);
            if (!exists.Any())
            {
                return null;
            }

            find.Parameters[0].Value = source;
            find.Parameters[1].Value = eventId;
            using var reader = find.ExecuteReader();
            return reader.Read() ? EntryLogQuery.Read(reader) : null;
        }
    }

    /// <summary>The final decision's row of a card answered pending (see <see cref="EntryLogQuery.FindFinalAnswer"/>), read on a connection of its own.</summary>
    public LogEntry? FindFinalAnswer(LogEntry pending) => new EntryLogQuery(database).FindFinalAnswer(pending);

    /// <summary>
    /// Whether a row after <paramref name="afterSeq"/> is the outage row that names this outage journal
    /// (<c>integrity</c>/<c>outage</c>, <c>"journal":"&lt;id&gt;"</c>): at start, tells rows the service wrote just before
    /// it died from rows it never wrote. A range of the primary key, read once at start. A row whose detail the service
    /// did not write (a changed database) names no journal, with an error on <paramref name="logger"/>: the journal's
    /// rows are then taken back (each checked against the log on its own), never emptied on the word of such a row.
    /// </summary>
    internal bool OutageLogged(string journalId, long afterSeq, ILogger logger)
    {
        lock (gate)
        {
            using var command = connection.CreateCommand();
            command.CommandText = """
                SELECT seq, detail FROM entry_log
                WHERE seq > $from AND kind = 'integrity' AND reason = $outage AND detail LIKE '%' || $id || '%'
                """;
            command.Parameters.AddWithValue("$from", afterSeq);
            command.Parameters.AddWithValue("$id", journalId);
            command.Parameters.AddWithValue("$outage", Events.LateRows.OutageReason);
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                using var detail = StoredDetail.ParseObject(reader.GetInt64(0), reader.GetString(1), logger, "it is not taken as the row of the outage journal " + journalId);
                if (detail is not null && detail.RootElement.TryGetProperty("journal", out var named) && named.ValueKind == JsonValueKind.String
                    && named.GetString() == journalId)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Test hook for the fail-closed path: a connection-local trigger makes every insert fail inside SQLite, the
    /// way a full disk or an I/O error would surface (a <see cref="SqliteException"/> from the commit); false removes it.
    /// Under the writer's lock: created inside a batch in flight, the trigger would fail that batch and be rolled back with it.
    /// </summary>
    internal void SimulateWriteFailure(bool failing)
    {
        lock (gate)
        {
            using var command = connection.CreateCommand();
            command.CommandText = failing
                ? "CREATE TEMP TRIGGER IF NOT EXISTS simulated_write_failure BEFORE INSERT ON main.entry_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END"
                : "DROP TRIGGER IF EXISTS temp.simulated_write_failure";
            command.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Test hook for a failure nobody foresaw (a bug, an exception type the callers do not expect): every append throws
    /// <paramref name="failure"/> before touching the database; null removes it.
    /// </summary>
    internal void SimulateUnexpectedFailure(Exception? failure)
    {
        lock (gate)
        {
            unexpectedFailure = failure;
        }
    }

    /// <summary>
    /// Test hook for a full disk: caps the database at its current number of pages (SQLite <c>max_page_count</c>, on
    /// the writer's connection), so the next insert that needs a new page fails with <c>SQLITE_FULL</c> the way a full
    /// filesystem makes it fail; false lifts the cap. Returns the page count.
    /// </summary>
    internal long SimulateFullDatabase(bool full)
    {
        lock (gate)
        {
            using var count = connection.CreateCommand();
            count.CommandText = "PRAGMA page_count";
            var pages = (long)count.ExecuteScalar()!;
            using var cap = connection.CreateCommand();
            cap.CommandText = $"PRAGMA max_page_count = {(full ? pages : 4294967294L)}";
            cap.ExecuteNonQuery();
            return pages;
        }
    }

    public void Dispose()
    {
        // A filing in flight finishes first; none starts after (the folder may be deleted next).
        lock (filing)
        {
            lock (gate)
            {
                disposed = true;
            }
        }

        insert.Dispose();
        exists.Dispose();
        find.Dispose();
        connection.Dispose();
    }

    private IReadOnlyList<LogEntry> AppendOnce(IReadOnlyList<LogEntry> entries, bool reloadHead = false)
    {
        if (unexpectedFailure is { } failure)
        {
            throw failure;
        }

        ThrowIfFileMoved();
        var written = new LogEntry[entries.Count];
        LogCheckpoint? checkpoint = null;
        using var transaction = connection.BeginTransaction();
        if (reloadHead)
        {
            LoadHead(transaction);
        }

        var (seq, hash) = WriteRows(entries, written);
        if (checkpointing is not null && seq - lastCheckpointSeq >= checkpointing.Options.CheckpointEveryRows)
        {
            checkpoint = checkpointing.Key.Sign(seq, hash, seq - purgedUpTo, checkpointing.Clock.GetCurrentInstant());
            InsertCheckpoint(checkpoint, transaction);
        }

        transaction.Commit();

        // Only now does the head move: a batch that failed anywhere above left it where the database is.
        headSeq = seq;
        headHash = hash;
        if (checkpoint is not null)
        {
            Filed(checkpoint);
            Volatile.Write(ref backgroundFiling, Task.Run(FileCheckpoints));
        }

        return written;
    }

    /// <summary>Inserts and chains the rows after the head, in the transaction the caller has open on the connection; returns the new head (not yet adopted).</summary>
    private (long Seq, byte[] Hash) WriteRows(IReadOnlyList<LogEntry> entries, LogEntry[] written)
    {
        var seq = headSeq;
        var hash = headHash;
        for (var i = 0; i < entries.Count; i++)
        {
            seq++;
            Bind(entries[i], seq);
            hash = chain.Hash(hash, values);
            insert.Bind(LogChain.ColumnCount + 1, hash);
            insert.Execute();
            written[i] = entries[i] with { Seq = seq };
        }

        return (seq, hash);
    }

    /// <summary>
    /// Before each write transaction: the file this connection has open must still be the one at the database's path (one
    /// stat of the path per batch). Else the rows would be committed to a file nobody can read once the service stops,
    /// behind grants already published: the batch fails closed instead.
    /// </summary>
    private void ThrowIfFileMoved()
    {
        if (FileIdentity.HasMoved(connection))
        {
            throw FileIdentity.MovedError(database.Path);
        }
    }

    private LogCheckpoint CheckpointLocked(Instant now)
    {
        ThrowIfFileMoved();
        var checkpoint = checkpointing!.Key.Sign(headSeq, headHash, headSeq - purgedUpTo, now);
        using (var transaction = connection.BeginTransaction())
        {
            InsertCheckpoint(checkpoint, transaction);
            transaction.Commit();
        }

        Filed(checkpoint);
        return checkpoint;
    }

    private void InsertCheckpoint(LogCheckpoint checkpoint, SqliteTransaction transaction) =>
        Execute(transaction, InsertCheckpointSql, ("$seq", checkpoint.Seq), ("$hash", checkpoint.Hash), ("$rows", checkpoint.Rows),
            ("$at", checkpoint.At.ToUnixTimeMilliseconds()), ("$key_id", checkpoint.KeyId), ("$signature", checkpoint.Signature));

    /// <summary>A committed checkpoint: remembered, and pending for the file (<see cref="FileCheckpoints"/>), which the database already has.</summary>
    private void Filed(LogCheckpoint checkpoint)
    {
        lastCheckpointSeq = checkpoint.Seq;
        lastCheckpointAt = checkpoint.At;
        unfiled.Add(checkpoint);
    }

    /// <summary>After a crash between the commit and the file append, the file lacks the newest checkpoints: add them.</summary>
    private void FileMissingCheckpoints()
    {
        var inFile = CheckpointFile.ReadLast(checkpointing!.File)?.Seq ?? 0;
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, hash, rows, at, key_id, signature FROM log_checkpoints WHERE seq > $after ORDER BY seq";
        command.Parameters.AddWithValue("$after", inFile);
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                unfiled.Add(new LogCheckpoint(reader.GetInt64(0), (byte[])reader.GetValue(1), reader.GetInt64(2),
                    Instant.FromUnixTimeMilliseconds(reader.GetInt64(3)), reader.GetString(4), (byte[])reader.GetValue(5)));
            }
        }

        FileCheckpoints();
    }

    private void LoadHead(SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1";
        using (var reader = command.ExecuteReader())
        {
            if (reader.Read())
            {
                headSeq = reader.GetInt64(0);
                headHash = reader.IsDBNull(1) ? LogChain.Start : (byte[])reader.GetValue(1);
            }
            else
            {
                headSeq = 0;
                headHash = LogChain.Start;
            }
        }

        purgedUpTo = Scalar<long>(transaction, "SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge");
    }

    private void LoadLastCheckpoint(Instant now)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, at FROM log_checkpoints ORDER BY seq DESC LIMIT 1";
        using var reader = command.ExecuteReader();
        (lastCheckpointSeq, lastCheckpointAt) = reader.Read()
            ? (reader.GetInt64(0), Instant.FromUnixTimeMilliseconds(reader.GetInt64(1)))
            : (0, now);
    }

    /// <summary>
    /// The one-time upgrade of a log older than the chain (migration 0010): when no row has a hash yet, every row is
    /// hashed in seq order (filling a NULL hash is the only UPDATE the trigger allows) and a <c>genesis</c> row records
    /// it. Rows without a hash in a log that is already chained are not sealed: <c>verify</c> reports them.
    /// </summary>
    private void SealUnchainedRows()
    {
        if (headSeq == 0 || Scalar<long>("SELECT COUNT(*) FROM entry_log WHERE hash IS NOT NULL") > 0)
        {
            return;
        }

        using var transaction = connection.BeginTransaction();
        using var update = connection.CreateCommand();
        update.Transaction = transaction;
        update.CommandText = "UPDATE entry_log SET hash = $hash WHERE seq = $seq";
        var hashParameter = update.Parameters.Add(new SqliteParameter { ParameterName = "$hash" });
        var seqParameter = update.Parameters.Add(new SqliteParameter { ParameterName = "$seq" });
        var previous = LogChain.Start;
        long after = 0, sealedRows = 0, first = 0, lastAt = 0;
        while (true)
        {
            var page = new List<object[]>();
            using (var select = connection.CreateCommand())
            {
                select.Transaction = transaction;
                select.CommandText = $"SELECT {LogChain.Columns} FROM entry_log WHERE seq > $after ORDER BY seq LIMIT 5000";
                select.Parameters.AddWithValue("$after", after);
                using var reader = select.ExecuteReader();
                while (reader.Read())
                {
                    var row = new object[LogChain.ColumnCount];
                    reader.GetValues(row);
                    page.Add(row);
                }
            }

            if (page.Count == 0)
            {
                break;
            }

            foreach (var row in page)
            {
                previous = chain.Hash(previous, row);
                seqParameter.Value = row[0];
                hashParameter.Value = previous;
                update.ExecuteNonQuery();
                first = first == 0 ? (long)row[0] : first;
                after = (long)row[0];
                lastAt = Math.Max(lastAt, row[1] is long at ? at : 0);
                sealedRows++;
            }
        }

        headSeq = after;
        headHash = previous;
        var genesis = new LogEntry
        {
            At = checkpointing?.Clock.GetCurrentInstant() ?? Instant.FromUnixTimeMilliseconds(lastAt),
            Kind = LogKinds.Integrity,
            Reason = LogKinds.GenesisReason,
            Actor = ServiceActor,
            Detail = JsonSerializer.Serialize(new { chain = LogChain.Version1, sealedRows, fromSeq = first, toSeq = after }),
        };
        var written = new LogEntry[1];
        var (seq, hash) = WriteRows([genesis], written);
        transaction.Commit();
        headSeq = seq;
        headHash = hash;
    }

    private T Scalar<T>(string sql, params (string Name, object Value)[] arguments) => Scalar<T>(null, sql, arguments);

    private T Scalar<T>(SqliteTransaction? transaction, string sql, params (string Name, object Value)[] arguments)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in arguments)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var result = command.ExecuteScalar();
        return result is null or DBNull ? default! : (T)Convert.ChangeType(result, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), CultureInfo.InvariantCulture);
    }

    private void Execute(SqliteTransaction transaction, string sql, params (string Name, object Value)[] arguments)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in arguments)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }

    private void Bind(LogEntry e, long seq)
    {
        values[0] = seq;
        values[1] = e.At.ToUnixTimeMilliseconds();
        values[2] = e.Kind;
        values[3] = e.SiteId;
        values[4] = e.ReaderId;
        values[5] = e.DoorId;
        values[6] = e.ZoneId;
        values[7] = e.PersonId;
        values[8] = e.Card;
        values[9] = e.Source;
        values[10] = e.EventId;
        values[11] = e.DeviceSeq;
        values[12] = e.DeviceAt?.ToUnixTimeMilliseconds();
        values[13] = e.Offline ? 1L : 0L;
        values[14] = e.Decision;
        values[15] = e.Reason;
        values[16] = e.UnlockSeconds is { } unlock ? (long)unlock : null;
        values[17] = e.Actor;
        values[18] = e.Detail;
        for (var i = 0; i < LogChain.ColumnCount; i++)
        {
            insert.Bind(i + 1, values[i]);
        }
    }

    /// <summary>
    /// The <c>detail</c> of a purge row: the range purged and the hash of its last row, where the chain resumes; the
    /// minimum retention it was checked against (ISO 8601) and the reason for a shorter one, and the OS account the purge
    /// ran as (<see cref="OsAccount"/>; each null in rows of older versions; the login's only when it has one).
    /// </summary>
    internal sealed record PurgeDetail(long FromSeq, long ToSeq, long Rows, string Before, string LastHash, string? MinimumRetention = null, string? RetentionReason = null,
        string? OsUser = null, long? OsUid = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? LoginUid = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LoginUser = null)
    {
        /// <summary>camelCase, like the other rows' detail.</summary>
        public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    }
}

public enum LogPurgeOutcome
{
    Purged,
    NothingToPurge,
    Refused,
}

/// <summary>
/// What a retention purge did: the range deleted and the chain row that records it (<see cref="PurgeSeq"/>: the last
/// step's purge row, or the row that records a refusal).
/// </summary>
public sealed record LogPurgeResult(LogPurgeOutcome Outcome, long FromSeq, long ToSeq, long Rows, long? PurgeSeq, string Message);

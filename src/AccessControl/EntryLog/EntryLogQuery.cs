using System.Data.Common;
using System.Text;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.EntryLog;

/// <summary>Which time of a row a query's range [From, To) selects on.</summary>
public enum LogTime
{
    /// <summary>When the service recorded the row (<c>at</c>).</summary>
    Recorded,

    /// <summary>
    /// When it happened: for an event a device buffered while cut off and replayed later (<c>offline</c>), the device's
    /// time of it; for every other row, when it was recorded (<see cref="LogIndex.HappenedAtOfRow"/>).
    /// </summary>
    Happened,
}

/// <summary>A filter over the entry log. Every field is optional; the range is half-open [From, To).</summary>
public sealed record LogFilter
{
    public Instant? From { get; init; }

    public Instant? To { get; init; }

    /// <summary>Which time <see cref="From"/> and <see cref="To"/> select on. Rows come in log order (seq) either way.</summary>
    public LogTime Time { get; init; } = LogTime.Recorded;

    public string? SiteId { get; init; }

    public string? DoorId { get; init; }

    public string? ReaderId { get; init; }

    public string? PersonId { get; init; }

    /// <summary>
    /// Rows whose detail names this person as <c>escort</c>: the entries of the people they brought in (the row's
    /// person is the visitor, not them), the <c>visitor_unescorted</c> alarms of their leaving someone behind, and the
    /// <c>visit.escort_remove</c> rows that took them off a visit. Not the escort's own swipes.
    /// </summary>
    public string? Escort { get; init; }

    public string? Kind { get; init; }

    /// <summary>
    /// Rows naming this actor, exactly: the operator of a change or of a refused attempt, or a system actor
    /// (<c>hr-feed</c>, <c>retention-job</c>, <c>site-file:...</c>, <c>cli:...</c>). How an auditor asks "what did this
    /// operator change, and what were they refused?". Not in the query index: alone, it reads the log.
    /// </summary>
    public string? Actor { get; init; }

    /// <summary><c>grant</c>, <c>deny</c> or <c>pending</c> (a card waiting for its fingerprint).</summary>
    public string? Decision { get; init; }

    public string? Reason { get; init; }

    /// <summary>Only rows with a sequence number above this one (for paging and tailing).</summary>
    public long? AfterSeq { get; init; }

    public int Limit { get; init; } = 1000;
}

/// <summary>
/// Where the retention purge has cut the log (<c>log purge</c>): every row up to <see cref="UpToSeq"/> is gone, all
/// of them recorded before <see cref="Before"/> (the cut-off the newest purge recorded in its row,
/// <see cref="PurgeSeq"/>).
/// </summary>
public sealed record PurgeHorizon(Instant Before, long UpToSeq, long PurgeSeq)
{
    /// <summary>
    /// Whether a purged row could have matched <paramref name="filter"/>: its range does not start at or after
    /// <see cref="Before"/>, and its <c>after</c> is below <see cref="UpToSeq"/>. Then "no rows" there is not "none
    /// happened", and the answer must say so. A range of the time rows happened (<see cref="LogTime.Happened"/>) is not
    /// compared: the purge cut by recorded time, and a purged row's device time (ahead of its recording by the clock
    /// skew the pipeline allowed then) is gone with it, so such an answer always says what was purged.
    /// </summary>
    public bool Reaches(LogFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return (filter.From is null || filter.From < Before || filter.Time == LogTime.Happened) && (filter.AfterSeq is null || filter.AfterSeq < UpToSeq);
    }
}

/// <summary>The rows of a query, and the purge horizon when the query reaches into what was purged (else null).</summary>
public sealed record LogAnswer(IReadOnlyList<LogEntry> Rows, PurgeHorizon? Purged);

/// <summary>
/// Reads the entry log, on its own connection (WAL lets readers run beside the writer).
/// Used by the HTTP API, the CLI and tests.
/// </summary>
public sealed class EntryLogQuery(Database database)
{
    internal const string Columns =
        "seq, at, kind, site_id, reader_id, door_id, zone_id, person_id, card, source, event_id, device_seq, device_at, offline, decision, reason, unlock_seconds, actor, detail";

    public const int MaxLimit = 10_000;

    private static readonly string IndexedColumns = string.Join(", ", Columns.Split(", ").Select(c => "e." + c));

    /// <summary>
    /// Rows matching the filter in log order. A filter on time, site, door, person or escort goes through the log's index
    /// (<see cref="LogIndex"/>) for the rows it holds, and scans the few rows past its watermark.
    /// </summary>
    public IReadOnlyList<LogEntry> Find(LogFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        using var snapshot = LogSnapshot.Open(database);
        return Find(snapshot, filter);
    }

    /// <summary>
    /// <see cref="Find(LogFilter)"/> for a reader of the log as evidence: with the purge horizon, read in the same
    /// snapshot, when a purged row could have matched the filter (<see cref="PurgeHorizon.Reaches"/>).
    /// </summary>
    public LogAnswer Answer(LogFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        using var snapshot = LogSnapshot.Open(database);
        var rows = Find(snapshot, filter);
        return new LogAnswer(rows, Horizon(snapshot) is { } horizon && horizon.Reaches(filter) ? horizon : null);
    }

    /// <summary>
    /// The newest purge's horizon, or null when the log was never purged. The newest purge row is never purged
    /// itself (a purge deletes only rows before its own), so its cut-off is always there to read.
    /// </summary>
    private static PurgeHorizon? Horizon(LogSnapshot snapshot)
    {
        using var command = snapshot.Command("""
            SELECT p.up_to_seq, p.purge_seq, json_extract(e.detail, '$.before')
            FROM log_purge p JOIN entry_log e ON e.seq = p.purge_seq
            ORDER BY p.up_to_seq DESC LIMIT 1
            """);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var before = InstantPattern.ExtendedIso.Parse(reader.GetString(2)).GetValueOrThrow();
        return new PurgeHorizon(before, reader.GetInt64(0), reader.GetInt64(1));
    }

    private static List<LogEntry> Find(LogSnapshot snapshot, LogFilter filter)
    {
        if (filter.Limit is < 1 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(filter), $"Limit must be between 1 and {MaxLimit}.");
        }

        var rows = new List<LogEntry>();
        var indexable = filter.From is not null || filter.To is not null || filter.SiteId is not null || filter.DoorId is not null || filter.PersonId is not null
            || filter.Escort is not null;
        if (indexable && snapshot.Indexed)
        {
            Read(IndexedCommand(snapshot, filter), rows);
        }

        if (rows.Count < filter.Limit)
        {
            // Past the watermark, and past AfterSeq: one lower bound (given two, SQLite may scan from the lower one).
            var past = indexable && snapshot.Indexed ? Math.Max(snapshot.Watermark, filter.AfterSeq ?? 0) : filter.AfterSeq;
            Read(ScanCommand(snapshot, filter with { AfterSeq = past }, filter.Limit - rows.Count), rows);
        }

        return rows;
    }

    /// <summary>
    /// The row that carries the final decision of a card answered <c>pending</c> (<paramref name="pending"/> is the card's own
    /// row), or null while there is none: the fingerprint event's row (its detail names <c>cardReader</c> and
    /// <c>cardEventId</c>) or a timeout's row of its own (the card reader's, without a source, naming <c>cardEventId</c>).
    /// </summary>
    /// <remarks>
    /// Asked only when a duplicate of such a card is no longer answered from memory (after a restart, or once evicted).
    /// Both rows come after the card's and carry its holder, so the index's (person, at) b-tree picks the candidates: that
    /// person's rows, not the log's. Past the index's watermark (or without a usable index) the log is read by its primary
    /// key from the card's row on, which is the rows written since then.
    /// </remarks>
    public LogEntry? FindFinalAnswer(LogEntry pending)
    {
        ArgumentNullException.ThrowIfNull(pending);
        if (pending.PersonId is null || pending.ReaderId is null || pending.EventId is null)
        {
            return null;
        }

        const string Linked = """
            e.kind = 'access' AND e.decision <> 'pending' AND e.person_id = $person
            AND json_extract(e.detail, '$.cardEventId') = $event
            AND (json_extract(e.detail, '$.cardReader') = $reader OR (e.source IS NULL AND e.reader_id = $reader))
            """;
        using var snapshot = LogSnapshot.Open(database);
        var indexed = $"""
            SELECT {IndexedColumns} FROM ix.log_index i CROSS JOIN entry_log e ON e.seq = i.seq
            WHERE i.person_id = $person AND i.seq > $after AND {Linked}
            ORDER BY i.seq LIMIT 1
            """;
        var past = $"SELECT {IndexedColumns} FROM entry_log e WHERE e.seq > $past AND {Linked} ORDER BY e.seq LIMIT 1";
        string[] queries = snapshot.Indexed ? [indexed, past] : [past];
        foreach (var sql in queries)
        {
            using var command = snapshot.Command(sql);
            command.Parameters.AddWithValue("$person", pending.PersonId);
            command.Parameters.AddWithValue("$event", pending.EventId);
            command.Parameters.AddWithValue("$reader", pending.ReaderId);
            command.Parameters.AddWithValue("$after", pending.Seq);
            command.Parameters.AddWithValue("$past", Math.Max(pending.Seq, snapshot.Watermark));
            using var reader = command.ExecuteReader();
            if (reader.Read())
            {
                return Read(reader);
            }
        }

        return null;
    }

    /// <summary>Number of rows (all kinds).</summary>
    public long Count()
    {
        using var connection = database.OpenReadOnly();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM entry_log";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>The indexed rows (seq up to the watermark): the index picks them, the log supplies them and the other filters.</summary>
    internal static SqliteCommand IndexedCommand(LogSnapshot snapshot, LogFilter filter)
    {
        var command = snapshot.Command("");
        var sql = new StringBuilder($"SELECT {IndexedColumns} FROM ix.log_index i CROSS JOIN entry_log e ON e.seq = i.seq WHERE 1 = 1");
        AddFilters(command, sql, filter, indexed: "i.", row: "e.", escort: "i.escort_id", happened: "i.happened_at");
        sql.Append(" ORDER BY i.seq LIMIT $limit");
        command.Parameters.AddWithValue("$limit", filter.Limit);
        command.CommandText = sql.ToString();
        return command;
    }

    /// <summary>The log itself, scanned in seq order: all of it, or only past the index's watermark (as the filter's AfterSeq).</summary>
    private static SqliteCommand ScanCommand(LogSnapshot snapshot, LogFilter filter, int limit)
    {
        var command = snapshot.Command("");
        var sql = new StringBuilder($"SELECT {Columns} FROM entry_log WHERE 1 = 1");
        AddFilters(command, sql, filter, indexed: "", row: "", escort: $"({LogIndex.EscortOfRow})", happened: LogIndex.HappenedAtOfRow);
        sql.Append(" ORDER BY seq LIMIT $limit");
        command.Parameters.AddWithValue("$limit", limit);
        command.CommandText = sql.ToString();
        return command;
    }

    /// <summary>
    /// The filter's conditions; <paramref name="indexed"/> prefixes the columns the index holds, <paramref name="row"/>
    /// the others; <paramref name="escort"/> is the escort a row names: the index's column, or the log's detail read the
    /// way the index reads it (<see cref="LogIndex.EscortOfRow"/>); <paramref name="happened"/> likewise when a row
    /// happened (<see cref="LogIndex.HappenedAtOfRow"/>), the time a <see cref="LogTime.Happened"/> range selects on.
    /// </summary>
    private static void AddFilters(SqliteCommand command, StringBuilder sql, LogFilter filter, string indexed, string row, string escort, string happened)
    {
        var time = filter.Time == LogTime.Happened ? happened : $"{indexed}at";
        if ((filter.From is not null || filter.To is not null) && time.Contains(LogIndex.ReplaySuspectedParameter.Name, StringComparison.Ordinal))
        {
            command.Parameters.AddWithValue(LogIndex.ReplaySuspectedParameter.Name, LogIndex.ReplaySuspectedParameter.Value);
        }

        Add(command, sql, $"{time} >= $from", "$from", CeilingMilliseconds(filter.From));
        Add(command, sql, $"{time} < $to", "$to", CeilingMilliseconds(filter.To));
        Add(command, sql, $"{indexed}site_id = $site", "$site", filter.SiteId);
        Add(command, sql, $"{indexed}door_id = $door", "$door", filter.DoorId);
        Add(command, sql, $"{indexed}person_id = $person", "$person", filter.PersonId);
        Add(command, sql, $"{escort} = $escort", "$escort", filter.Escort);
        Add(command, sql, $"{indexed}seq > $after", "$after", filter.AfterSeq);
        Add(command, sql, $"{row}reader_id = $reader", "$reader", filter.ReaderId);
        Add(command, sql, $"{row}kind = $kind", "$kind", filter.Kind);
        Add(command, sql, $"{row}actor = $actor", "$actor", filter.Actor);
        Add(command, sql, $"{row}decision = $decision", "$decision", filter.Decision);
        Add(command, sql, $"{row}reason = $reason", "$reason", filter.Reason);
    }

    /// <summary>
    /// The first whole millisecond at or after <paramref name="instant"/>. Rows are recorded to the millisecond, so
    /// <c>at &gt;= ceiling(from)</c> is exactly <c>at &gt;= from</c> and <c>at &lt; ceiling(to)</c> exactly <c>at &lt; to</c>;
    /// rounding down would take in a row recorded before a <c>from</c> with a finer fraction (and leave out one before such a <c>to</c>).
    /// </summary>
    private static long? CeilingMilliseconds(Instant? instant)
    {
        if (instant is not { } given)
        {
            return null;
        }

        var milliseconds = given.ToUnixTimeMilliseconds();
        return Instant.FromUnixTimeMilliseconds(milliseconds) < given ? milliseconds + 1 : milliseconds;
    }

    private static void Read(SqliteCommand command, List<LogEntry> rows)
    {
        using (command)
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add(Read(reader));
            }
        }
    }

    internal static LogEntry Read(DbDataReader r) => new()
    {
        Seq = r.GetInt64(0),
        At = Instant.FromUnixTimeMilliseconds(r.GetInt64(1)),
        Kind = r.GetString(2),
        SiteId = Text(r, 3),
        ReaderId = Text(r, 4),
        DoorId = Text(r, 5),
        ZoneId = Text(r, 6),
        PersonId = Text(r, 7),
        Card = Text(r, 8),
        Source = Text(r, 9),
        EventId = Text(r, 10),
        DeviceSeq = r.IsDBNull(11) ? null : r.GetInt64(11),
        DeviceAt = r.IsDBNull(12) ? null : Instant.FromUnixTimeMilliseconds(r.GetInt64(12)),
        Offline = r.GetInt64(13) != 0,
        Decision = Text(r, 14),
        Reason = Text(r, 15),
        UnlockSeconds = r.IsDBNull(16) ? null : r.GetInt32(16),
        Actor = Text(r, 17),
        Detail = Text(r, 18),
    };

    private static string? Text(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static void Add(SqliteCommand command, StringBuilder sql, string clause, string name, object? value)
    {
        if (value is null)
        {
            return;
        }

        sql.Append(" AND ").Append(clause);
        command.Parameters.AddWithValue(name, value);
    }
}

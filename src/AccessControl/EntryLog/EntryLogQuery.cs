using System.Data.Common;
using System.Text;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>A filter over the entry log. Every field is optional; the range is half-open [From, To).</summary>
public sealed record LogFilter
{
    public Instant? From { get; init; }

    public Instant? To { get; init; }

    public string? SiteId { get; init; }

    public string? DoorId { get; init; }

    public string? ReaderId { get; init; }

    public string? PersonId { get; init; }

    public string? Kind { get; init; }

    /// <summary><c>grant</c>, <c>deny</c> or <c>pending</c> (a card waiting for its fingerprint).</summary>
    public string? Decision { get; init; }

    public string? Reason { get; init; }

    /// <summary>Only rows with a sequence number above this one (for paging and tailing).</summary>
    public long? AfterSeq { get; init; }

    public int Limit { get; init; } = 1000;
}

/// <summary>
/// Reads the entry log, on its own connection (WAL lets readers run beside the writer).
/// Used by the HTTP API, the CLI and tests.
/// </summary>
public sealed class EntryLogQuery(Database database)
{
    internal const string Columns =
        "seq, at, kind, site_id, reader_id, door_id, zone_id, person_id, card, source, event_id, device_seq, device_at, offline, decision, reason, unlock_seconds, actor, detail";

    public const int MaxLimit = 10_000;

    /// <summary>Rows matching the filter in log order.</summary>
    public IReadOnlyList<LogEntry> Find(LogFilter filter)
    {
        if (filter.Limit is < 1 or > MaxLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(filter), $"Limit must be between 1 and {MaxLimit}.");
        }

        using var connection = database.OpenReadOnly();
        using var command = connection.CreateCommand();
        var sql = new StringBuilder($"SELECT {Columns} FROM entry_log WHERE 1 = 1");
        Add(command, sql, "at >= $from", "$from", filter.From?.ToUnixTimeMilliseconds());
        Add(command, sql, "at < $to", "$to", filter.To?.ToUnixTimeMilliseconds());
        Add(command, sql, "site_id = $site", "$site", filter.SiteId);
        Add(command, sql, "door_id = $door", "$door", filter.DoorId);
        Add(command, sql, "reader_id = $reader", "$reader", filter.ReaderId);
        Add(command, sql, "person_id = $person", "$person", filter.PersonId);
        Add(command, sql, "kind = $kind", "$kind", filter.Kind);
        Add(command, sql, "decision = $decision", "$decision", filter.Decision);
        Add(command, sql, "reason = $reason", "$reason", filter.Reason);
        Add(command, sql, "seq > $after", "$after", filter.AfterSeq);
        sql.Append(" ORDER BY seq LIMIT $limit");
        command.Parameters.AddWithValue("$limit", filter.Limit);
        command.CommandText = sql.ToString();

        var rows = new List<LogEntry>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add(Read(reader));
        }

        return rows;
    }

    /// <summary>Number of rows (all kinds).</summary>
    public long Count()
    {
        using var connection = database.OpenReadOnly();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM entry_log";
        return (long)command.ExecuteScalar()!;
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

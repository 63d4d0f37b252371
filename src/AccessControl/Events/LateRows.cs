using System.Text.Json.Nodes;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using NodaTime;

namespace AccessControl.Events;

/// <summary>
/// What happened while the entry log could not be written (a full disk, a broken file), kept in memory until it can be:
/// "every entry and every denial is logged" holds through an outage, only late.
/// </summary>
/// <remarks>
/// <para>
/// While a commit fails, every decision in it was already turned into deny/<c>log_failure</c> (fail closed: no door opened
/// without its row), and the readers heard that deny. The rows are kept here as they were answered (access rows rewritten
/// to deny/<c>log_failure</c>, marked <c>"loggedLate":true</c> in their detail) together with the door events, alarms and
/// life-safety rows of the same batches, which happened whatever the log's state. The first commit that succeeds writes
/// them first, in the order they happened, behind one <c>integrity</c>/<c>outage</c> row saying when the outage began,
/// when it ended, how many rows were logged late and how many were lost to <see cref="Capacity"/>.
/// </para>
/// <para>
/// A redelivery of a kept event is answered from here (the same deny), so it is neither decided again nor logged twice.
/// Rows whose caller waits for the outcome (an admin change through the API) are not kept: the caller is told the change
/// did not happen. Memory is the limit: a service that dies during the outage loses what is kept (docs/reliability.md).
/// </para>
/// </remarks>
internal sealed class LateRows(int capacity)
{
    /// <summary>Reason of the <see cref="LogKinds.Integrity"/> row that heads the rows written after an outage.</summary>
    public const string OutageReason = "outage";

    private readonly List<LogEntry> rows = [];
    private readonly Dictionary<(string Source, string EventId), LogEntry> byEvent = [];
    private Instant? since;
    private string? firstError;
    private long lost;

    public int Capacity { get; } = capacity;

    public int Count => rows.Count;

    public bool IsEmpty => since is null;

    /// <summary>The outage as a health check sees it: <see cref="LogHealth.Writable"/> while nothing is kept.</summary>
    public LogHealth Health() => since is null ? LogHealth.Writable : new LogHealth(since, rows.Count, lost, firstError);

    /// <summary>Keeps a row the log refused. Returns false when <see cref="Capacity"/> is reached (the row is only counted).</summary>
    public bool Keep(LogEntry row, Instant now, Exception failure)
    {
        since ??= now;
        firstError ??= Describe(failure);
        if (rows.Count >= Capacity)
        {
            lost++;
            return false;
        }

        // An access row is kept as the reader heard it (deny/log_failure), with what the engine had decided beside it.
        var kept = row.Kind == LogKinds.Access
            ? row with { Decision = "deny", Reason = AccessReason.LogFailure.ToCode(), UnlockSeconds = 0, Detail = MarkLate(row.Detail, $"{row.Decision}/{row.Reason}") }
            : row with { Detail = MarkLate(row.Detail, null) };
        rows.Add(kept);
        if (kept.Source is { } source && kept.EventId is { } eventId)
        {
            byEvent.TryAdd((source, eventId), kept);
        }

        return true;
    }

    /// <summary>The kept row of this event, if it is waiting here to be logged.</summary>
    public LogEntry? Find(string source, string eventId) => byEvent.GetValueOrDefault((source, eventId));

    /// <summary>The rows to write in front of the next batch: the outage row, then what was kept, oldest first.</summary>
    public IReadOnlyList<LogEntry> Flush(Instant now)
    {
        if (since is not { } from)
        {
            return [];
        }

        var detail = new JsonObject
        {
            ["from"] = Protocol.WireFormat.FormatInstant(from),
            ["until"] = Protocol.WireFormat.FormatInstant(now),
            ["rows"] = rows.Count,
            ["lost"] = lost,
            ["error"] = firstError,
        };
        var outage = new LogEntry { At = now, Kind = LogKinds.Integrity, Reason = OutageReason, Detail = detail.ToJsonString() };
        return [outage, .. rows];
    }

    /// <summary>Forgets everything kept: called once the rows from <see cref="Flush"/> are committed.</summary>
    public void Clear()
    {
        rows.Clear();
        byEvent.Clear();
        since = null;
        firstError = null;
        lost = 0;
    }

    private static string MarkLate(string? detail, string? decided)
    {
        var node = detail is null ? new JsonObject() : JsonNode.Parse(detail) as JsonObject ?? new JsonObject { ["detail"] = detail };
        node["loggedLate"] = true;
        if (decided is not null)
        {
            node["decided"] = decided;
        }

        return node.ToJsonString();
    }

    // The type and SQLite's code name the failure without carrying a path or a value into the log.
    private static string Describe(Exception failure) =>
        failure is Microsoft.Data.Sqlite.SqliteException sqlite ? $"SqliteException {sqlite.SqliteErrorCode}" : failure.GetType().Name;
}

/// <summary>
/// Whether the entry log takes rows, for a health check: <paramref name="OutageSince"/> null while it does; during an
/// outage, since when, how many rows are kept in memory to be written late, how many were lost past the capacity, and
/// what the first failure was (a type and SQLite's code).
/// </summary>
public sealed record LogHealth(Instant? OutageSince, int RowsKept, long RowsLost, string? Error)
{
    public static LogHealth Writable { get; } = new(null, 0, 0, null);
}

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
/// did not happen.
/// </para>
/// <para>
/// With an <see cref="OutageJournal"/>, what a failed batch kept is also written to that file (<see cref="Persist"/>)
/// before the batch's denies are published, so a service that dies or is restarted during the outage takes the rows
/// back at its next start (<see cref="Restore"/>) instead of losing them. Without one, or past its size, memory is the
/// only copy (docs/reliability.md).
/// </para>
/// </remarks>
internal sealed class LateRows
{
    /// <summary>Reason of the <see cref="LogKinds.Integrity"/> row that heads the rows written after an outage.</summary>
    public const string OutageReason = "outage";

    private readonly List<LogEntry> rows = [];
    private readonly Dictionary<(string Source, string EventId), LogEntry> byEvent = [];
    private OutageJournal? journal;
    private readonly List<LogEntry> unjournalled = [];
    private Instant? since;
    private string? firstError;
    private long lost;
    private string? journalId;
    private int onDisk;
    private int restored;
    private bool journalStale;

    public LateRows(int capacity, OutageJournal? journal = null)
    {
        Capacity = capacity;
        this.journal = journal;
    }

    public int Capacity { get; }

    public int Count => rows.Count;

    public bool IsEmpty => since is null;

    /// <summary>The outage as a health check sees it: <see cref="LogHealth.Writable"/> while nothing is kept.</summary>
    public LogHealth Health() => since is null ? LogHealth.Writable : new LogHealth(since, rows.Count, lost, firstError) { RowsOnDisk = onDisk };

    /// <summary>Whether the journal still holds rows already written to the log (it could not be emptied): <see cref="Clear"/> again.</summary>
    public bool JournalStale => journalStale;

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
        if (journal is not null)
        {
            unjournalled.Add(kept);
        }

        if (kept.Source is { } source && kept.EventId is { } eventId)
        {
            byEvent.TryAdd((source, eventId), kept);
        }

        return true;
    }

    /// <summary>
    /// While the service runs: takes a journal made since the start (it could not be made then). What an outage in
    /// progress has kept so far goes into it with the next <see cref="Persist"/>, as if it had been there all along.
    /// </summary>
    public void Adopt(OutageJournal made)
    {
        if (journal is not null)
        {
            throw new InvalidOperationException("An outage journal is in use already.");
        }

        journal = made;
        unjournalled.AddRange(rows);
    }

    /// <summary>
    /// Writes what was kept since the last call to the journal, with one sync: called once per failed batch, before its
    /// answers go out, with the log's last row (<paramref name="logHead"/>: no row has been written since the outage
    /// began). Returns the failure when the journal could not be written (the rows stay in memory only).
    /// </summary>
    public Exception? Persist(long logHead)
    {
        if (journal is null || unjournalled.Count == 0 || since is not { } from)
        {
            return null;
        }

        try
        {
            if (journalStale)
            {
                journal.Clear();
                journalStale = false;
            }

            journalId ??= Guid.NewGuid().ToString("N");
            onDisk += journal.Append(new OutageJournal.Header(journalId, from, firstError, logHead), unjournalled);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex;
        }
        finally
        {
            unjournalled.Clear();
        }
    }

    /// <summary>
    /// At start: takes back the rows the journal holds, those of an outage the service did not live to write to the log.
    /// An outage whose row is already in the log (<paramref name="outageLogged"/>, given the journal's header: the
    /// service died after writing it and before emptying the journal) is only emptied, and a row already in the log
    /// (<paramref name="rowLogged"/>) is not taken twice. Returns how many rows were taken back.
    /// </summary>
    public int Restore(Func<OutageJournal.Header, bool> outageLogged, Func<LogEntry, bool> rowLogged)
    {
        if (journal?.Found is not { Outage: { } outage } found)
        {
            return 0;
        }

        if (outageLogged(outage))
        {
            ClearJournal();
            return 0;
        }

        since = outage.Since;
        firstError = outage.Error;
        journalId = outage.Id;
        foreach (var row in found.Rows.Where(r => !rowLogged(r)))
        {
            rows.Add(row);
            if (row.Source is { } source && row.EventId is { } eventId)
            {
                byEvent.TryAdd((source, eventId), row);
            }
        }

        restored = onDisk = rows.Count;
        return restored;
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
        if (journalId is not null)
        {
            // Names the journal, so a service that dies before emptying it knows at its next start that these rows are in the log.
            detail["journal"] = journalId;
            detail["onDisk"] = onDisk;
        }

        if (restored > 0)
        {
            detail["restoredAtStart"] = restored;
        }

        var outage = new LogEntry { At = now, Kind = LogKinds.Integrity, Reason = OutageReason, Detail = detail.ToJsonString() };
        return [outage, .. rows];
    }

    /// <summary>
    /// Forgets everything kept and empties the journal: called once the rows from <see cref="Flush"/> are committed.
    /// Returns the failure when the journal could not be emptied (<see cref="JournalStale"/>: tried again).
    /// </summary>
    public Exception? Clear()
    {
        rows.Clear();
        byEvent.Clear();
        unjournalled.Clear();
        since = null;
        firstError = null;
        lost = 0;
        journalId = null;
        onDisk = 0;
        restored = 0;
        return ClearJournal();
    }

    private Exception? ClearJournal()
    {
        if (journal is null || (!journal.InUse && !journalStale))
        {
            return null;
        }

        try
        {
            journal.Clear();
            journalStale = false;
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            journalStale = true;
            return ex;
        }
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

    /// <summary>The type and SQLite's code name the failure without carrying a path or a value into the log (or an alarm).</summary>
    internal static string Describe(Exception failure) =>
        failure is Microsoft.Data.Sqlite.SqliteException sqlite ? $"SqliteException {sqlite.SqliteErrorCode}" : failure.GetType().Name;
}

/// <summary>
/// Whether the entry log takes rows, for a health check: <paramref name="OutageSince"/> null while it does; during an
/// outage, since when, how many rows are kept in memory to be written late, how many were lost past the capacity, and
/// what the first failure was (a type and SQLite's code).
/// </summary>
public sealed record LogHealth(Instant? OutageSince, int RowsKept, long RowsLost, string? Error)
{
    /// <summary>How many of the kept rows are also in the outage journal on disk, so that a restart does not lose them.</summary>
    public int RowsOnDisk { get; init; }

    public static LogHealth Writable { get; } = new(null, 0, 0, null);
}

using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Storage;

namespace AccessControl.Lab.Chaos;

/// <summary>A decision a reader heard, for the event it made (<paramref name="Offline"/>: made while it was disconnected).</summary>
internal sealed record HeardDecision(string Reader, string EventId, bool Offline, DecisionMessage Decision);

/// <summary>
/// What the readers heard held against the durable log after a run with faults: the chaos run prints it, the chaos
/// tests assert on it. Every list here should be empty and every count of problems zero.
/// </summary>
internal sealed record LogAudit
{
    /// <summary>Heard, but no row with that reader and eventId.</summary>
    public required IReadOnlyList<HeardDecision> Missing { get; init; }

    /// <summary>(reader, eventId) pairs with more than one row.</summary>
    public required int LoggedTwice { get; init; }

    /// <summary>Heard a grant where the row says deny, or the other way round.</summary>
    public required IReadOnlyList<HeardDecision> Mismatched { get; init; }

    /// <summary>Events made while their reader was disconnected (replayed later with <c>"offline":true</c>).</summary>
    public required int MadeOffline { get; init; }

    /// <summary>Of those, the ones whose row is not marked offline.</summary>
    public required IReadOnlyList<HeardDecision> NotMarkedOffline { get; init; }

    /// <summary>Rows whose device seq is not above the one of their reader's row before, in log order.</summary>
    public required int OutOfSeqOrder { get; init; }

    /// <summary>Rows stamped earlier than their reader's row before (the service clock stepped back): not a fault, a sign the step happened.</summary>
    public required int StampedEarlier { get; init; }

    public required int ClockAnomalyAlarms { get; init; }

    public required int ReaderOfflineAlarms { get; init; }

    /// <summary>reader_offline alarm rows raised by a last will (or the reader's own offline status), not by silence.</summary>
    public required int LastWillAlarms { get; init; }

    /// <summary>
    /// Rows <c>integrity</c>/<c>outage</c>: each heads the rows the service kept while the log could not be written and
    /// wrote once it could (the swipes it refused meanwhile, as the deny/log_failure the readers heard).
    /// </summary>
    public required int OutageRows { get; init; }

    public bool EachHeardDecisionLoggedOnce => Missing.Count == 0 && LoggedTwice == 0 && Mismatched.Count == 0;

    /// <param name="rows">The whole log, every kind, in log order.</param>
    public static LogAudit Of(IReadOnlyList<HeardDecision> heard, IReadOnlyList<LogEntry> rows)
    {
        var access = rows.Where(r => r.Kind == LogKinds.Access).ToList();
        var alarms = rows.Where(r => r.Kind == LogKinds.Alarm).ToList();
        var byEvent = access.Where(r => r.EventId is not null).GroupBy(r => (r.ReaderId, r.EventId)).ToDictionary(g => g.Key, g => g.ToList());
        LogEntry? RowOf(HeardDecision h) => byEvent.TryGetValue((h.Reader, h.EventId), out var found) ? found[0] : null;
        var perReader = access.Where(r => r.DeviceSeq is not null).GroupBy(r => r.ReaderId).Select(g => g.OrderBy(r => r.Seq).ToList()).ToList();
        var offline = alarms.Where(a => a.Reason == AlarmTypes.ReaderOffline).ToList();
        return new LogAudit
        {
            Missing = [.. heard.Where(h => RowOf(h) is null)],
            LoggedTwice = byEvent.Count(e => e.Value.Count > 1),
            Mismatched = [.. heard.Where(h => RowOf(h) is { } row && row.Decision != (h.Decision.Grant ? "grant" : "deny"))],
            MadeOffline = heard.Count(h => h.Offline),
            NotMarkedOffline = [.. heard.Where(h => h.Offline && RowOf(h) is { Offline: false })],
            OutOfSeqOrder = perReader.Sum(ordered => ordered.Zip(ordered.Skip(1)).Count(p => p.Second.DeviceSeq <= p.First.DeviceSeq)),
            StampedEarlier = perReader.Sum(ordered => ordered.Zip(ordered.Skip(1)).Count(p => p.Second.At < p.First.At)),
            ClockAnomalyAlarms = alarms.Count(a => a.Reason == AlarmTypes.ClockAnomaly),
            ReaderOfflineAlarms = offline.Count,
            LastWillAlarms = offline.Count(a => a.Detail?.Contains("last will", StringComparison.Ordinal) == true),
            OutageRows = rows.Count(r => r.Kind == LogKinds.Integrity && r.Reason == "outage"),
        };
    }

    /// <summary>Every row of the log (or of one <paramref name="kind"/>), in log order, page by page.</summary>
    public static IReadOnlyList<LogEntry> ReadAll(Database database, string? kind = null)
    {
        var rows = new List<LogEntry>();
        var query = new EntryLogQuery(database);
        for (long after = 0; ;)
        {
            var page = query.Find(new LogFilter { Kind = kind, AfterSeq = after, Limit = EntryLogQuery.MaxLimit });
            rows.AddRange(page);
            if (page.Count < EntryLogQuery.MaxLimit)
            {
                return rows;
            }

            after = page[^1].Seq;
        }
    }
}

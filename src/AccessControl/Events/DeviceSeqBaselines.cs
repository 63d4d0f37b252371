using AccessControl.EntryLog;
using AccessControl.Storage;
using Dapper;

namespace AccessControl.Events;

/// <summary>
/// The seqs every device used lately, rebuilt from the entry log at start-up so that replay protection survives a
/// restart: per source, the highest <c>device_seq</c> among the rows written since the source's last operator reset
/// (a <c>device_seq_reset</c> admin row, whose own <c>device_seq</c> is the new baseline, or null for none), and the
/// seqs within the replay window below it.
/// </summary>
public static class DeviceSeqBaselines
{
    /// <summary>The reason code of the admin row that resets a device's seq baseline; refused to a token limited to another site.</summary>
    [WrittenAs(ActionRows.Itself | ActionRows.Refused)]
    public const string ResetReason = "device_seq_reset";

    // @reason is ResetReason: SQLite matches a bound value against the literal of the partial index
    // ix_entry_log_device_seq_reset (Migrations/0011_device_seq_index.sql), so the index still serves it.
    private const string ResetsSql = """
        SELECT source AS Source, MAX(seq) AS Row FROM entry_log
        WHERE reason = @reason AND source IS NOT NULL
        GROUP BY source
        """;

    // Up to the index's watermark, the index, one source at a time through its (source, device_seq) b-tree; the list of
    // sources too (device_sources), so that no query walks the whole log for it.
    private const string IndexedSourcesSql = "SELECT source FROM ix.device_sources";

    private const string IndexedMaxSinceSql =
        "SELECT MAX(device_seq) FROM ix.log_index WHERE source = @source AND device_seq IS NOT NULL AND seq >= @row";

    private const string IndexedRecentSql = "SELECT device_seq FROM ix.log_index WHERE source = @source AND device_seq > @floor AND seq >= @row";

    // Past the watermark, the log itself (LogSnapshot), which has no b-tree by source and device seq: one pass for all
    // sources, from the watermark's successor (the rowid's range, the only lower bound on seq: given a second one,
    // SQLite may scan from either), each source's reset applied to its rows as they come. A query per source would read
    // the rest of the log once per device: the whole log, times the devices, while the index is being built (watermark 0).
    private const string TailSql = "SELECT seq, source, device_seq FROM entry_log WHERE seq > $w AND device_seq IS NOT NULL AND source IS NOT NULL";

    /// <summary>Reads the history; sources never seen (or reset to nothing and silent since) are absent.</summary>
    /// <param name="window">How many seqs below the highest to keep (<see cref="PipelineOptions.ReplayWindow"/>).</param>
    public static IReadOnlyDictionary<string, IReadOnlyCollection<long>> Load(Database database, int window)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var log = LogSnapshot.Open(database);
        var resets = log.Connection.Query<(string Source, long Row)>(ResetsSql, new { reason = ResetReason }, log.Transaction)
            .ToDictionary(r => r.Source, r => r.Row, StringComparer.Ordinal);
        var tail = Tail(log, resets, window);
        var indexed = log.Indexed ? log.Connection.Query<string>(IndexedSourcesSql, transaction: log.Transaction) : [];
        var history = new Dictionary<string, IReadOnlyCollection<long>>(StringComparer.Ordinal);
        foreach (var source in indexed.Concat(tail.Keys).Distinct(StringComparer.Ordinal))
        {
            // The highest seq since the source's reset, on either side of the watermark, and the window below it.
            var row = resets.GetValueOrDefault(source);
            var indexedMax = log.Indexed ? log.Connection.ExecuteScalar<long?>(IndexedMaxSinceSql, new { source, row }, log.Transaction) : null;
            var past = tail.GetValueOrDefault(source);
            var max = Math.Max(indexedMax ?? long.MinValue, past?.Max ?? long.MinValue);
            if (max == long.MinValue)
            {
                continue; // every row it sent is before its reset, or purged
            }

            var floor = max - window - 1;
            var recent = indexedMax is null ? [] : log.Connection.Query<long>(IndexedRecentSql, new { source, floor, row }, log.Transaction).ToList();
            recent.AddRange(past?.Above(floor) ?? []);
            history[source] = recent;
        }

        return history;
    }

    /// <summary>Each source's seqs past the watermark since its reset, in one pass over the log.</summary>
    private static Dictionary<string, RecentSeqs> Tail(LogSnapshot log, Dictionary<string, long> resets, int window)
    {
        // The pass hands out one string per source, not one per row (two million on a two-million-row log).
        var tail = new Dictionary<string, RecentSeqs>(StringComparer.Ordinal);
        using var pass = new LogPass(log, TailSql, ("$w", log.Watermark));
        while (pass.Read())
        {
            var source = pass.GetString(1)!;
            if (pass.GetInt64(0) >= resets.GetValueOrDefault(source))
            {
                if (!tail.TryGetValue(source, out var seqs))
                {
                    tail[source] = seqs = new RecentSeqs(window);
                }

                seqs.Add(pass.GetInt64(2));
            }
        }

        return tail;
    }

    /// <summary>One source's highest seq so far, and its seqs within the window below it (a few more until they are pruned).</summary>
    private sealed class RecentSeqs(int window)
    {
        private readonly List<long> seqs = [];
        private int pruneAt = 4 * (window + 1);

        public long Max { get; private set; } = long.MinValue;

        public void Add(long seq)
        {
            if (seq > Max)
            {
                Max = seq;
            }
            else if (seq <= Max - window - 1)
            {
                return;
            }

            seqs.Add(seq);
            if (seqs.Count >= pruneAt)
            {
                seqs.RemoveAll(s => s <= Max - window - 1);
                pruneAt = Math.Max(pruneAt, 2 * seqs.Count);
            }
        }

        public IEnumerable<long> Above(long floor) => seqs.Where(s => s > floor);
    }
}

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

    // Each reads the log's index up to its watermark and the log itself past it (LogSnapshot). Past it, "+source" keeps
    // SQLite from walking the redelivery index, and one lower bound on seq (@tail: the later of @row and the watermark's
    // successor) keeps it from scanning from the wrong one: given two, it may pick either.
    private const string SourcesSql = """
        SELECT source FROM ix.device_sources
        UNION
        SELECT source FROM entry_log WHERE seq > @w AND device_seq IS NOT NULL AND source IS NOT NULL
        """;

    private const string MaxSinceSql = """
        SELECT MAX(m) FROM (
            SELECT MAX(device_seq) AS m FROM ix.log_index WHERE source = @source AND device_seq IS NOT NULL AND seq >= @row
            UNION ALL
            SELECT MAX(device_seq) FROM entry_log WHERE +source = @source AND device_seq IS NOT NULL AND seq >= @tail)
        """;

    private const string RecentSql = """
        SELECT device_seq FROM ix.log_index WHERE source = @source AND device_seq > @floor AND seq >= @row
        UNION ALL
        SELECT device_seq FROM entry_log WHERE +source = @source AND device_seq > @floor AND seq >= @tail
        """;

    // Without an index (a log no service has indexed yet), the same over the log alone.
    private const string SourcesScanSql = "SELECT DISTINCT source FROM entry_log WHERE device_seq IS NOT NULL AND source IS NOT NULL";

    private const string MaxSinceScanSql = "SELECT MAX(device_seq) FROM entry_log WHERE source = @source AND device_seq IS NOT NULL AND seq >= @row";

    private const string RecentScanSql = "SELECT device_seq FROM entry_log WHERE source = @source AND device_seq > @floor AND seq >= @row";

    /// <summary>Reads the history; sources never seen (or reset to nothing and silent since) are absent.</summary>
    /// <param name="window">How many seqs below the highest to keep (<see cref="PipelineOptions.ReplayWindow"/>).</param>
    public static IReadOnlyDictionary<string, IReadOnlyCollection<long>> Load(Database database, int window)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var log = LogSnapshot.Open(database);
        var (sources, maxSince, recent) = log.Indexed ? (SourcesSql, MaxSinceSql, RecentSql) : (SourcesScanSql, MaxSinceScanSql, RecentScanSql);
        var w = log.Watermark;
        var resets = log.Connection.Query<(string Source, long Row)>(ResetsSql, new { reason = ResetReason }, log.Transaction)
            .ToDictionary(r => r.Source, r => r.Row, StringComparer.Ordinal);
        var history = new Dictionary<string, IReadOnlyCollection<long>>(StringComparer.Ordinal);
        foreach (var source in log.Connection.Query<string>(sources, new { w }, log.Transaction).Concat(resets.Keys).Distinct(StringComparer.Ordinal))
        {
            var row = resets.GetValueOrDefault(source);
            if (log.Connection.ExecuteScalar<long?>(maxSince, new { source, row, w, tail = Math.Max(row, w + 1) }, log.Transaction) is not { } max)
            {
                continue;
            }

            history[source] = log.Connection.Query<long>(recent, new { source, floor = max - window - 1, row, w, tail = Math.Max(row, w + 1) }, log.Transaction).ToList();
        }

        return history;
    }
}

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
    /// <summary>The reason code of the admin row that resets a device's seq baseline.</summary>
    public const string ResetReason = "device_seq_reset";

    private const string ResetsSql = """
        SELECT source AS Source, MAX(seq) AS Row FROM entry_log
        WHERE reason = 'device_seq_reset' AND source IS NOT NULL
        GROUP BY source
        """;

    private const string SourcesSql = """
        SELECT DISTINCT source FROM entry_log WHERE device_seq IS NOT NULL AND source IS NOT NULL
        """;

    private const string MaxSinceSql = """
        SELECT MAX(device_seq) FROM entry_log
        WHERE source = @source AND device_seq IS NOT NULL AND seq >= @row
        """;

    private const string RecentSql = """
        SELECT device_seq FROM entry_log
        WHERE source = @source AND device_seq IS NOT NULL AND device_seq > @floor AND seq >= @row
        """;

    /// <summary>Reads the history; sources never seen (or reset to nothing and silent since) are absent.</summary>
    /// <param name="window">How many seqs below the highest to keep (<see cref="PipelineOptions.ReplayWindow"/>).</param>
    public static IReadOnlyDictionary<string, IReadOnlyCollection<long>> Load(Database database, int window)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var connection = database.Open();
        var resets = connection.Query<(string Source, long Row)>(ResetsSql).ToDictionary(r => r.Source, r => r.Row, StringComparer.Ordinal);
        var history = new Dictionary<string, IReadOnlyCollection<long>>(StringComparer.Ordinal);
        foreach (var source in connection.Query<string>(SourcesSql).Concat(resets.Keys).Distinct(StringComparer.Ordinal))
        {
            var row = resets.GetValueOrDefault(source);
            if (connection.ExecuteScalar<long?>(MaxSinceSql, new { source, row }) is not { } max)
            {
                continue;
            }

            history[source] = connection.Query<long>(RecentSql, new { source, floor = max - window, row }).ToList();
        }

        return history;
    }
}

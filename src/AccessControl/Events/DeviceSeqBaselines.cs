using AccessControl.Storage;
using Dapper;

namespace AccessControl.Events;

/// <summary>
/// The last accepted <c>seq</c> of every device, rebuilt from the entry log at start-up so that replay protection
/// survives a restart: the highest <c>device_seq</c> per source among the rows written since the source's last
/// operator reset (a <c>device_seq_reset</c> admin row, whose own <c>device_seq</c> is the new baseline, or null for none).
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

    private const string MaxSql = """
        SELECT source AS Source, MAX(device_seq) AS Seq FROM entry_log
        WHERE device_seq IS NOT NULL AND source IS NOT NULL
        GROUP BY source
        """;

    private const string MaxSinceSql = """
        SELECT MAX(device_seq) FROM entry_log
        WHERE source = @source AND device_seq IS NOT NULL AND seq >= @row
        """;

    /// <summary>Reads the baselines; sources never seen (or reset to nothing and silent since) are absent.</summary>
    public static IReadOnlyDictionary<string, long> Load(Database database)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var connection = database.Open();
        var baselines = connection.Query<(string Source, long Seq)>(MaxSql).ToDictionary(r => r.Source, r => r.Seq, StringComparer.Ordinal);
        foreach (var (source, row) in connection.Query<(string Source, long Row)>(ResetsSql))
        {
            var since = connection.ExecuteScalar<long?>(MaxSinceSql, new { source, row });
            if (since is { } seq)
            {
                baselines[source] = seq;
            }
            else
            {
                baselines.Remove(source);
            }
        }

        return baselines;
    }
}

using AccessControl.Storage;
using Dapper;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// A read transaction over the entry log, with its query index (<see cref="LogIndex"/>) attached as schema <c>ix</c>
/// when there is a usable one. Rows up to <see cref="Watermark"/> are found through the index; later rows, which the
/// background job has not copied yet, by scanning the log past the watermark (a second's worth, normally). Without a
/// usable index the watermark is 0 and every query scans the log, which is slower and just as correct.
/// </summary>
/// <remarks>
/// The index is read first and the log after it, in one transaction: the log's snapshot is then at least as new as the
/// index's, so every row the index names is in it (or purged since, and then not joined), and no row falls between the
/// two. The index holds no row past its watermark, so its side of a query needs no bound on seq. Read-only, like every
/// query connection.
/// </remarks>
public sealed class LogSnapshot : IDisposable
{
    private readonly bool attached;

    private LogSnapshot(SqliteConnection connection, string? notAttached)
    {
        Connection = connection;
        attached = notAttached is null;
        Transaction = connection.BeginTransaction(deferred: true);
        (Watermark, Unusable) = attached ? UsableWatermark() : (0, notAttached);
    }

    public SqliteConnection Connection { get; }

    public SqliteTransaction Transaction { get; }

    /// <summary>Every log row up to this seq is in the index; 0 when there is no usable index.</summary>
    public long Watermark { get; }

    public bool Indexed => Watermark > 0;

    /// <summary>
    /// Why there is no usable index (none yet, damaged, of another schema version, of another log): it must be built
    /// again from the log. Null when the index can be used, even when it holds no row yet.
    /// </summary>
    public string? Unusable { get; }

    /// <summary>Opens a snapshot of <paramref name="database"/>'s log (the database file must exist).</summary>
    public static LogSnapshot Open(Database database)
    {
        ArgumentNullException.ThrowIfNull(database);
        var connection = database.OpenReadOnly();
        try
        {
            return new LogSnapshot(connection, TryAttach(connection, LogIndex.PathFor(database)));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The rows <paramref name="sql"/> selects from the first row recorded at or after <paramref name="since"/> on (its
    /// <c>@first</c>, besides <paramref name="parameters"/>), read in one snapshot: what a start-up history reads. None
    /// when no row is that recent.
    /// </summary>
    public static IReadOnlyList<T> RowsSince<T>(Database database, Instant since, string sql, object parameters)
    {
        using var log = Open(database);
        if (log.FirstSeqSince(since) is not { } first)
        {
            return [];
        }

        var all = new DynamicParameters(parameters);
        all.Add("first", first);
        return log.Connection.Query<T>(sql, all, log.Transaction).AsList();
    }

    /// <summary>A command inside this snapshot's transaction.</summary>
    public SqliteCommand Command(string sql)
    {
        var command = Connection.CreateCommand();
        command.Transaction = Transaction;
        command.CommandText = sql;
        return command;
    }

    /// <summary>
    /// The first row recorded at or after <paramref name="since"/> (by seq; the service's clock may have stepped back
    /// meanwhile, so later rows can be older), or null when there is none. Start-up history reads from there.
    /// </summary>
    public long? FirstSeqSince(Instant since)
    {
        using var command = Command(Indexed
            ? """
              SELECT MIN(seq) FROM (
                  SELECT MIN(seq) AS seq FROM ix.log_index WHERE at >= $since
                  UNION ALL
                  SELECT MIN(seq) FROM entry_log WHERE seq > $w AND at >= $since)
              """
            : "SELECT MIN(seq) FROM entry_log WHERE at >= $since");
        command.Parameters.AddWithValue("$since", since.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("$w", Watermark);
        return command.ExecuteScalar() is long seq ? seq : null;
    }

    /// <summary>
    /// Where a retention purge up to <paramref name="upTo"/> may stop so that it deletes nothing recorded at or after
    /// <paramref name="before"/>: the row before the first one recorded at or after it, or null when there is none. Rows
    /// are in seq order but their times need not be (the clock may have stepped back): an old-dated row written after
    /// recent ones does not carry the purge past them; it is purged later, with the rows around it.
    /// </summary>
    public long? LastSeqBefore(Instant before, long upTo)
    {
        var bound = FirstSeqSince(before) is { } firstRecent ? Math.Min(firstRecent - 1, upTo) : upTo;
        return bound > 0 ? bound : null;
    }

    public void Dispose()
    {
        Transaction.Dispose();
        if (attached)
        {
            try
            {
                // Connections are pooled: the next user of this one must not find the index attached.
                using var detach = Connection.CreateCommand();
                detach.CommandText = "DETACH DATABASE ix";
                detach.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
                SqliteConnection.ClearPool(Connection);
            }
        }

        Connection.Dispose();
    }

    /// <summary>Attaches the index as <c>ix</c>; null when it is, else why it is not.</summary>
    private static string? TryAttach(SqliteConnection connection, string indexPath)
    {
        if (!File.Exists(indexPath))
        {
            return LogIndex.NoIndexYet;
        }

        try
        {
            using var attach = connection.CreateCommand();
            attach.CommandText = "ATTACH DATABASE $path AS ix";
            attach.Parameters.AddWithValue("$path", indexPath);
            attach.ExecuteNonQuery();
            return null;
        }
        catch (SqliteException ex)
        {
            return $"the index file could not be opened ({ex.Message})";
        }
    }

    /// <summary>
    /// The index's watermark if the index is of this version and belongs to this log (see <see cref="LogIndex"/>); else 0,
    /// and why not.
    /// </summary>
    private (long Watermark, string? Unusable) UsableWatermark()
    {
        try
        {
            // Two statements, index first: a statement opens its databases' snapshots main first.
            long watermark, version;
            byte[]? hash;
            using (var meta = Command("SELECT watermark, watermark_hash, schema_version FROM ix.index_meta WHERE id = 1"))
            {
                using var reader = meta.ExecuteReader();
                if (!reader.Read())
                {
                    return (0, "the index file has no watermark");
                }

                (watermark, hash, version) = (reader.GetInt64(0), reader.IsDBNull(1) ? null : (byte[])reader.GetValue(1), reader.GetInt64(2));
            }

            if (version != LogIndex.SchemaVersion)
            {
                return (0, LogIndex.OtherSchema(version));
            }

            if (watermark <= 0)
            {
                return (0, null);
            }

            using var check = Command("""
                SELECT CASE WHEN EXISTS (SELECT 1 FROM entry_log WHERE seq = $w) THEN (SELECT hash IS $hash FROM entry_log WHERE seq = $w)
                            ELSE $w <= (SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge) END
                """);
            check.Parameters.AddWithValue("$w", watermark);
            check.Parameters.AddWithValue("$hash", (object?)hash ?? DBNull.Value);
            return check.ExecuteScalar() is 1L
                ? (watermark, null)
                : (0, $"the index's row {watermark} is not the log's row {watermark} (the database was replaced or restored)");
        }
        catch (SqliteException ex)
        {
            return (0, $"the index file could not be read ({ex.Message})");
        }
    }
}

using AccessControl.Decisions;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;

namespace AccessControl.EntryLog;

/// <summary>
/// The entry log's query indexes (by time recorded and time happened, site, door, person, escort, and each device's seqs), and what start-up needs from the
/// whole log (the newest grant of each person at each reader, the devices), kept in a file of their own
/// beside the database (<c>accesscontrol.index.db</c> for <c>accesscontrol.db</c>) and filled in bulk by a background
/// job, so that a swipe's commit writes the log row and its redelivery index only, not seven b-trees.
/// </summary>
/// <remarks>
/// <para>
/// The index is derived data. It is rebuilt from the log whenever it is missing, damaged, of another schema version, or
/// of another log (the row at its watermark must have the hash the index recorded for it). So it is not fsync'ed per
/// round (WAL, <c>synchronous=NORMAL</c>: a power cut may lose its last rounds, never its consistency) and it is not
/// part of a backup.
/// </para>
/// <para>
/// Readers (<see cref="LogSnapshot"/>) use it up to its watermark and scan the log itself past it, in one read
/// transaction, so a row can be found the moment it is committed, whether it is indexed yet or not.
/// </para>
/// </remarks>
public sealed class LogIndex(Database database) : IDisposable
{
    /// <summary>The layout of the index file; a file of another version is rebuilt.</summary>
    /// <remarks>
    /// 3 added <c>escort_id</c> (the escort a row names in its detail); 4 added <c>happened_at</c> (when a row happened,
    /// <see cref="HappenedAtOfRow"/>) and its indexes. A file of another version is rebuilt at the first start.
    /// </remarks>
    public const int SchemaVersion = 4;

    /// <summary>Rows copied per round at most: a round is one transaction of the index file, not the log's.</summary>
    public const int DefaultBatchRows = 20_000;

    /// <summary>
    /// Rows the start copies into the index itself before it reads its history: a normal restart's gap, a second or two.
    /// Further behind (a rebuild of a large log: about 25 s a million rows), the start reads its history through what
    /// there is and the log past it, and leaves the rest to the background job (see <see cref="Lag"/>).
    /// </summary>
    public const long StartCatchUpRows = 2 * DefaultBatchRows;

    private const string SchemaSql = """
        CREATE TABLE index_meta (
            id              INTEGER PRIMARY KEY CHECK (id = 1),
            schema_version  INTEGER NOT NULL,
            watermark       INTEGER NOT NULL,   -- every log row with seq <= watermark is indexed
            watermark_hash  BLOB,               -- that row's chain hash: which log this index belongs to
            purged_up_to    INTEGER NOT NULL    -- rows up to here were purged from the log and dropped from the index
        );
        CREATE TABLE log_index (
            seq         INTEGER PRIMARY KEY,
            at          INTEGER NOT NULL,
            site_id     TEXT,
            door_id     TEXT,
            person_id   TEXT,
            source      TEXT,
            device_seq  INTEGER,
            escort_id   TEXT,               -- the row's detail names this person as escort (EscortOfRow)
            happened_at INTEGER NOT NULL    -- when it happened: a buffered event's device time, else at (HappenedAtOfRow)
        );
        CREATE INDEX ix_log_index_at ON log_index (at);
        CREATE INDEX ix_log_index_site_at ON log_index (site_id, at);
        CREATE INDEX ix_log_index_door_at ON log_index (door_id, at) WHERE door_id IS NOT NULL;
        CREATE INDEX ix_log_index_person_at ON log_index (person_id, at) WHERE person_id IS NOT NULL;
        CREATE INDEX ix_log_index_escort_at ON log_index (escort_id, at) WHERE escort_id IS NOT NULL;
        CREATE INDEX ix_log_index_happened ON log_index (happened_at);
        CREATE INDEX ix_log_index_site_happened ON log_index (site_id, happened_at);
        CREATE INDEX ix_log_index_door_happened ON log_index (door_id, happened_at) WHERE door_id IS NOT NULL;
        CREATE INDEX ix_log_index_person_happened ON log_index (person_id, happened_at) WHERE person_id IS NOT NULL;
        CREATE INDEX ix_log_index_source_device_seq ON log_index (source, device_seq) WHERE device_seq IS NOT NULL;

        -- The newest live grant of each person at each reader: what the anti-passback state is rebuilt from at start-up
        -- (PassbackHistory), one row per person and reader however long the log.
        CREATE TABLE latest_grants (
            person_id   TEXT    NOT NULL,
            reader_id   TEXT    NOT NULL,
            seq         INTEGER NOT NULL,
            PRIMARY KEY (person_id, reader_id)
        ) WITHOUT ROWID;

        -- Every device that has sent a seq (DeviceSeqBaselines).
        CREATE TABLE device_sources (source TEXT PRIMARY KEY) WITHOUT ROWID;
        """;

    private const string PendingSql = """
        CREATE TEMP TABLE pending (
            seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, site_id TEXT, door_id TEXT, person_id TEXT, source TEXT, device_seq INTEGER, escort_id TEXT, happened_at INTEGER NOT NULL,
            grant_reader TEXT   -- the reader of a live grant (a person let in or out), else null
        )
        """;

    /// <summary>A live grant: an access row granted to a person at a reader, not replayed from a reader's buffer.</summary>
    internal const string LiveGrant = "kind = 'access' AND decision = 'grant' AND offline = 0 AND person_id IS NOT NULL AND reader_id IS NOT NULL";

    /// <summary>
    /// The person a row's <c>detail</c> names as <c>escort</c> (a visitor's entry names who brought them in, a
    /// <c>visitor_unescorted</c> alarm the escort who left), else null. The log has no column for it, so the index
    /// holds it (<c>escort_id</c>) and a scan past the watermark computes it with this same expression: both sides
    /// agree by construction. Only a text value counts (an admin row's nested <c>"escort": true</c> is no person), and
    /// the text test first spares the JSON parse for the rows that cannot name one, which are nearly all of them.
    /// </summary>
    internal const string EscortOfRow =
        "CASE WHEN instr(detail, '\"escort\"') > 0 AND json_valid(detail) AND json_type(detail, '$.escort') = 'text' THEN json_extract(detail, '$.escort') END";

    /// <summary>
    /// The device's time of a row that records an event a reader or door controller buffered while cut off and the
    /// service accepted as such (<c>offline</c>, not refused as <c>replay_suspected</c>), else null. Its SQL takes the reason
    /// as a parameter (<see cref="ReplaySuspectedParameter"/>). An accepted replay's
    /// device time is at most the pipeline's offline window before the row's <c>at</c> (and at most the clock skew after
    /// it); a refused one's is a claim the service did not believe, which may be years off, so it places nothing.
    /// A live event's device time is the reader's clock, within the skew of the service's, which decided it at <c>at</c>.
    /// </summary>
    internal const string ReplayedDeviceTimeOfRow =
        "CASE WHEN offline = 1 AND (reason IS NULL OR reason <> $replaySuspected) THEN device_at END";

    /// <summary>The parameter <see cref="ReplayedDeviceTimeOfRow"/> needs: the reason of a refused replay.</summary>
    internal static (string Name, object? Value) ReplaySuspectedParameter => ("$replaySuspected", AccessReason.ReplaySuspected.ToCode());

    /// <summary>
    /// When a row happened (<c>time=happened</c>): <see cref="ReplayedDeviceTimeOfRow"/>, else when the service recorded it.
    /// The index holds it (<c>happened_at</c>) and a scan past the watermark computes it with this same expression.
    /// </summary>
    internal const string HappenedAtOfRow = $"COALESCE({ReplayedDeviceTimeOfRow}, at)";

    private const string ReadNewRowsSql = $$"""
        INSERT INTO temp.pending (seq, at, site_id, door_id, person_id, source, device_seq, escort_id, happened_at, grant_reader)
        SELECT seq, at, site_id, door_id, person_id, source, device_seq, {{EscortOfRow}}, {{HappenedAtOfRow}}, CASE WHEN {{LiveGrant}} THEN reader_id END
        FROM log.entry_log
        WHERE seq > $from ORDER BY seq LIMIT $rows
        """;

    private const string WriteNewRowsSql = """
        INSERT INTO log_index (seq, at, site_id, door_id, person_id, source, device_seq, escort_id, happened_at)
        SELECT seq, at, site_id, door_id, person_id, source, device_seq, escort_id, happened_at FROM temp.pending;
        INSERT INTO latest_grants (person_id, reader_id, seq)
        SELECT person_id, grant_reader, MAX(seq) FROM temp.pending WHERE grant_reader IS NOT NULL GROUP BY person_id, grant_reader
        ON CONFLICT (person_id, reader_id) DO UPDATE SET seq = MAX(seq, excluded.seq);
        INSERT OR IGNORE INTO device_sources (source)
        SELECT DISTINCT source FROM temp.pending WHERE device_seq IS NOT NULL AND source IS NOT NULL;
        """;

    // Log rows up to the watermark that the index lacks or holds otherwise, then index rows the log does not have
    // (beyond its purges): each arm walks one table by seq and looks the other up by seq. Then the same for the
    // newest grants and the devices (one seq named for each difference).
    private const string CheckSql = $$"""
        WITH purged (up_to) AS (SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge),
        differing (seq) AS (
            SELECT e.seq FROM entry_log e LEFT JOIN ix.log_index i ON i.seq = e.seq
            WHERE e.seq <= $w
              AND (i.seq IS NULL OR i.at IS NOT e.at OR i.site_id IS NOT e.site_id OR i.door_id IS NOT e.door_id
                   OR i.person_id IS NOT e.person_id OR i.source IS NOT e.source OR i.device_seq IS NOT e.device_seq
                   OR i.escort_id IS NOT ({{EscortOfRow}}) OR i.happened_at IS NOT COALESCE({{ReplayedDeviceTimeOfRow}}, e.at))
            UNION ALL
            SELECT i.seq FROM ix.log_index i
            WHERE i.seq > (SELECT up_to FROM purged) AND NOT EXISTS (SELECT 1 FROM entry_log e WHERE e.seq = i.seq)
            UNION ALL
            SELECT g.seq FROM (SELECT person_id, reader_id, MAX(seq) AS seq FROM entry_log WHERE seq <= $w AND {{LiveGrant}}
                               GROUP BY person_id, reader_id) g
            LEFT JOIN ix.latest_grants l ON l.person_id = g.person_id AND l.reader_id = g.reader_id
            WHERE l.seq IS NOT g.seq
            UNION ALL
            SELECT l.seq FROM ix.latest_grants l
            WHERE l.seq > (SELECT up_to FROM purged)
              AND NOT EXISTS (SELECT 1 FROM entry_log e WHERE e.seq = l.seq AND e.person_id = l.person_id AND e.reader_id = l.reader_id
                              AND {{LiveGrant}})
            UNION ALL
            SELECT MIN(seq) FROM entry_log
            WHERE seq <= $w AND device_seq IS NOT NULL AND source IS NOT NULL AND source NOT IN (SELECT source FROM ix.device_sources)
            GROUP BY source)
        SELECT (SELECT COUNT(*) FROM entry_log WHERE seq <= $w), COUNT(*), MIN(seq) FROM differing
        """;

    /// <summary>SQLITE_CORRUPT and SQLITE_NOTADB: the file is not a usable database; it is deleted and built again.</summary>
    private static readonly int[] Damaged = [11, 26];

    public string Path { get; } = PathFor(database);

    // The index file held open between rounds, and how the last round left the file and its WAL (see KeepOpen).
    private readonly object gate = new();
    private SqliteConnection? keeper;
    private FileStamp? leftAs;

    /// <summary>Where the index of <paramref name="database"/> lives: beside it, <c>name.index.db</c>.</summary>
    public static string PathFor(Database database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return System.IO.Path.ChangeExtension(database.Path, ".index.db");
    }

    /// <summary>
    /// One round: drops the rows the log has purged, then copies up to <paramref name="batchRows"/> rows written since the
    /// last round. An index that does not belong to the log (or cannot be read) is rebuilt from scratch first.
    /// </summary>
    public LogIndexRound CatchUp(int batchRows = DefaultBatchRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        lock (gate)
        {
            string? why = null;
            if (keeper is not null && FileStamp.Of(Path) != leftAs)
            {
                // Deleted, replaced or written by someone else since the last round: its WAL (kept beside it between
                // rounds) no longer belongs to it, and must never be read with it. Start over.
                why = "the index file was changed or removed outside the service";
                DeleteFiles();
            }

            LogIndexRound round;
            try
            {
                round = CatchUpOnce(batchRows);
            }
            catch (SqliteException ex) when (Damaged.Contains(ex.SqliteErrorCode))
            {
                DeleteFiles();
                round = CatchUpOnce(batchRows) with { Rebuilt = true, Why = $"the index file was damaged ({ex.Message})" };
            }

            KeepOpen();
            return why is null ? round : round with { Rebuilt = true, Why = why };
        }
    }

    /// <summary>Closes the index file held open between rounds; SQLite then moves its WAL into it.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            CloseKeeper();
        }
    }

    /// <summary>
    /// Holds one connection to the index file between rounds. A round opens a connection of its own (so that a file
    /// deleted or replaced under the service is noticed); without this one, that connection would be the file's last when
    /// it closes, and SQLite would then move the index's WAL into the file and delete the WAL: two fsyncs and a file
    /// created and deleted every second, on the disk the swipes' commits sync to. With it, the WAL is moved at SQLite's
    /// automatic threshold (1,000 pages) and when the service stops. The price: the WAL stays beside the file between
    /// rounds, so a file deleted, replaced or written behind the service's back would meet a WAL that is not its own.
    /// Each round therefore first compares the file and its WAL with how the last round left them, and starts over on
    /// any difference (the index is derived data).
    /// </summary>
    private void KeepOpen()
    {
        if (keeper is null && File.Exists(Path))
        {
            var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
            connection.Open();
            using (var read = connection.CreateCommand())
            {
                // A connection joins the WAL, and holds the shared lock that marks it as one of the file's users, at its first read.
                read.CommandText = "SELECT COUNT(*) FROM sqlite_master";
                read.ExecuteScalar();
            }

            keeper = connection;
        }

        leftAs = FileStamp.Of(Path);
    }

    private void CloseKeeper()
    {
        keeper?.Dispose();
        keeper = null;
        leftAs = null;
    }

    private void DeleteFiles()
    {
        CloseKeeper();
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(Path + suffix);
        }
    }

    /// <summary>The index file and its WAL as seen from outside: only this class's rounds change them while it holds the file open.</summary>
    private readonly record struct FileStamp(long Length, DateTime Written, long WalLength, DateTime WalWritten)
    {
        public static FileStamp? Of(string path)
        {
            var file = new FileInfo(path);
            if (!file.Exists)
            {
                return null;
            }

            var wal = new FileInfo(path + "-wal");
            return new FileStamp(file.Length, file.LastWriteTimeUtc, wal.Exists ? wal.Length : -1, wal.Exists ? wal.LastWriteTimeUtc : default);
        }
    }

    /// <summary>
    /// How far the index is behind the log, and why it must be built again when it must, read without writing either (the
    /// file is written by its rounds only). The start decides from it whether it brings the index up to date before it
    /// reads its history, or leaves that to the background job: without a usable index, queries read the log itself.
    /// </summary>
    public LogIndexLag Lag()
    {
        using var log = LogSnapshot.Open(database);
        using var command = log.Command("SELECT COALESCE(MAX(seq), 0), (SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge) FROM entry_log");
        using var reader = command.ExecuteReader();
        reader.Read();
        var (head, purgedUpTo) = (reader.GetInt64(0), reader.GetInt64(1));
        return new LogIndexLag(log.Watermark, Math.Max(0, head - Math.Max(log.Watermark, purgedUpTo)), log.Unusable);
    }

    /// <summary>Rounds until the index holds every row committed when the last round began: for start-up, before the history is read.</summary>
    public LogIndexRound CatchUpFully(int batchRows = DefaultBatchRows)
    {
        var total = CatchUp(batchRows);
        for (var last = total; last.Copied == batchRows;)
        {
            last = CatchUp(batchRows);
            total = new LogIndexRound(total.Copied + last.Copied, total.Dropped + last.Dropped, last.Watermark,
                total.Rebuilt || last.Rebuilt, total.Why ?? last.Why);
        }

        return total;
    }

    /// <summary>
    /// Compares the index with the log, row by row up to its watermark. A row missing from it, extra in it or different
    /// means the file was altered or damaged, and queries through it could miss rows (the log itself is not affected:
    /// <see cref="LogVerifier"/> checks that). Null when there is no usable index to compare.
    /// </summary>
    public LogIndexCheck? Check()
    {
        using var log = LogSnapshot.Open(database);
        if (!log.Indexed)
        {
            return null;
        }

        using var command = log.Command(CheckSql);
        command.Parameters.AddWithValue("$w", log.Watermark);
        command.Parameters.AddWithValue(ReplaySuspectedParameter.Name, ReplaySuspectedParameter.Value);
        using var reader = command.ExecuteReader();
        reader.Read();
        return new LogIndexCheck(log.Watermark, reader.GetInt64(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetInt64(2));
    }

    private LogIndexRound CatchUpOnce(int batchRows)
    {
        using var connection = OpenWritable();
        var why = EnsureSchema(connection);

        // 1. A short read of the log: what the index holds, and the new rows, copied to a table in memory. The log's
        //    RESTART checkpoint waits for its readers while it holds off the swipes' commits, so no b-tree work here.
        long watermark, purgedUpTo, logPurgedUpTo, copied;
        byte[]? watermarkHash;
        bool foreign;
        using (var read = connection.BeginTransaction(deferred: true))
        {
            (watermark, watermarkHash, purgedUpTo) = ReadMeta(connection, read);
            logPurgedUpTo = Scalar<long>(connection, read, "SELECT COALESCE(MAX(up_to_seq), 0) FROM log.log_purge");
            foreign = watermark > 0 && !BelongsToLog(connection, read, watermark, watermarkHash, logPurgedUpTo);
            if (foreign)
            {
                why ??= $"the index's row {watermark} is not the log's row {watermark} (the database was replaced or restored)";
                (watermark, watermarkHash, purgedUpTo) = (0, null, 0);
            }

            Execute(connection, read, "DELETE FROM temp.pending");
            copied = Execute(connection, read, ReadNewRowsSql, ("$from", watermark), ("$rows", batchRows), ReplaySuspectedParameter);
            if (copied > 0)
            {
                watermark = Scalar<long>(connection, read, "SELECT MAX(seq) FROM temp.pending");
                watermarkHash = Scalar<byte[]?>(connection, read, "SELECT hash FROM log.entry_log WHERE seq = $seq", ("$seq", watermark));
            }

            read.Commit();
        }

        // 2. The index alone: its own transaction, not fsync'ed (synchronous=NORMAL), the log untouched.
        long dropped = 0;
        using (var write = connection.BeginTransaction(deferred: true))
        {
            if (foreign)
            {
                Execute(connection, write, "DELETE FROM log_index; DELETE FROM latest_grants; DELETE FROM device_sources;");
            }

            if (logPurgedUpTo > purgedUpTo)
            {
                dropped = Execute(connection, write, "DELETE FROM log_index WHERE seq <= $to", ("$to", logPurgedUpTo));
                Execute(connection, write, "DELETE FROM latest_grants WHERE seq <= $to", ("$to", logPurgedUpTo));
                purgedUpTo = logPurgedUpTo;
            }

            Execute(connection, write, WriteNewRowsSql);
            Execute(connection, write,
                "UPDATE index_meta SET watermark = $w, watermark_hash = $hash, purged_up_to = $purged WHERE id = 1",
                ("$w", watermark), ("$hash", watermarkHash), ("$purged", purgedUpTo));
            write.Commit();
        }

        return new LogIndexRound(copied, dropped, watermark, why is not null, why);
    }

    /// <summary>
    /// The index belongs to the log when the log's row at the watermark has the recorded hash, or when that row is gone
    /// because the log purged it (its successors are then checked as they are copied).
    /// </summary>
    private static bool BelongsToLog(SqliteConnection connection, SqliteTransaction transaction, long watermark, byte[]? hash, long logPurgedUpTo)
    {
        using var command = Command(connection, transaction, "SELECT hash FROM log.entry_log WHERE seq = $seq", ("$seq", watermark));
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return watermark <= logPurgedUpTo;
        }

        var actual = reader.IsDBNull(0) ? null : (byte[])reader.GetValue(0);
        return actual is null ? hash is null : hash is not null && actual.AsSpan().SequenceEqual(hash);
    }

    private SqliteConnection OpenWritable()
    {
        // Not pooled: a pooled connection would keep the log attached for its next user (one open a second is cheap).
        OwnerOnly.CreateEmptyFile(Path);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder(database.ConnectionString) { DataSource = Path, Pooling = false }.ToString());
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA temp_store=MEMORY;";
            pragma.ExecuteNonQuery();
            pragma.CommandText = PendingSql;
            pragma.ExecuteNonQuery();
        }

        using (var attach = connection.CreateCommand())
        {
            attach.CommandText = "ATTACH DATABASE $path AS log";
            attach.Parameters.AddWithValue("$path", database.Path);
            attach.ExecuteNonQuery();
        }

        return connection;
    }

    /// <summary>Creates the index's tables, or starts them over when they are of another version. Returns why it started over.</summary>
    private static string? EnsureSchema(SqliteConnection connection)
    {
        var version = Scalar<long>(connection, null, "SELECT COUNT(*) FROM main.sqlite_master WHERE name = 'index_meta'") == 0
            ? null
            : Scalar<long?>(connection, null, "SELECT MAX(schema_version) FROM main.index_meta");
        if (version == SchemaVersion)
        {
            return null;
        }

        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, "DROP TABLE IF EXISTS index_meta; DROP TABLE IF EXISTS log_index; DROP TABLE IF EXISTS latest_grants; DROP TABLE IF EXISTS device_sources;");
        Execute(connection, transaction, SchemaSql);
        Execute(connection, transaction,
            "INSERT INTO index_meta (id, schema_version, watermark, watermark_hash, purged_up_to) VALUES (1, $v, 0, NULL, 0)", ("$v", SchemaVersion));
        transaction.Commit();
        return version is null ? NoIndexYet : OtherSchema(version.Value);
    }

    /// <summary>Why an index is built: there was none (the start's and the rounds' words alike, see <see cref="LogSnapshot.Unusable"/>).</summary>
    internal const string NoIndexYet = "there was no index yet";

    /// <summary>Why an index is built again: it was of another schema version.</summary>
    internal static string OtherSchema(long version) => $"the index was of schema version {version}, not {SchemaVersion}";

    private static (long Watermark, byte[]? Hash, long PurgedUpTo) ReadMeta(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = Command(connection, transaction, "SELECT watermark, watermark_hash, purged_up_to FROM index_meta WHERE id = 1");
        using var reader = command.ExecuteReader();
        return reader.Read()
            ? (reader.GetInt64(0), reader.IsDBNull(1) ? null : (byte[])reader.GetValue(1), reader.GetInt64(2))
            : throw new InvalidOperationException("The log index has no index_meta row.");
    }

    private static T Scalar<T>(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        var value = command.ExecuteScalar();
        return value is null or DBNull ? default! : (T)value;
    }

    private static int Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}

/// <summary>What one round of <see cref="LogIndex.CatchUp"/> did.</summary>
/// <param name="Copied">Log rows added to the index.</param>
/// <param name="Dropped">Index rows removed because the log purged them.</param>
/// <param name="Watermark">Every log row up to this seq is indexed now.</param>
/// <param name="Rebuilt">The index was (re)started from nothing in this round.</param>
/// <param name="Why">Why it was, when it was.</param>
public sealed record LogIndexRound(long Copied, long Dropped, long Watermark, bool Rebuilt, string? Why);

/// <summary>What <see cref="LogIndex.Lag"/> found.</summary>
/// <param name="Watermark">Every log row up to this seq is in the index; 0 when there is no usable index.</param>
/// <param name="RowsBehind">Log rows a catch-up would copy (at most: seqs past the watermark and the log's purges).</param>
/// <param name="RebuildBecause">Why the index must be built again from the log; null when it can be used as it is.</param>
public sealed record LogIndexLag(long Watermark, long RowsBehind, string? RebuildBecause);

/// <summary>What <see cref="LogIndex.Check"/> found.</summary>
/// <param name="Watermark">The index's watermark: rows up to it were compared.</param>
/// <param name="RowsChecked">Log rows up to the watermark.</param>
/// <param name="Differing">Rows missing from the index, extra in it, or different from the log's.</param>
/// <param name="FirstDifferingSeq">The first of them.</param>
public sealed record LogIndexCheck(long Watermark, long RowsChecked, long Differing, long? FirstDifferingSeq);

using AccessControl.EntryLog;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// A small real entry log in a temp data folder: a SQLite file written by the real <see cref="EntryLogWriter"/>, a few
/// dozen rows of every kind, signed checkpoints (every 10 rows) in the table and the checkpoint file, the key files.
/// </summary>
internal sealed class TestLog : IDisposable
{
    public static readonly Instant Start = Instant.FromUtc(2025, 3, 3, 9, 0);

    private int next;

    private TestLog(string directory, Database database, bool logTablesOnly, Microsoft.Extensions.Logging.ILogger? writerLogger)
    {
        Directory = directory;
        Database = database;
        LogTablesOnly = logTablesOnly;
        WriterLogger = writerLogger;
        Clock = new FakeClock(Start);
        Writer = OpenWriter();
    }

    public string Directory { get; }

    public Database Database { get; }

    public bool LogTablesOnly { get; }

    public FakeClock Clock { get; }

    public EntryLogWriter Writer { get; private set; }

    /// <summary>The service's log as the writer is given it (null: none).</summary>
    public Microsoft.Extensions.Logging.ILogger? WriterLogger { get; }

    public string CheckpointPath => CheckpointFile.PathIn(Directory);

    public string PublicKeyPath => Path.Combine(Directory, LogSigningKey.PublicKeyFileName);

    /// <summary>
    /// A purge by the retention job with the standard minimum retention, run when it first allows <paramref name="before"/>:
    /// a year after it (the purge row is dated then).
    /// </summary>
    public LogPurgeResult PurgeAYearOn(Instant before, int stepRows = EntryLogWriter.PurgeStepRows, int maxSteps = int.MaxValue) =>
        Writer.Purge(before, "retention-job", before + LogRetention.Standard, LogRetention.Default, stepRows, maxSteps);

    /// <summary>
    /// A settings file as the service is started with one (<c>--config FILE</c>), in a folder of its own beside the data
    /// folder, holding <paramref name="logIntegrity"/> as its <c>AccessControl:LogIntegrity</c> section.
    /// </summary>
    public string SettingsFile(string logIntegrity = "{}") => SettingsFileIn(Directory, logIntegrity);

    /// <summary><see cref="SettingsFile"/> for a data folder without a <see cref="TestLog"/>.</summary>
    public static string SettingsFileIn(string dataFolder, string logIntegrity = "{}")
    {
        var folder = System.IO.Directory.CreateDirectory(Path.Combine(dataFolder, "etc")).FullName;
        var path = Path.Combine(folder, $"appsettings-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """{"AccessControl":{"LogIntegrity":""" + logIntegrity + "}}");
        return path;
    }

    public static LogIntegrityOptions Options { get; } = new() { CheckpointEveryRows = 10, CheckpointInterval = TimeSpan.FromMinutes(1) };

    /// <summary>
    /// A log of <paramref name="rows"/> rows in batches of 1 to 4, ending with a checkpoint at the head.
    /// <paramref name="logTablesOnly"/>: a database with only the log's migrations and 512-byte pages (the byte-flip test).
    /// <paramref name="writerLogger"/>: the service's log, as the writer is given it.
    /// </summary>
    public static TestLog Create(int rows = 36, bool logTablesOnly = false, Microsoft.Extensions.Logging.ILogger? writerLogger = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-log-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "accesscontrol.db");
        var database = new Database(path);
        if (logTablesOnly)
        {
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA page_size = 512;";
            command.ExecuteNonQuery();
            foreach (var (_, name, sql) in Database.Scripts().Where(s => s.Name.Contains("entry_log", StringComparison.Ordinal)))
            {
                command.CommandText = sql;
                command.ExecuteNonQuery();
            }
        }
        else
        {
            database.Migrate();
        }

        var log = new TestLog(directory, database, logTablesOnly, writerLogger);
        var batch = 1;
        while (log.next < rows)
        {
            log.AppendRows(Math.Min(batch, rows - log.next));
            batch = batch % 4 + 1;
        }

        log.Writer.Checkpoint();
        return log;
    }

    /// <summary>
    /// A database older than the checkpoint file beside it (a backup restored with the newer file left in place, or an
    /// older copy put there to hide rows): rows signed up to <paramref name="head"/>, a backup taken then, rows signed up
    /// to <paramref name="signed"/>, then the backup put back in the database's place. The writer is closed.
    /// </summary>
    public static TestLog RolledBack(long head, long signed)
    {
        var log = Create(rows: 0);

        // Rows of a reason the service writes too (the harness checks every reason it finds).
        log.AppendDoorEvents(1, head);
        var backup = Path.Combine(log.Directory, "backup.db");
        using (var source = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False"))
        using (var target = new SqliteConnection($"Data Source={backup};Pooling=False"))
        {
            source.Open();
            target.Open();
            source.BackupDatabase(target);
        }

        log.AppendDoorEvents(head + 1, signed);
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { "", "-wal", "-shm" }.Select(s => log.Database.Path + s).Where(File.Exists))
        {
            File.Delete(file);
        }

        File.Move(backup, log.Database.Path);
        return log;
    }

    public EntryLogWriter OpenWriter() => new(Database, new LogCheckpointing(LogSigningKey.LoadOrCreate(Directory), CheckpointPath, Clock, Options), WriterLogger);

    /// <summary>Closes and reopens the writer (a service restart).</summary>
    public void Restart()
    {
        Writer.Dispose();
        Writer = OpenWriter();
    }

    public IReadOnlyList<LogEntry> AppendRows(int count)
    {
        var entries = Enumerable.Range(0, count).Select(_ => Entry(next++)).ToList();
        Clock.Advance(Duration.FromSeconds(7));
        var written = Writer.Append(entries);

        // As the service's periodic job would within a second: the checkpoints made are in the file before the test looks.
        Writer.FileCheckpoints();
        return written;
    }

    /// <summary>Door events with seqs <paramref name="from"/> to <paramref name="to"/>, then a checkpoint at the head.</summary>
    private void AppendDoorEvents(long from, long to)
    {
        Writer.Append([.. Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => new LogEntry
        {
            At = Clock.GetCurrentInstant(), Kind = LogKinds.Door, SiteId = "dc1", DoorId = "door-hall-a", Source = "doors/ctl-1", EventId = "door-" + i, Reason = "opened",
        })]);
        Writer.Checkpoint();
    }

    /// <summary>Verifies the log; when the newest checkpoints' lines are missing, it reads the file again at once instead of waiting.</summary>
    public LogVerification Verify() => new LogVerifier(Database, CheckpointPath, PublicKeyPath) { WaitForFiling = () => { } }.Verify();

    /// <summary>
    /// A connection as an attacker with the file has it: the append-only triggers dropped. Not pooled, and the writer is
    /// closed first so that nothing of the old state lingers in memory.
    /// </summary>
    public SqliteConnection Tamper()
    {
        Writer.Dispose();
        SqliteConnection.ClearAllPools();
        var connection = new SqliteConnection($"Data Source={Database.Path};Pooling=False");
        connection.Open();
        Execute(connection, "DROP TRIGGER IF EXISTS entry_log_no_update; DROP TRIGGER IF EXISTS entry_log_no_delete; DROP TRIGGER IF EXISTS log_checkpoints_no_delete; DROP TRIGGER IF EXISTS log_checkpoints_no_update;");
        return connection;
    }

    /// <summary>What a careful attacker does when done: the append-only triggers made again, exactly as the migrations made them.</summary>
    public static void RestoreTriggers(SqliteConnection connection)
    {
        foreach (var (name, sql) in LogProtection.Made)
        {
            Execute(connection, $"DROP TRIGGER IF EXISTS {name}; {sql}");
        }
    }

    /// <summary>
    /// For a log written by a writer that signs nothing (no <see cref="LogCheckpointing"/>): its chain is whole and its
    /// triggers are in place, and the one thing verify finds is that no checkpoint vouches for it.
    /// </summary>
    public static void AssertChainWholeButUnsigned(LogVerification result)
    {
        var all = System.Text.Json.JsonSerializer.Serialize(result);
        Assert.Null(result.FirstBroken);
        Assert.Empty(result.ProtectionProblems);
        Assert.Equal(CheckpointProblems.NoCheckpoint, Assert.Single(result.CheckpointProblems).Problem);
        Assert.False(result.Ok, all);
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Rows of different kinds and shapes: nulls, integers, text with JSON and non-ASCII characters.</summary>
    public LogEntry Entry(int i) => (i % 6) switch
    {
        0 => new LogEntry
        {
            At = Clock.GetCurrentInstant(), Kind = LogKinds.Access, SiteId = "dc1", ReaderId = "rdr-hall-a-in", DoorId = "door-hall-a",
            ZoneId = "dc1-hall-a", PersonId = "p-" + i, Card = "04A1B2C3" + i.ToString("D2", System.Globalization.CultureInfo.InvariantCulture),
            Source = "readers/rdr-hall-a-in", EventId = "ev-" + i, DeviceSeq = 1000 + i, DeviceAt = Clock.GetCurrentInstant() - Duration.FromMilliseconds(40),
            Decision = i % 12 == 0 ? "grant" : "deny", Reason = i % 12 == 0 ? "granted" : "no_access_level", UnlockSeconds = i % 12 == 0 ? 5 : null,
        },
        1 => new LogEntry { At = Clock.GetCurrentInstant(), Kind = LogKinds.Door, SiteId = "dc1", DoorId = "door-hall-a", Source = "doors/ctl-1", EventId = "door-" + i, DeviceSeq = i, Reason = "opened" },
        2 => new LogEntry { At = Clock.GetCurrentInstant(), Kind = LogKinds.Alarm, SiteId = "dc1", DoorId = "door-hall-a", Reason = "door_held_open", Detail = "{\"seconds\":31}" },
        3 => new LogEntry { At = Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Actor = "alice", Reason = "person.upsert", PersonId = "p-" + i, Detail = "{\"name\":\"Zoë Ångström 日本\"}" },
        4 => new LogEntry { At = Clock.GetCurrentInstant(), Kind = LogKinds.Security, Actor = "mallory", Reason = "auth_failed", Detail = "{\"clientId\":\"x\"}" },
        _ => new LogEntry { At = Clock.GetCurrentInstant(), Kind = LogKinds.Malformed, Source = "readers/rdr-hall-a-in", Offline = true, Detail = "{\"error\":\"bad json\"}" },
    };

    public void Dispose()
    {
        Writer.Dispose();
        SqliteConnection.ClearAllPools();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

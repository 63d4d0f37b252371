using System.Reflection;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Storage;

/// <summary>
/// The SQLite database file: connection settings that make commits durable, and the numbered migration scripts
/// that live beside each feature (<c>EntryLog/Migrations/0001_entry_log.sql</c>, ...), applied in number order.
/// </summary>
public sealed partial class Database
{
    private static int handlersRegistered;

    public Database(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 5,
        }.ToString();
        RegisterTypeHandlers();
    }

    /// <summary>How long a connection waits for a lock another one holds before it gives up (SQLITE_BUSY).</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(5);

    public string Path { get; }

    public string ConnectionString { get; }

    /// <summary>
    /// Opens a connection with WAL and synchronous=FULL: a commit returns only after the WAL is fsync'ed, which is
    /// what "durable before visible" needs. busy_timeout lets the writer and readers share the file.
    /// </summary>
    public SqliteConnection Open()
    {
        // 0600 whatever the umask (it was 0644 with the usual 022), and so are its -wal and -shm.
        OwnerOnly.CreateEmptyFile(Path);
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        connection.Execute($"PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout={(long)BusyTimeout.TotalMilliseconds};");
        return connection;
    }

    /// <summary>
    /// Closes the connections the pool keeps open on this file; one in use is closed when it is given back. For an owner
    /// that gives the file up while the process lives on (a start that failed): else the pool holds the file, its WAL and
    /// its locks until the process ends. The database can still be opened afterwards.
    /// </summary>
    public void CloseIdleConnections()
    {
        // Both pools: that of the read-write connections, and that of the read-only ones (another connection string).
        using var connection = new SqliteConnection(ConnectionString);
        SqliteConnection.ClearPool(connection);
        using var readOnly = new SqliteConnection(ReadOnlyConnectionString);
        SqliteConnection.ClearPool(readOnly);
    }

    private string ReadOnlyConnectionString => new SqliteConnectionStringBuilder(ConnectionString) { Mode = SqliteOpenMode.ReadOnly }.ToString();

    /// <summary>
    /// Opens a read-only connection for queries (the log API, the CLI, reports): least privilege, and it can never
    /// change the file, not even its journal mode. The file must exist.
    /// </summary>
    public SqliteConnection OpenReadOnly()
    {
        var connection = new SqliteConnection(ReadOnlyConnectionString);
        connection.Open();
        connection.Execute($"PRAGMA busy_timeout={(long)BusyTimeout.TotalMilliseconds};");
        return connection;
    }

    /// <summary>Creates the file if needed and applies every migration not yet applied. Returns the versions applied now.</summary>
    public IReadOnlyList<int> Migrate()
    {
        OwnerOnly.CreateFolderOf(Path);

        using var connection = Open();
        connection.Execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name    TEXT    NOT NULL
            )
            """);
        var applied = connection.Query<long>("SELECT version FROM schema_migrations").Select(v => (int)v).ToHashSet();
        var done = new List<int>();
        foreach (var (version, name, sql) in Scripts())
        {
            if (applied.Contains(version))
            {
                continue;
            }

            using var transaction = connection.BeginTransaction();
            connection.Execute(sql, transaction: transaction);
            connection.Execute("INSERT INTO schema_migrations (version, name) VALUES (@version, @name)", new { version, name }, transaction);
            transaction.Commit();
            done.Add(version);
        }

        return done;
    }

    /// <summary>The embedded migration scripts, in version order. Two scripts with one number are a build bug.</summary>
    internal static IReadOnlyList<(int Version, string Name, string Sql)> Scripts()
    {
        var assembly = typeof(Database).Assembly;
        var scripts = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = MigrationName().Match(resource);
            if (!match.Success)
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            scripts.Add((int.Parse(match.Groups[1].Value), match.Groups[1].Value + match.Groups[2].Value, reader.ReadToEnd()));
        }

        var duplicate = scripts.GroupBy(s => s.Item1).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Two migrations share number {duplicate.Key}: {string.Join(", ", duplicate.Select(d => d.Item2))}");
        }

        return [.. scripts.OrderBy(s => s.Item1)];
    }

    private static void RegisterTypeHandlers()
    {
        if (Interlocked.Exchange(ref handlersRegistered, 1) == 0)
        {
            SqlMapper.AddTypeHandler(new InstantHandler());
            SqlMapper.AddTypeHandler(new NullableInstantHandler());
        }
    }

    [GeneratedRegex(@"\.(\d{4})(_[A-Za-z0-9_]+)\.sql$")]
    private static partial Regex MigrationName();

    /// <summary>Instants are stored as Unix milliseconds: sortable, portable, exact to the millisecond the protocol carries.</summary>
    private sealed class InstantHandler : SqlMapper.TypeHandler<Instant>
    {
        public override Instant Parse(object value) => Instant.FromUnixTimeMilliseconds(Convert.ToInt64(value));

        public override void SetValue(System.Data.IDbDataParameter parameter, Instant value) => parameter.Value = value.ToUnixTimeMilliseconds();
    }

    private sealed class NullableInstantHandler : SqlMapper.TypeHandler<Instant?>
    {
        public override Instant? Parse(object value) => value is null or DBNull ? null : Instant.FromUnixTimeMilliseconds(Convert.ToInt64(value));

        public override void SetValue(System.Data.IDbDataParameter parameter, Instant? value) =>
            parameter.Value = value is null ? DBNull.Value : value.Value.ToUnixTimeMilliseconds();
    }
}

using AccessControl.Broker;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.EntryLog;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// A start that fails (a refused rollback, a bad site file, a rollback whose row cannot be written) leaves nothing of
/// itself behind: no connection to the database, no open journal, no thread. A process that catches the failure and
/// tries again (a host that retries, a test) would otherwise pile up connections, file handles and threads with every
/// attempt, and the data folder could not be moved or restored while it runs.
/// </summary>
/// <remarks>Alone in its collection: it counts the process's threads by name, which a test running beside it could start.</remarks>
[Collection(Name)]
public sealed class FailedStartTests : IDisposable
{
    public const string Name = "failed starts (counts the process's threads)";

    private const long Head = 12;
    private const long Signed = Head + 2;

    /// <summary>The maintenance worker's thread name as Linux keeps it (15 characters).</summary>
    private const string MaintenanceThread = "ac-log-maintena";

    /// <summary>The console logger's thread ("Console logger queue processing thread") as Linux keeps its name.</summary>
    private const string ConsoleLoggerThread = "Console logger ";

    private readonly TestLog log = TestLog.RolledBack(Head, Signed);

    public FailedStartTests() => File.WriteAllText(Path.Combine(log.Directory, "provisioning.key"), Convert.ToBase64String(AccessControl.Devices.DeviceSecrets.NewKey()));

    public void Dispose() => log.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public void Create_RefusedForARollback_LeavesTheDatabaseFreeToLockExclusively()
    {
        Assert.Throws<LogRollbackException>(() => Create(s => s));

        AssertNothingHeld();
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public void Create_WithABadSiteFile_LeavesTheDatabaseFreeToLockExclusively()
    {
        var bad = Path.Combine(log.Directory, "bad-site.yaml");
        File.WriteAllText(bad, "site: [unclosed\n");

        Assert.Throws<SiteFileException>(() => Create(s => AcceptSigned(s) with { SiteFile = bad }));

        AssertNothingHeld();
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public void Create_WhoseAcceptedRollbackRowCannotBeWritten_LeavesTheDatabaseFreeToLockExclusively_AndNoMaintenanceThread()
    {
        // The row fails after the writer, and the maintenance worker, are made: a full disk or a read-only file would do the same.
        Execute("CREATE TRIGGER rollback_row_fails BEFORE INSERT ON entry_log WHEN NEW.reason = 'log_rollback_accepted' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
        var threadsBefore = Threads(MaintenanceThread);

        Assert.ThrowsAny<SqliteException>(() => Create(AcceptSigned));

        AssertNothingHeld();
        Assert.True(Threads(MaintenanceThread) <= threadsBefore, $"{Threads(MaintenanceThread)} maintenance threads after the failed start, {threadsBefore} before");
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public void Create_WhoseEntryLogWriterCannotOpen_LeavesTheDatabaseFreeToLockExclusively()
    {
        // The writer opens its connection, then reads the log's head and purge horizon: a database without log_purge
        // (damaged, or changed by someone with the file) makes that read throw after the connection is open.
        Execute("DROP TABLE log_purge");

        Assert.ThrowsAny<SqliteException>(() => Create(AcceptSigned));

        AssertNothingHeld();
    }

    [Fact]
    [Trait("control", "NIST-CP-10")]
    public void HostCreate_WithABadSiteFile_LeavesNoConsoleLoggerThread_AndTheDatabaseFreeToLockExclusively()
    {
        var bad = Path.Combine(log.Directory, "bad-site.yaml");
        File.WriteAllText(bad, "site: [unclosed\n");
        var threadsBefore = Threads(ConsoleLoggerThread);

        // The service's own console logging (no logging given), whose logger factory runs a thread of its own.
        Assert.Throws<SiteFileException>(() => AccessControlHost.Create(Settings(AcceptSigned) with { SiteFile = bad }, log.Clock,
            AccessControl.Tests.Support.RealTime.Instance));

        AssertNothingHeld();
        Assert.True(Threads(ConsoleLoggerThread) <= threadsBefore, $"{Threads(ConsoleLoggerThread)} console logger threads after the failed start, {threadsBefore} before");
    }

    [Fact]
    [Trait("control", "NIST-CP-10")]
    public async Task DisposeAsync_AfterAStart_LeavesTheDatabaseFreeToLockExclusively()
    {
        // A normal stop, as a host that stops and starts again in one process, or an operator who then moves the file, does it.
        var host = AccessControlHost.Create(Settings(AcceptSigned) with { HttpUrl = "http://127.0.0.1:0" }, log.Clock,
            AccessControl.Tests.Support.RealTime.Instance, logging => logging.ClearProviders());
        await host.StartAsync();
        await host.DisposeAsync();

        AssertNothingHeld();
    }

    private EdgeService Create(Func<ServiceSettings, ServiceSettings> configure) => EdgeService.Create(Settings(configure),
        log.Clock, AccessControl.Tests.Support.RealTime.Instance, NullLoggerFactory.Instance);

    private ServiceSettings Settings(Func<ServiceSettings, ServiceSettings> configure) =>
        configure(new ServiceSettings { DataDirectory = log.Directory, SiteFile = EdgeHarness.DemoSiteFile, Broker = new BrokerOptions { Port = 0 } });

    private static ServiceSettings AcceptSigned(ServiceSettings settings) => settings with { LogIntegrity = settings.LogIntegrity with { AcceptRollback = Signed } };

    /// <summary>
    /// Another connection takes the database for itself (exclusive locking mode, a write) at once: no connection of the
    /// failed start is open on it, in use or idle in the pool.
    /// </summary>
    private void AssertNothingHeld()
    {
        using var connection = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False");
        connection.Open();

        // Through SQLite itself, which answers SQLITE_BUSY at once (busy_timeout 0), not through SqliteCommand, which
        // would try again until its command timeout.
        var result = SQLitePCL.raw.sqlite3_exec(connection.Handle,
            "PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE held_by_nobody_else (x); ROLLBACK;", out var error);
        Assert.True(result == SQLitePCL.raw.SQLITE_OK, $"SQLite {result}: {error}");
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False");
        connection.Open();
        TestLog.Execute(connection, sql);
    }

    /// <summary>The process's threads of that name (Linux: /proc/self/task/*/comm); one that ends while they are read is not counted.</summary>
    private static int Threads(string name) =>
        Directory.EnumerateDirectories("/proc/self/task").Count(task => NameOf(task) == name);

    private static string? NameOf(string task)
    {
        try
        {
            return File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n');
        }
        catch (IOException)
        {
            return null; // the thread ended between the listing and the read
        }
    }
}

[CollectionDefinition(FailedStartTests.Name, DisableParallelization = true)]
public sealed class FailedStartCollection;

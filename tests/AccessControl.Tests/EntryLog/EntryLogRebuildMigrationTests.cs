using AccessControl.EntryLog;
using AccessControl.Storage;
using Dapper;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// Migration 0015 rebuilds <c>entry_log</c> without <c>AUTOINCREMENT</c> (the writer numbers rows itself): a log written
/// before it keeps every row, byte for byte, its chain and its append-only guard, and the writer goes on after its head.
/// </summary>
public sealed class EntryLogRebuildMigrationTests
{
    private static readonly int RebuildVersion = Database.Scripts().Single(s => s.Name.EndsWith("_entry_log_without_autoincrement", StringComparison.Ordinal)).Version;

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Migrate_AWrittenLog_KeepsEveryRowAndItsChain_TheGuardsHold_AndNewRowsFollowTheHead()
    {
        var directory = Directory.CreateTempSubdirectory("ac-rebuild-").FullName;
        try
        {
            var database = new Database(Path.Combine(directory, "accesscontrol.db"));
            using (var connection = database.Open())
            {
                connection.Execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)");
                foreach (var (version, name, sql) in Database.Scripts().Where(s => s.Version < RebuildVersion))
                {
                    connection.Execute(sql);
                    connection.Execute("INSERT INTO schema_migrations (version, name) VALUES (@version, @name)", new { version, name });
                }
            }

            var at = Instant.FromUtc(2026, 12, 1, 9, 0);
            using (var writer = new EntryLogWriter(database))
            {
                for (var i = 0; i < 20; i++)
                {
                    writer.Append([Row(at, $"e{i}a"), Row(at, $"e{i}b")]);
                }
            }

            var before = Dump(database);
            Assert.Contains("AUTOINCREMENT", TableSql(database), StringComparison.Ordinal);

            var applied = database.Migrate();

            Assert.Contains(RebuildVersion, applied);
            Assert.Equal(before, Dump(database));
            Assert.DoesNotContain("AUTOINCREMENT", TableSql(database), StringComparison.Ordinal);
            TestLog.AssertChainWholeButUnsigned(new LogVerifier(database).Verify());
            using (var connection = database.Open())
            {
                Assert.Throws<SqliteException>(() => connection.Execute("UPDATE entry_log SET reason = 'granted' WHERE seq = 3"));
                Assert.Throws<SqliteException>(() => connection.Execute("DELETE FROM entry_log WHERE seq = 3"));
                Assert.Throws<SqliteException>(() => connection.Execute(
                    "INSERT INTO entry_log (at, kind, source, event_id) VALUES (0, 'access', 'readers/rdr-lobby-in', 'e0a')"));
            }

            using (var writer = new EntryLogWriter(database))
            {
                var written = writer.Append([Row(at, "after")]);
                Assert.Equal(41, written[0].Seq);
            }

            using var check = database.Open();
            Assert.Equal(0, check.ExecuteScalar<long>("SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'entry_log'"));
            TestLog.AssertChainWholeButUnsigned(new LogVerifier(database).Verify());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static LogEntry Row(Instant at, string eventId) => new()
    {
        At = at,
        Kind = LogKinds.Access,
        ReaderId = "rdr-lobby-in",
        Source = "readers/rdr-lobby-in",
        EventId = eventId,
        Decision = "deny",
        Reason = "unknown_credential",
        Card = "0499AABBCCDDEE",
        Detail = "{\"technology\":\"desfire-ev3\"}",
    };

    private static string TableSql(Database database)
    {
        using var connection = database.Open();
        return connection.ExecuteScalar<string>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'entry_log'")!;
    }

    /// <summary>Every column of every row, as text (the hash in hex), in seq order.</summary>
    private static List<string> Dump(Database database)
    {
        using var connection = database.Open();
        return [.. connection.Query<string>(
            """
            SELECT seq || '|' || at || '|' || kind || '|' || IFNULL(source, '') || '|' || IFNULL(event_id, '') || '|' ||
                   IFNULL(decision, '') || '|' || IFNULL(reason, '') || '|' || IFNULL(card, '') || '|' || IFNULL(detail, '') || '|' ||
                   offline || '|' || hex(hash)
            FROM entry_log ORDER BY seq
            """)];
    }
}

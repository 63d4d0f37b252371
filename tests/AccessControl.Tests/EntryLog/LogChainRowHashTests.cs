using AccessControl.EntryLog;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// The verifier's walk hashes each row from SQLite's own bytes (<see cref="LogPass"/>); the writer, and the walk before,
/// hash the values a data reader reads. Both must give the same chain hash for every row a file can hold, or logs that
/// verified before would stop verifying (or worse, a change would go unseen).
/// </summary>
public sealed class LogChainRowHashTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("ac-chain-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>Values of every storage class, as SQL literals, spread over the 19 columns row after row.</summary>
    private static readonly string[] Values =
    [
        "NULL", "0", "1", "-1", "9223372036854775807", "-9223372036854775808", "1700000000123", "42",
        "1.5", "-0.0", "1e308", "-2.5e-300", "3.0",
        "''", "'grant'", "'p-seed-4711'", "'Zoë Ångström'", "'門禁 ログ'", "'emoji 🚪🔑'", "'{\"technology\":\"desfire-ev3\"}'",
        "'a' || char(0) || 'b'", "'5'", "printf('%.5000c', 'x')", "'é' || printf('%.1500c', 'ü')",
        "CAST(x'C3' AS TEXT)", "CAST(x'FFFE41' AS TEXT)", "CAST(x'EDA080' AS TEXT)", "CAST(x'F09F' AS TEXT)",
        "x''", "x'00'", "x'00FF7F80'", "randomblob(3000)", "zeroblob(32)", "CAST('text as blob' AS BLOB)",
    ];

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [InlineData("UTF-8")]
    [InlineData("UTF-16le")]
    [InlineData("UTF-16be")]
    public void HashOfTheRowInPlace_IsTheHashOfTheValuesADataReaderReads_ForEveryKindOfValue(string encoding)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(directory, "rows.db")};Pooling=False");
        connection.Open();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"PRAGMA encoding = '{encoding}'; CREATE TABLE entry_log ({LogChain.Columns}, hash);";
            command.ExecuteNonQuery();

            // Each row starts one value further along the list, so every value lands in every column position.
            for (var row = 0; row < Values.Length; row++)
            {
                var values = Enumerable.Range(0, LogChain.ColumnCount).Select(c => Values[(row + c) % Values.Length]);
                command.CommandText = $"INSERT INTO entry_log VALUES ({string.Join(", ", values)}, randomblob(32))";
                command.ExecuteNonQuery();
            }
        }

        var fromReader = new List<byte[]>();
        var chain = new LogChain();
        var previous = LogChain.Start;
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT {LogChain.Columns}, hash FROM entry_log ORDER BY rowid";
            using var reader = command.ExecuteReader();
            var values = new object[LogChain.ColumnCount + 1];
            while (reader.Read())
            {
                reader.GetValues(values);
                fromReader.Add(chain.Hash(previous, values.AsSpan(0, LogChain.ColumnCount)));
                previous = (byte[])values[LogChain.ColumnCount];
            }
        }

        var inPlace = new List<byte[]>();
        previous = LogChain.Start;
        var hash = new byte[LogChain.HashSize];
        using (var pass = new LogPass(connection, $"SELECT {LogChain.Columns}, hash FROM entry_log ORDER BY rowid"))
        {
            while (pass.Read())
            {
                new LogChain().Hash(previous, pass, hash);
                inPlace.Add(hash.ToArray());
                previous = pass.GetBlob(LogChain.ColumnCount).ToArray();
            }
        }

        Assert.Equal(Values.Length, fromReader.Count);
        Assert.Equal(fromReader.Select(Convert.ToHexString), inPlace.Select(Convert.ToHexString));
    }

    [Fact]
    public void VerifyingALog_AllocatesNothingMoreForMoreRows()
    {
        var database = new Database(Path.Combine(directory, "accesscontrol.db"));
        database.Migrate();
        using var writer = new EntryLogWriter(database);
        using var inputs = new LogVerifyInputs(null, []);
        Append(writer, 0, 500);
        var few = AllocatedByVerify(database, inputs);
        Append(writer, 500, 2_500);
        var many = AllocatedByVerify(database, inputs);

        Assert.Equal(2_500, many.Rows);
        Assert.Null(many.Result.FirstBroken);

        // Before, a data reader's boxed values, strings and arrays: about 800 bytes a row.
        Assert.True((many.Bytes - few.Bytes) / 2_000 < 16, $"{few.Bytes} bytes for 500 rows, {many.Bytes} for 2,500");
    }

    private static (long Rows, long Bytes, LogVerification Result) AllocatedByVerify(Database database, LogVerifyInputs inputs)
    {
        using var connection = database.OpenReadOnly();
        _ = LogVerifier.Verify(connection, inputs);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = LogVerifier.Verify(connection, inputs);
        return (result.Rows, GC.GetAllocatedBytesForCurrentThread() - before, result);
    }

    private static void Append(EntryLogWriter writer, int from, int to)
    {
        var at = Instant.FromUtc(2026, 11, 1, 8, 0);
        writer.Append([.. Enumerable.Range(from, to - from).Select(i => new LogEntry
        {
            At = at + Duration.FromSeconds(i), Kind = LogKinds.Access, SiteId = "dc1", ReaderId = $"rdr-{i % 40}", DoorId = $"door-{i % 20}",
            PersonId = $"p-{i % 5000}", Card = $"{i:X14}", Source = $"readers/rdr-{i % 40}", EventId = $"e-{i:x}", DeviceSeq = i,
            Decision = i % 10 == 0 ? "deny" : "grant", Reason = i % 10 == 0 ? "no_access_to_zone" : "granted",
            UnlockSeconds = i % 10 == 0 ? null : 5, Detail = """{"technology":"desfire-ev3"}""",
        })]);
    }
}

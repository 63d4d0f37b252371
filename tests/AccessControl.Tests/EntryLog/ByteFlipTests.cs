using System.Text;
using AccessControl.EntryLog;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// Flips every byte of a small real log file in turn (flip, verify, flip back). Every flip that changes what the log
/// says must be reported as broken; SQLite refusing the file counts as detected; a flip in slack space (free space in a
/// page, an index, the header's change counter) changes nothing and may verify.
/// </summary>
public sealed class ByteFlipTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "PCI-10.3")]
    public void EveryByteFlip_ThatChangesTheLog_IsDetected()
    {
        using var log = TestLog.Create(rows: 30, logTablesOnly: true);
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();
        var connectionString = new SqliteConnectionStringBuilder { DataSource = log.Database.Path, Pooling = false }.ToString();
        using (var connection = new SqliteConnection(connectionString))
        {
            connection.Open();
            TestLog.Execute(connection, "PRAGMA journal_mode = DELETE"); // one file, nothing beside it in a WAL
        }

        var readOnly = new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadOnly }.ToString();
        using var publicKey = LogSigningKey.LoadPublicKey(log.PublicKeyPath);
        var inputs = new LogVerifyInputs(CheckpointFile.ReadAll(log.CheckpointPath), [publicKey]);
        var original = Content(readOnly);
        Assert.True(Verify(readOnly, inputs), "the untouched log must verify");

        int detected = 0, unreadable = 0, harmless = 0;
        var missed = new List<string>();
        using (var file = new FileStream(log.Database.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            var length = file.Length;
            for (long offset = 0; offset < length; offset++)
            {
                file.Position = offset;
                var b = (byte)file.ReadByte();
                Write(file, offset, (byte)(b ^ 0xFF));
                var ok = Verify(readOnly, inputs, out var threw);
                if (!ok)
                {
                    detected++;
                    unreadable += threw ? 1 : 0;
                }
                else
                {
                    string? now;
                    try
                    {
                        now = Content(readOnly);
                    }
                    catch (SqliteException)
                    {
                        now = null;
                    }

                    if (now == original)
                    {
                        harmless++;
                    }
                    else
                    {
                        missed.Add($"offset {offset} (page {offset / 512 + 1})");
                    }
                }

                Write(file, offset, b);
            }

            output.WriteLine($"{length} bytes flipped: {detected} detected ({unreadable} of them unreadable to SQLite), {harmless} changed nothing in the log, {missed.Count} missed");
            Assert.True(length >= 4096, $"the test must exercise thousands of flips, not {length}");
        }

        Assert.Empty(missed);
        Assert.True(detected > 1000, $"only {detected} flips were detected");
        Assert.True(Verify(readOnly, inputs), "every flip was undone");
    }

    private static void Write(FileStream file, long offset, byte value)
    {
        file.Position = offset;
        file.WriteByte(value);
        file.Flush();
    }

    private static bool Verify(string connectionString, LogVerifyInputs inputs) => Verify(connectionString, inputs, out _);

    private static bool Verify(string connectionString, LogVerifyInputs inputs, out bool unreadable)
    {
        unreadable = false;
        try
        {
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            var result = LogVerifier.Verify(connection, inputs);
            unreadable = result.FirstBroken?.Problem == LogBreaks.Unreadable;
            return result.Ok;
        }
        catch (SqliteException)
        {
            unreadable = true;
            return false;
        }
    }

    /// <summary>Everything the log says: every row of entry_log and log_checkpoints, each value with its storage class.</summary>
    private static string Content(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        var text = new StringBuilder();
        foreach (var table in new[] { $"SELECT {LogChain.Columns}, hash FROM entry_log ORDER BY seq", "SELECT * FROM log_checkpoints ORDER BY seq" })
        {
            using var command = connection.CreateCommand();
            command.CommandText = table;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    var value = reader.GetValue(i);
                    text.Append(value.GetType().Name).Append(':').Append(value is byte[] bytes ? Convert.ToHexString(bytes) : Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)).Append('|');
                }

                text.Append('\n');
            }
        }

        return text.ToString();
    }
}

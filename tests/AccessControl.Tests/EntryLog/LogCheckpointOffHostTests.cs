using System.Collections.Concurrent;
using AccessControl.EntryLog;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// Whoever can write the database can read <c>log-signing.key</c> beside it (the same account owns both): they can
/// rewrite a row, recompute the chain and sign every checkpoint again, in the table and in the checkpoint file, and
/// the log verifies on the host. Only a copy of the checkpoints that has left the host shows it: the service writes
/// each one to its own log, which the site forwards to its log server.
/// </summary>
public sealed class LogCheckpointOffHostTests : IDisposable
{
    private readonly ServiceLog serviceLog = new();
    private readonly TestLog log;

    public LogCheckpointOffHostTests() => log = TestLog.Create(writerLogger: serviceLog);

    public void Dispose() => log.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void EveryCheckpoint_IsWrittenToTheServiceLog_OnceAndAsItsCheckpointFileLine()
    {
        var fileLines = File.ReadAllLines(log.CheckpointPath);

        Assert.Equal(4, fileLines.Length); // seqs 10, 20, 30 and the head, 36
        Assert.Equal(fileLines, serviceLog.CheckpointLines());
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "PCI-10.3")]
    public void ADenyTurnedIntoAGrant_AndResignedWithTheDataFoldersKey_VerifiesOnTheHost_ButNotAgainstTheCheckpointsTheServiceLogged()
    {
        var shipped = Path.Combine(log.Directory, "forwarded-checkpoints.jsonl");
        File.WriteAllLines(shipped, serviceLog.CheckpointLines());

        using (var connection = log.Tamper())
        {
            // Row 7 is a deny (TestLog.Entry(6)). The key is in the data folder: sign the rewritten chain with it.
            TestLog.Execute(connection, "UPDATE entry_log SET decision = 'grant', reason = 'granted', unlock_seconds = 5 WHERE seq = 7 AND decision = 'deny'");
            LogIntegrityTests.Rechain(connection);
            Resign(connection, log.Directory, log.CheckpointPath);
            TestLog.RestoreTriggers(connection);
        }

        var onTheHost = log.Verify();
        Assert.True(onTheHost.Ok, LogIntegrityTests.Describe(onTheHost));

        var result = new LogVerifier(log.Database, shipped, log.PublicKeyPath).Verify();

        Assert.False(result.Ok);
        Assert.Equal([10L, 20, 30, 36], result.CheckpointProblems.Where(p => p.Problem == CheckpointProblems.HashMismatch).Select(p => p.Seq));
        Assert.Equal([10L, 20, 30, 36], result.CheckpointProblems.Where(p => p.Problem == CheckpointProblems.DiffersFromFile).Select(p => p.Seq));
    }

    /// <summary>Every checkpoint in the table and the file replaced by one of the current chain, signed with the data folder's key.</summary>
    private static void Resign(SqliteConnection connection, string dataFolder, string checkpointFile)
    {
        var old = new List<(long Seq, long Rows, long At)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT seq, rows, at FROM log_checkpoints ORDER BY seq";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                old.Add((reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }

        using var key = LogSigningKey.LoadOrCreate(dataFolder);
        var lines = new List<string>();
        TestLog.Execute(connection, "DELETE FROM log_checkpoints");
        foreach (var (seq, rows, at) in old)
        {
            using var hashOf = connection.CreateCommand();
            hashOf.CommandText = "SELECT hash FROM entry_log WHERE seq = $seq";
            hashOf.Parameters.AddWithValue("$seq", seq);
            var checkpoint = key.Sign(seq, (byte[])hashOf.ExecuteScalar()!, rows, Instant.FromUnixTimeMilliseconds(at));
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO log_checkpoints (seq, hash, rows, at, key_id, signature) VALUES ($seq, $hash, $rows, $at, $key, $sig)";
            insert.Parameters.AddWithValue("$seq", checkpoint.Seq);
            insert.Parameters.AddWithValue("$hash", checkpoint.Hash);
            insert.Parameters.AddWithValue("$rows", checkpoint.Rows);
            insert.Parameters.AddWithValue("$at", at);
            insert.Parameters.AddWithValue("$key", checkpoint.KeyId);
            insert.Parameters.AddWithValue("$sig", checkpoint.Signature);
            insert.ExecuteNonQuery();
            lines.Add(checkpoint.ToJsonLine());
        }

        File.WriteAllLines(checkpointFile, lines);
    }

    /// <summary>The service's log as a log server receives it: each entry's event and message.</summary>
    private sealed class ServiceLog : ILogger
    {
        private readonly ConcurrentQueue<(EventId Event, string Message)> entries = new();

        /// <summary>The checkpoint lines, as an auditor takes them from the forwarded log.</summary>
        public IReadOnlyList<string> CheckpointLines() =>
        [
            .. entries.Where(e => e.Event.Id == EntryLogWriter.CheckpointLogged.Id && e.Message.StartsWith(EntryLogWriter.CheckpointLogPrefix, StringComparison.Ordinal))
                .Select(e => e.Message[EntryLogWriter.CheckpointLogPrefix.Length..]),
        ];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue((eventId, formatter(state, exception)));
    }
}

using Microsoft.Data.Sqlite;

namespace AccessControl.Storage;

/// <summary>
/// Keeps the write-ahead log short while the entry log is written without pause. A PASSIVE checkpoint copies the WAL into
/// the database file without blocking the writer, but SQLite starts the WAL over from its beginning only when every frame
/// has been copied at the moment a writer begins: under a steady stream of swipes that never happens, and the WAL grows
/// for ever (hundreds of MB an hour at 1000 events/s), each commit then extending the file (a costlier fsync).
/// </summary>
/// <remarks>
/// So: PASSIVE first (copies nearly everything, concurrently); then, if the WAL holds more than
/// <see cref="DefaultRestartFrames"/> frames, RESTART, which copies the few frames written meanwhile while it holds the
/// writer off for that moment, and makes the next commit write from the WAL's start. The writer waits that out in
/// SQLite's busy handler, which sleeps at least a millisecond: a stall of a millisecond or two every second or two at
/// 1000 events/s (the WAL gains about 6,000 frames a second then), which delays a handful of swipes in a thousand; the
/// threshold keeps it away from quiet sites altogether, whose PASSIVE checkpoints catch up between swipes.
/// <para>
/// A RESTART also waits until no reader is using the WAL, and it holds the writer off while it waits. With the
/// connection's own busy timeout (5 s) one long reader (an auditor's <c>log verify</c> over the API, a large query, a
/// CLI reading the live file) kept every swipe's commit waiting for 5 s at each round for as long as it read, and a
/// commit that waited its own 5 s out was refused (<c>log_failure</c>, a deny). So the RESTART waits at most
/// <see cref="RestartWait"/> for the writer and the readers; when they are not done by then it copies what it can, as
/// PASSIVE does, and the next round tries again. While a long read lasts the WAL grows (no checkpoint can copy frames a
/// reader may still need, whatever it waits); it starts over at the first round after the read.
/// </para>
/// </remarks>
public static class WalCheckpoints
{
    /// <summary>Frames (4 KiB pages) in the WAL above which a RESTART checkpoint follows the PASSIVE one: 32 MiB.</summary>
    public const int DefaultRestartFrames = 8192;

    /// <summary>
    /// How long a RESTART checkpoint waits for the writer and the readers, holding new commits off meanwhile: long enough
    /// for a commit in flight or a short query, far shorter than a swipe's commit waits before it gives up (5 s).
    /// </summary>
    public static readonly TimeSpan RestartWait = TimeSpan.FromMilliseconds(10);

    /// <summary>Runs one round; returns the number of frames the WAL held (SQLite starts it over at the next commit after a RESTART).</summary>
    public static long Run(Database database, int restartFrames = DefaultRestartFrames)
    {
        using var connection = database.Open();
        var (_, frames, _) = Checkpoint(connection, "PASSIVE");
        if (frames > restartFrames)
        {
            SetBusyTimeout(connection, RestartWait);
            try
            {
                (_, frames, _) = Checkpoint(connection, "RESTART");
            }
            finally
            {
                SetBusyTimeout(connection, Database.BusyTimeout);
            }
        }

        return frames;
    }

    private static void SetBusyTimeout(SqliteConnection connection, TimeSpan timeout)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA busy_timeout={(long)timeout.TotalMilliseconds}";
        command.ExecuteNonQuery();
    }

    private static (long Busy, long Frames, long Copied) Checkpoint(SqliteConnection connection, string mode)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA wal_checkpoint({mode})";
        using var reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)) : (0, 0, 0);
    }
}

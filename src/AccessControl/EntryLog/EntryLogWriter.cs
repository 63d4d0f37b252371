using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// Appends rows to the entry log, many per transaction (group commit). Owned by one thread, the event pipeline:
/// a single writer means no lock contention and a total order of rows. A call returns only after the commit,
/// i.e. after SQLite has fsync'ed the WAL, so whatever the caller does next (publishing a grant) is backed by a durable row.
/// </summary>
public sealed class EntryLogWriter : IDisposable
{
    private const string InsertSql = """
        INSERT INTO entry_log (at, kind, site_id, reader_id, door_id, zone_id, person_id, card, source, event_id,
                               device_seq, device_at, offline, decision, reason, unlock_seconds, actor, detail)
        VALUES ($at, $kind, $site_id, $reader_id, $door_id, $zone_id, $person_id, $card, $source, $event_id,
                $device_seq, $device_at, $offline, $decision, $reason, $unlock_seconds, $actor, $detail)
        RETURNING seq
        """;

    private readonly SqliteConnection connection;
    private readonly SqliteCommand insert;
    private readonly SqliteParameter[] parameters;

    public EntryLogWriter(Database database)
    {
        connection = database.Open();

        // Checkpoints run in the background (EdgeService), not inside a swipe's commit.
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA wal_autocheckpoint = 0";
            pragma.ExecuteNonQuery();
        }

        insert = connection.CreateCommand();
        insert.CommandText = InsertSql;
        string[] names = ["$at", "$kind", "$site_id", "$reader_id", "$door_id", "$zone_id", "$person_id", "$card", "$source", "$event_id",
            "$device_seq", "$device_at", "$offline", "$decision", "$reason", "$unlock_seconds", "$actor", "$detail"];
        parameters = [.. names.Select(n => insert.Parameters.Add(new SqliteParameter { ParameterName = n }))];
        insert.Prepare();
    }

    /// <summary>
    /// Appends the entries in one transaction and returns them with their sequence numbers.
    /// Throws <see cref="SqliteException"/> when the batch could not be committed; then nothing of it was written.
    /// </summary>
    public IReadOnlyList<LogEntry> Append(IReadOnlyList<LogEntry> entries)
    {
        if (entries.Count == 0)
        {
            return [];
        }

        var written = new LogEntry[entries.Count];
        using var transaction = connection.BeginTransaction();
        insert.Transaction = transaction;
        try
        {
            for (var i = 0; i < entries.Count; i++)
            {
                Bind(entries[i]);
                var seq = (long)insert.ExecuteScalar()!;
                written[i] = entries[i] with { Seq = seq };
            }

            transaction.Commit();
        }
        finally
        {
            insert.Transaction = null;
        }

        return written;
    }

    /// <summary>The row already written for a device's event, if any (the idempotency lookup).</summary>
    public LogEntry? FindByEvent(string source, string eventId)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {EntryLogQuery.Columns} FROM entry_log WHERE source = $source AND event_id = $event_id";
        command.Parameters.AddWithValue("$source", source);
        command.Parameters.AddWithValue("$event_id", eventId);
        using var reader = command.ExecuteReader();
        return reader.Read() ? EntryLogQuery.Read(reader) : null;
    }

    /// <summary>
    /// Test hook for the fail-closed path: a connection-local trigger makes every insert fail inside SQLite, the
    /// way a full disk or an I/O error would surface (a <see cref="SqliteException"/> from the commit); false removes it.
    /// </summary>
    internal void SimulateWriteFailure(bool failing)
    {
        using var command = connection.CreateCommand();
        command.CommandText = failing
            ? "CREATE TEMP TRIGGER IF NOT EXISTS simulated_write_failure BEFORE INSERT ON main.entry_log BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END"
            : "DROP TRIGGER IF EXISTS temp.simulated_write_failure";
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        insert.Dispose();
        connection.Dispose();
    }

    private void Bind(LogEntry e)
    {
        parameters[0].Value = e.At.ToUnixTimeMilliseconds();
        parameters[1].Value = e.Kind;
        parameters[2].Value = (object?)e.SiteId ?? DBNull.Value;
        parameters[3].Value = (object?)e.ReaderId ?? DBNull.Value;
        parameters[4].Value = (object?)e.DoorId ?? DBNull.Value;
        parameters[5].Value = (object?)e.ZoneId ?? DBNull.Value;
        parameters[6].Value = (object?)e.PersonId ?? DBNull.Value;
        parameters[7].Value = (object?)e.Card ?? DBNull.Value;
        parameters[8].Value = (object?)e.Source ?? DBNull.Value;
        parameters[9].Value = (object?)e.EventId ?? DBNull.Value;
        parameters[10].Value = (object?)e.DeviceSeq ?? DBNull.Value;
        parameters[11].Value = e.DeviceAt is { } deviceAt ? deviceAt.ToUnixTimeMilliseconds() : DBNull.Value;
        parameters[12].Value = e.Offline ? 1 : 0;
        parameters[13].Value = (object?)e.Decision ?? DBNull.Value;
        parameters[14].Value = (object?)e.Reason ?? DBNull.Value;
        parameters[15].Value = (object?)e.UnlockSeconds ?? DBNull.Value;
        parameters[16].Value = (object?)e.Actor ?? DBNull.Value;
        parameters[17].Value = (object?)e.Detail ?? DBNull.Value;
    }
}

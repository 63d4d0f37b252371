using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace AccessControl.Storage;

/// <summary>
/// One statement prepared once on a <see cref="SqliteConnection"/>'s handle and run with SQLite's own bind and step
/// calls, for the few statements run for every event (the entry log's insert, the redelivery check). Microsoft.Data.Sqlite
/// allocates a binder per parameter and a UTF-8 copy per string on every execution; here a row binds without allocating:
/// text is handed to SQLite as UTF-16 (<c>sqlite3_bind_text16</c>, copied by SQLite), blobs as spans.
/// </summary>
/// <remarks>
/// Runs inside whatever transaction the connection has open, like a command would. Errors surface as the
/// <see cref="SqliteException"/> Microsoft.Data.Sqlite would raise (same result and extended codes), so callers and
/// resilience policies see no difference. Not thread-safe: it belongs to its connection's owner. Parameters are
/// positional (<c>?1</c>, <c>?2</c>... or in order of appearance).
/// </remarks>
internal sealed class RawStatement : IDisposable
{
    private readonly SqliteConnection connection;
    private readonly sqlite3_stmt statement;

    public RawStatement(SqliteConnection connection, string sql)
    {
        this.connection = connection;
        var rc = raw.sqlite3_prepare_v2(connection.Handle, sql, out statement);
        SqliteException.ThrowExceptionForRC(rc, connection.Handle);
    }

    /// <summary>Binds a value the way the entry log stores it: null or <see cref="DBNull"/>, long, int, double, string or byte[].</summary>
    public void Bind(int index, object? value)
    {
        var rc = value switch
        {
            null or DBNull => raw.sqlite3_bind_null(statement, index),
            long l => raw.sqlite3_bind_int64(statement, index, l),
            int i => raw.sqlite3_bind_int64(statement, index, i),
            double d => raw.sqlite3_bind_double(statement, index, d),
            string s => raw.sqlite3_bind_text16(statement, index, s.AsSpan()),
            byte[] b => raw.sqlite3_bind_blob(statement, index, b.AsSpan()),
            _ => throw new ArgumentException($"No SQLite binding for a {value.GetType().Name}.", nameof(value)),
        };
        SqliteException.ThrowExceptionForRC(rc, connection.Handle);
    }

    /// <summary>Runs a statement that returns no rows (an INSERT) and makes it ready for the next.</summary>
    public void Execute()
    {
        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, connection.Handle);
        }
    }

    /// <summary>Whether a query returns at least one row; the statement is ready for the next call after it.</summary>
    public bool Any()
    {
        var rc = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (rc is raw.SQLITE_ROW or raw.SQLITE_DONE)
        {
            return rc == raw.SQLITE_ROW;
        }

        SqliteException.ThrowExceptionForRC(rc, connection.Handle);
        return false;
    }

    public void Dispose() => statement.Dispose();
}

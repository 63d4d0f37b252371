using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace AccessControl.EntryLog;

/// <summary>
/// One forward pass of a query over the log inside a <see cref="LogSnapshot"/>, for the start's reads of every row past
/// the index's watermark (the whole log when there is no index: a restore, a deleted or damaged index file, an upgrade
/// of its schema). Each distinct text value is handed out as one string, however many rows hold it. The verifier's walk
/// reads each row's bytes in place through one too (<see cref="LogChain"/>).
/// </summary>
/// <remarks>
/// A data reader makes a new string of every text value of every row: millions of them on a large log, for a few
/// thousand people, readers and doors. Kept in a start-up dictionary, each fresh string also makes the garbage
/// collector's young collections walk that dictionary. So this reads the row's UTF-8 through SQLite's own statement
/// (the snapshot's connection and transaction) and looks it up among the values seen so far, without allocating. The SQL
/// stays plain; only the reading is SQLite's.
/// </remarks>
internal sealed class LogPass : IDisposable
{
    private readonly sqlite3 db;
    private readonly sqlite3_stmt statement;
    private readonly Dictionary<string, string> strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> lookup;
    private char[] chars = new char[256];

    /// <summary>Prepares <paramref name="sql"/> with its integer parameters (<c>$name</c>) bound.</summary>
    public LogPass(LogSnapshot log, string sql, params (string Name, long Value)[] parameters)
        : this(log?.Connection!, sql, parameters)
    {
    }

    /// <summary>Prepares <paramref name="sql"/> on <paramref name="connection"/> (in its transaction, if any).</summary>
    public LogPass(SqliteConnection connection, string sql, params (string Name, long Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        lookup = strings.GetAlternateLookup<ReadOnlySpan<char>>();
        Check(raw.sqlite3_prepare_v2(db, sql, out statement));
        foreach (var (name, value) in parameters)
        {
            var at = raw.sqlite3_bind_parameter_index(statement, name);
            if (at == 0)
            {
                statement.Dispose();
                throw new ArgumentException($"The query has no parameter {name}.", nameof(parameters));
            }

            Check(raw.sqlite3_bind_int64(statement, at, value));
        }
    }

    /// <summary>Moves to the next row; false after the last.</summary>
    public bool Read()
    {
        var rc = raw.sqlite3_step(statement);
        if (rc == raw.SQLITE_ROW)
        {
            return true;
        }

        Check(rc == raw.SQLITE_DONE ? raw.SQLITE_OK : rc);
        return false;
    }

    public long GetInt64(int column) => raw.sqlite3_column_int64(statement, column);

    public double GetDouble(int column) => raw.sqlite3_column_double(statement, column);

    /// <summary>How SQLite stores the column's value in this row: <c>raw.SQLITE_INTEGER</c>, <c>_FLOAT</c>, <c>_TEXT</c>, <c>_BLOB</c> or <c>_NULL</c>.</summary>
    public int StorageClass(int column) => raw.sqlite3_column_type(statement, column);

    /// <summary>The column's bytes, valid until the next <see cref="Read"/>.</summary>
    public ReadOnlySpan<byte> GetBlob(int column) => raw.sqlite3_column_blob(statement, column);

    /// <summary>The column's text as UTF-8 (converted from the database's encoding if need be), valid until the next <see cref="Read"/>.</summary>
    public ReadOnlySpan<byte> GetUtf8(int column)
    {
        // column_text makes the value's bytes UTF-8 in place; column_blob then hands them out with their length.
        _ = raw.sqlite3_column_text(statement, column);
        return raw.sqlite3_column_blob(statement, column);
    }

    public bool IsNull(int column) => raw.sqlite3_column_type(statement, column) == raw.SQLITE_NULL;

    /// <summary>The column's text, null for NULL; equal values are the same string.</summary>
    public string? GetString(int column)
    {
        if (IsNull(column))
        {
            return null;
        }

        var utf8 = raw.sqlite3_column_blob(statement, column);
        if (Encoding.UTF8.GetMaxCharCount(utf8.Length) > chars.Length)
        {
            chars = new char[Encoding.UTF8.GetMaxCharCount(utf8.Length)];
        }

        var text = chars.AsSpan(0, Encoding.UTF8.GetChars(utf8, chars));
        if (!lookup.TryGetValue(text, out var known))
        {
            known = new string(text);
            strings.Add(known, known);
        }

        return known;
    }

    public void Dispose() => statement.Dispose();

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, db);
        }
    }
}

using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace AccessControl.Storage;

/// <summary>
/// Whether the database file a connection has open is still the one at its path. A file moved, deleted or replaced
/// (renamed over) while the connection lives goes on taking commits into the old inode, which nothing can read once the
/// process ends: a writer must not commit there.
/// </summary>
internal static class FileIdentity
{
    /// <summary>SQLITE_FCNTL_HAS_MOVED: SQLite's unix VFS compares the open file's inode with what the path names now.</summary>
    private const int HasMovedOp = 20;

    /// <summary>The schema name of the main database as a C string: NUL-terminated (a <c>u8</c> literal's array is not).</summary>
    private static readonly byte[] MainDatabase = "main\0"u8.ToArray();

    /// <summary>SQLITE_READONLY_DBMOVED, the code SQLite itself gives a write to a moved database.</summary>
    public const int MovedExtendedCode = (1 << 8) | 8;

    /// <summary>True when the main database file of <paramref name="connection"/> no longer is the file at its path.</summary>
    public static bool HasMoved(SqliteConnection connection)
    {
        var moved = 0;
        var rc = FileControl(connection.Handle!.DangerousGetHandle(), MainDatabase, HasMovedOp, ref moved);
        return rc == 0 && moved != 0;
    }

    /// <summary>The error a write gets once the file has moved: deny and alarm as for any failed commit, SQLite's code 8.</summary>
    public static SqliteException MovedError(string path) => new(
        $"The database file {Path.GetFileName(path)} was moved, deleted or replaced while the service had it open: its rows would go to a file nobody can read. Restart the service on the right file.",
        8, MovedExtendedCode);

    // DllImport, not LibraryImport: an int and a pointer, no marshalling code, and the project allows no unsafe code.
    [DllImport("e_sqlite3", EntryPoint = "sqlite3_file_control")]
    private static extern int FileControl(IntPtr db, byte[] name, int op, ref int arg);
}

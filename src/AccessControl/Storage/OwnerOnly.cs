namespace AccessControl.Storage;

/// <summary>
/// Files and folders the service creates for its account alone, whatever the process's umask: the entry log (card
/// numbers, person ids), its index and checkpoints, the outage journal and the keys. An existing one is left as it is.
/// </summary>
public static class OwnerOnly
{
    private const UnixFileMode FileMode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode FolderMode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="path"/> and any missing folder above it as 0700.</summary>
    public static void CreateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, FolderMode0700);
    }

    /// <summary>Creates the folder that will hold <paramref name="filePath"/>, as <see cref="CreateFolder"/> does.</summary>
    public static void CreateFolderOf(string filePath) => CreateFolder(Path.GetDirectoryName(Path.GetFullPath(filePath))!);

    /// <summary>
    /// Creates <paramref name="path"/> empty, 0600, if it does not exist. For a database file: SQLite takes an empty
    /// file as a new database, and gives its <c>-wal</c> and <c>-shm</c> the database file's own mode.
    /// </summary>
    public static void CreateEmptyFile(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
        {
            return;
        }

        try
        {
            using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = FileMode0600 });
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another connection created it meanwhile.
        }
    }
}

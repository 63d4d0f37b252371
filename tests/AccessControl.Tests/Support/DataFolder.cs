namespace AccessControl.Tests.Support;

/// <summary>
/// A service data folder that outlives one harness (a restart test starts a second service on it), deleted at the
/// end with SQLite's pooled connections released first.
/// </summary>
internal sealed class DataFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ac-data-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Path, recursive: true);
    }
}

namespace AccessControl.Tests.Support;

/// <summary>The checkout the tests run from, for tests that read what is not copied beside them (the sources, a file they regenerate).</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "AccessControl.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (AccessControl.sln) is not above " + AppContext.BaseDirectory);
    }
}

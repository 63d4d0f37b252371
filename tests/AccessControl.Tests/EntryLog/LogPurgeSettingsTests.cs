using AccessControl.EntryLog;
using AccessControl.Tests.Support;
using Microsoft.Data.Sqlite;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// <c>accesscontrol log purge</c>, run as an operator runs it (the program, from a folder of their own), applies the
/// minimum retention the service is configured with: from the settings file the service is started with
/// (<c>--config FILE</c>) and the <c>AccessControl__...</c> environment, never from whatever <c>appsettings.json</c> lies in
/// the working directory. The log's rows are from 2025; the minimum these tests configure, 36500 days, keeps them
/// whenever the tests run, and the 92 days of the stray file in the working directory would let them go.
/// </summary>
public sealed class LogPurgeSettingsTests : IDisposable
{
    private const string Kept = """{"MinimumRetention":"36500.00:00:00"}""";

    private readonly TestLog log = TestLog.Create();
    private readonly string elsewhere;

    public LogPurgeSettingsTests()
    {
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();
        elsewhere = Directory.CreateDirectory(Path.Combine(log.Directory, "home-of-the-operator")).FullName;
        File.WriteAllText(Path.Combine(elsewhere, "appsettings.json"),
            """{"AccessControl":{"LogIntegrity":{"MinimumRetention":"92.00:00:00","MinimumRetentionReason":"a stray file"}}}""");
    }

    public void Dispose() => log.Dispose();

    [Theory]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    [InlineData("file")]
    [InlineData("environment")]
    public async Task LogPurge_FromAnotherFolder_AppliesTheMinimumOfTheServicesSettings_NotOfAFileInTheWorkingDirectory(string setIn)
    {
        var settings = log.SettingsFile(setIn == "file" ? Kept : "{}");
        var environment = setIn == "file" ? null : new Dictionary<string, string> { ["AccessControl__LogIntegrity__MinimumRetention"] = "36500.00:00:00" };

        var (exit, output) = await PurgeAsync(["--config", settings], environment);

        Assert.Equal(1, exit);
        Assert.Contains("is within the minimum retention of the entry log, 36500 days", output, StringComparison.Ordinal);
        Assert.Contains("Nothing was purged", output, StringComparison.Ordinal);
        Assert.Equal(0, log.Verify().PurgedUpTo);
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    public async Task LogPurge_WithoutTheServicesSettingsFile_IsAUsageError_AndTheFileInTheWorkingDirectoryIsNotRead()
    {
        var (exit, output) = await PurgeAsync([]);

        Assert.Equal(2, exit);
        Assert.Contains("--config", output, StringComparison.Ordinal);
        Assert.Equal(0, log.Verify().PurgedUpTo);
    }

    [Fact]
    public async Task LogPurge_WithASettingsFileThatIsNotThere_SaysSo_AndExitsTwo()
    {
        var missing = Path.Combine(log.Directory, "etc", "nowhere.json");

        var (exit, output) = await PurgeAsync(["--config", missing]);

        Assert.Equal(2, exit);
        Assert.Contains($"--config {missing}: there is no such file", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.Equal(0, log.Verify().PurgedUpTo);
    }

    /// <summary>The program's <c>log purge</c> of the log's first minute, run in <see cref="elsewhere"/>.</summary>
    private Task<(int Exit, string Output)> PurgeAsync(string[] settings, IReadOnlyDictionary<string, string>? environment = null) =>
        ProgramRun.RunAsync("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "accesscontrol.dll"), "log", "purge", "--db", log.Database.Path, .. settings,
             "--before", "2025-03-03T09:01:00Z", "--actor", "ops"],
            TimeSpan.FromSeconds(60), environment, workingDirectory: elsewhere);
}

using System.Runtime.Versioning;
using AccessControl.Lab.Bench;
using AccessControl.Tests.EndToEnd;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// The data folder holds the entry log (card numbers, person ids), the outage journal and the keys: <c>accesscontrol
/// run</c> creates it for the service's account alone, and names one that other accounts can enter.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class DataFolderModeTests
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>755: others may enter and list.</summary>
    private const UnixFileMode OpenToOthers = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    [Fact]
    [Trait("control", "NIST-AC-6")]
    public async Task Run_OnANewDataFolder_CreatesItForTheServiceAccountAlone()
    {
        var parent = Directory.CreateTempSubdirectory("ac-mode-").FullName;
        var directory = Path.Combine(parent, "data");
        try
        {
            var output = await StartAndStopAsync(directory);

            Assert.Equal(OwnerOnly, File.GetUnixFileMode(directory));
            Assert.DoesNotContain("is open to other accounts", output, StringComparison.Ordinal);
            Assert.DoesNotContain("readable by other accounts", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AC-6")]
    public async Task Run_OnADataFolderOtherAccountsCanRead_StartsAndNamesIt_LeavingItsModeAlone()
    {
        var directory = Directory.CreateTempSubdirectory("ac-mode-").FullName;
        File.SetUnixFileMode(directory, OpenToOthers);
        try
        {
            var output = await StartAndStopAsync(directory);

            Assert.Contains($"The data folder {directory} is open to other accounts (mode 755)", output, StringComparison.Ordinal);
            Assert.Contains($"chmod 700 {directory}", output, StringComparison.Ordinal);
            Assert.Equal(OpenToOthers, File.GetUnixFileMode(directory));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "PCI-3.5")]
    public async Task Run_InADataFolderOtherAccountsCanEnter_CreatesTheLogItsIndexItsCheckpointsAndEveryPrivateFileForTheServiceAccountAlone()
    {
        var directory = Directory.CreateTempSubdirectory("ac-mode-").FullName;
        File.SetUnixFileMode(directory, OpenToOthers);
        try
        {
            // Long enough for the first index round, which creates the index file beside the log.
            await StartAndStopAsync(directory, untilFile: Path.Combine(directory, "accesscontrol.index.db"));

            var files = Directory.GetFiles(directory).Select(Path.GetFileName).ToList();
            Assert.Contains("accesscontrol.db", files);
            Assert.Contains("accesscontrol.db-wal", files);
            Assert.Contains("accesscontrol.index.db", files);
            Assert.True(Directory.Exists(Path.Combine(directory, "checkpoints")));
            const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;
            var open = Directory.GetFileSystemEntries(directory, "*", SearchOption.AllDirectories)
                .Where(f => !f.EndsWith(".pub.pem", StringComparison.Ordinal))
                .Where(f => (File.GetUnixFileMode(f) & Others) != 0)
                .Select(f => $"{Path.GetFileName(f)} {Convert.ToString((int)File.GetUnixFileMode(f), 8)}")
                .ToList();
            Assert.Empty(open);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "PCI-3.5")]
    public async Task Run_WithALogThatOthersCanRead_NamesItsFilesAndTheChmod_LeavingTheirModeAlone()
    {
        var directory = Path.Combine(Directory.CreateTempSubdirectory("ac-mode-").FullName, "data");
        try
        {
            await StartAndStopAsync(directory);
            var log = Path.Combine(directory, "accesscontrol.db");
            const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            File.SetUnixFileMode(log, Readable);

            var output = await StartAndStopAsync(directory);

            Assert.Contains($"Files in the data folder {directory} are readable by other accounts: accesscontrol.db.", output, StringComparison.Ordinal);
            Assert.Contains($"chmod 600 {log}", output, StringComparison.Ordinal);
            Assert.DoesNotContain("log-signing.pub.pem", output, StringComparison.Ordinal);
            Assert.Equal(Readable, File.GetUnixFileMode(log));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(directory)!, recursive: true);
        }
    }

    private static async Task<string> StartAndStopAsync(string directory, string? untilFile = null)
    {
        await using var service = await ChildProcess.StartAsync("accesscontrol.dll",
            ["run", "--site", EdgeHarness.DemoSiteFile, "--data", directory, "--broker-port", "0", "--http", "http://127.0.0.1:0"],
            "AccessControl edge running");
        if (untilFile is not null)
        {
            using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (!File.Exists(untilFile))
            {
                await Task.Delay(25, patience.Token);
            }
        }

        var output = service.RecentOutput;
        await service.StopAsync();
        return output;
    }
}

using AccessControl.Tests.Support;

namespace AccessControl.Tests.Deploy;

/// <summary>
/// <c>deploy/systemd/accesscontrol.service</c>: systemd accepts every line of it (a misspelt hardening key is only a
/// warning to systemd, which then runs the service without it), and it keeps the service unprivileged.
/// </summary>
public sealed class SystemdUnitTests
{
    private static readonly string Unit = Path.Combine(AppContext.BaseDirectory, "deploy", "systemd", "accesscontrol.service");

    [Fact]
    public async Task Unit_IsAcceptedBySystemd_WithoutAWarning()
    {
        // verify also wants the command to exist: the unit as installed, pointed at this build's service.
        var directory = Directory.CreateTempSubdirectory("ac-unit-").FullName;
        try
        {
            var copy = Path.Combine(directory, "accesscontrol.service");
            var service = Path.Combine(AppContext.BaseDirectory, "accesscontrol");
            await File.WriteAllTextAsync(copy, (await File.ReadAllTextAsync(Unit)).Replace("/opt/accesscontrol/accesscontrol", service, StringComparison.Ordinal));

            var (exit, output) = await ProgramRun.RunAsync("systemd-analyze", ["verify", copy], TimeSpan.FromSeconds(60));

            Assert.True(File.Exists(service), $"{service} is not built");
            Assert.Equal("", output);
            Assert.Equal(0, exit);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AC-6")]
    public void Unit_RunsTheServiceUnprivileged_OnASystemItCannotWrite()
    {
        var settings = File.ReadAllLines(Unit)
            .Where(line => line.Contains('=', StringComparison.Ordinal) && !line.TrimStart().StartsWith('#'))
            .Select(line => line.Split('=', 2))
            .GroupBy(pair => pair[0].Trim(), StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(pair => pair[1].Trim()).ToList(), StringComparer.Ordinal);

        Assert.Equal(["accesscontrol"], settings["User"]);
        Assert.Equal([""], settings["CapabilityBoundingSet"]);
        Assert.Equal([""], settings["AmbientCapabilities"]);
        Assert.Equal(["yes"], settings["NoNewPrivileges"]);
        Assert.Equal(["strict"], settings["ProtectSystem"]);
        Assert.Equal(["0700"], settings["StateDirectoryMode"]);
        Assert.Equal(["0077"], settings["UMask"]);
        Assert.Contains("--data /var/lib/accesscontrol", settings["ExecStart"].Single(), StringComparison.Ordinal);
        Assert.Equal(["SIGTERM"], settings["KillSignal"]);
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    public void Unit_NamesTheSettingsFileItsHeaderInstalls_AndTheShippedFileIsValid()
    {
        var unit = File.ReadAllText(Unit);
        var execStart = File.ReadAllLines(Unit).Single(line => line.StartsWith("ExecStart=", StringComparison.Ordinal));

        // Named, so that `log purge --config` can be given the very file the service runs with (docs/operations.md, section 6).
        Assert.Contains(" run --config /etc/accesscontrol/appsettings.json ", execStart, StringComparison.Ordinal);
        Assert.Contains("install -m 0640 -g accesscontrol deploy/appsettings.json /etc/accesscontrol/appsettings.json", unit, StringComparison.Ordinal);
        var shipped = AccessControl.Hosting.ServiceSettings.Load(Path.Combine(AppContext.BaseDirectory, "deploy", "appsettings.json"));
        Assert.Empty(shipped.Validate());
        Assert.Equal(TimeSpan.FromDays(365), shipped.LogIntegrity.MinimumRetention);
    }
}

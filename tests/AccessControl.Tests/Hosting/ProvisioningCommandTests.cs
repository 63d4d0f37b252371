using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// <c>device secret</c> and <c>mosquitto-config</c> hand out what the provisioning key derives. Pointed at a folder
/// without the key (a mistyped <c>--data</c>, none at all, an account that cannot read the service's folder) they must
/// say so and write nothing: a key made there would give passwords that neither broker of the site accepts.
/// </summary>
public sealed class ProvisioningCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    [Trait("control", "NIST-SC-12")]
    public async Task DeviceSecret_WithoutAProvisioningKeyInData_RefusesAndMakesNoKey()
    {
        using var folder = new DataFolder();
        var data = Path.Combine(folder.Path, "wrong-folder");

        var (exit, output) = await RunAsync(["device", "secret", "rdr-dh1-in", "--data", data]);

        Assert.Equal(2, exit);
        Assert.Contains($"There is no provisioning key at {Path.Combine(data, "provisioning.key")}", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "no folder and no key may be made");
    }

    [Fact]
    [Trait("control", "NIST-SC-12")]
    public async Task DeviceSecret_ForAnIdTheSiteDoesNotHave_RefusesWithTwo_NamingTheClosestIds_AndPrintsNoSecret()
    {
        using var folder = new DataFolder();
        await WriteKeyAsync(folder.Path);

        var (typo, typoOutput) = await RunAsync(["device", "secret", "rdr-dh1-inn", "--data", folder.Path, "--site", EdgeHarness.DemoSiteFile]);
        var (known, knownOutput) = await RunAsync(["device", "secret", "rdr-dh1-in", "--data", folder.Path, "--site", EdgeHarness.DemoSiteFile]);

        Assert.Equal(2, typo);
        Assert.Contains("the site has no device 'rdr-dh1-inn'; the closest ids it has: rdr-dh1-in, ", typoOutput, StringComparison.Ordinal);
        Assert.Contains("No secret was printed", typoOutput, StringComparison.Ordinal);
        Assert.Equal(0, known);
        Assert.Matches("^[A-Za-z0-9_-]{32}$", knownOutput.Trim());
    }

    /// <summary>
    /// A device's secret is its MQTT password: handing it out is recorded like a token's creation, with the OS account
    /// that ran the command, never the secret; a log that cannot be written gets no secret printed.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-2")]
    [Trait("control", "NIST-AU-10")]
    public async Task DeviceSecret_WithTheServicesDatabase_IsRecordedAsAnAdminRow_WithTheOsAccount_NeverTheSecret()
    {
        using var folder = new DataFolder();
        await WriteKeyAsync(folder.Path);
        var database = new global::AccessControl.Storage.Database(Path.Combine(folder.Path, "accesscontrol.db"));
        database.Migrate();

        var (exit, output) = await RunAsync(["device", "secret", "rdr-dh1-in", "--data", folder.Path, "--site", EdgeHarness.DemoSiteFile]);

        Assert.Equal(0, exit);
        var secret = output.Trim();
        Assert.Matches("^[A-Za-z0-9_-]{32}$", secret);
        var row = Assert.Single(new global::AccessControl.EntryLog.EntryLogQuery(database).Find(new global::AccessControl.EntryLog.LogFilter { Kind = "admin" }));
        Assert.Equal(global::AccessControl.Hosting.ProvisioningActions.SecretIssued, row.Reason);
        Assert.Equal("cli:" + global::AccessControl.EntryLog.OsAccount.Current().User, row.Actor);
        Assert.Contains("\"device\":\"rdr-dh1-in\"", row.Detail, StringComparison.Ordinal);
        Assert.Contains("\"osUid\":", row.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, row.Detail, StringComparison.Ordinal);
    }

    // The monitor (an alarm console) logs in as ac-monitor with the secret the key derives for it (reader-protocol.md §1,
    // Rights): without TLS the secret is its only way in, so the command that hands out secrets must give it too.
    [Fact]
    [Trait("control", "NIST-SC-12")]
    public async Task DeviceSecret_ForTheMonitor_PrintsThePasswordTheBrokerAcceptsFromIt()
    {
        using var folder = new DataFolder();
        var key = global::AccessControl.Devices.DeviceSecrets.NewKey();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "provisioning.key"), Convert.ToBase64String(key));

        var (exit, output) = await RunAsync(["device", "secret", "ac-monitor", "--data", folder.Path, "--site", EdgeHarness.DemoSiteFile]);

        Assert.Equal(0, exit);
        Assert.True(new global::AccessControl.Devices.DeviceSecrets(key).Verify("ac-monitor", output.Trim()), output);
    }

    [Fact]
    [Trait("control", "NIST-SC-12")]
    public async Task DeviceSecret_ForTheServiceItself_RefusesAndPrintsNoSecret()
    {
        using var folder = new DataFolder();
        await WriteKeyAsync(folder.Path);

        var (exit, output) = await RunAsync(["device", "secret", "ac-service", "--data", folder.Path, "--site", EdgeHarness.DemoSiteFile]);

        Assert.Equal(2, exit);
        Assert.Contains("No secret was printed", output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-SC-12")]
    public async Task DeviceSecret_WithoutSiteFileOrDatabase_RefusesWithTwo_SinceTheIdCannotBeChecked()
    {
        using var folder = new DataFolder();
        await WriteKeyAsync(folder.Path);

        var (exit, output) = await RunAsync(["device", "secret", "rdr-dh1-in", "--data", folder.Path]);

        Assert.Equal(2, exit);
        Assert.Contains("to check the device id against: name the site file with --site FILE", output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-SC-12")]
    public async Task MosquittoConfig_WithoutAProvisioningKeyInData_RefusesAndWritesNoFiles()
    {
        using var folder = new DataFolder();
        var data = Path.Combine(folder.Path, "wrong-folder");
        var output = Path.Combine(folder.Path, "mosquitto");

        var (exit, printed) = await RunAsync(["mosquitto-config", "--site", EdgeHarness.DemoSiteFile, "--out", output, "--data", data]);

        Assert.Equal(2, exit);
        Assert.Contains("There is no provisioning key at", printed, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "no key may be made");
        Assert.False(Directory.Exists(output), "no password file from a key made up on the spot");
    }

    [Fact]
    public async Task MosquittoConfig_WithAPortThatIsNoNumber_NamesTheFlag_AndExitsWithTwo()
    {
        using var folder = new DataFolder();
        await WriteKeyAsync(folder.Path);

        var (exit, output) = await RunAsync(
            ["mosquitto-config", "--site", EdgeHarness.DemoSiteFile, "--out", Path.Combine(folder.Path, "mosquitto"), "--data", folder.Path, "--port", "abc"]);

        Assert.Equal(2, exit);
        Assert.Contains("--port N takes a port number (0-65535), not 'abc'", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    private static Task WriteKeyAsync(string data) =>
        File.WriteAllTextAsync(Path.Combine(data, "provisioning.key"), Convert.ToBase64String(global::AccessControl.Devices.DeviceSecrets.NewKey()));

    private static Task<(int Exit, string Output)> RunAsync(string[] arguments) =>
        ProgramRun.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "accesscontrol.dll"), .. arguments], Timeout,
            new Dictionary<string, string> { ["AC_PROVISIONING_KEY"] = "" });
}

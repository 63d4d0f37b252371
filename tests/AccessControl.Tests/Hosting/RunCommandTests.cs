using System.Net;
using System.Net.Sockets;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// <c>accesscontrol run</c> where it cannot start: a port it needs is taken (a Mosquitto daemon its package started on
/// 1883, a second service), the data folder cannot be used, the database is not one, a key file holds no key, a setting
/// cannot be used. Each time a sentence that says what
/// and what to do, exit code 2, not an unhandled exception; and nothing written.
/// </summary>
public sealed class RunCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Run_WhenTheBrokerPortIsTaken_SaysWhichAndWhatToDo_AndExitsWithTwo()
    {
        using var taken = Occupy();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (exit, output) = await RunServiceAsync("--broker-port", $"{port}", "--http", "http://127.0.0.1:0");

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start the embedded MQTT broker: port {port} is already in use", output, StringComparison.Ordinal);
        Assert.Contains("--external-broker", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WhenAnotherServicesBrokerHoldsThePort_SaysWhichAndExitsWithTwo_RatherThanSharingIt()
    {
        // A second service on the same host (one started by hand beside the unit, say) must not bind the port beside
        // the first: the kernel would then hand each reader's connection to either of them, two databases deciding.
        await using var first = await EmbeddedBrokerFixture.StartAsync(TestSite.Topology, TestSite.Secrets);

        var (exit, output) = await RunServiceAsync("--broker-port", $"{first.Port}", "--http", "http://127.0.0.1:0");

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start the embedded MQTT broker: port {first.Port} is already in use", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Found before anything is opened: no database made, no site file imported, and no framework stack trace in the
    /// journal (Kestrel binds only at the end of a start, and its failure there came after the site's import).
    /// </summary>
    [Fact]
    public async Task Run_WhenTheHttpPortIsTaken_SaysWhichAndWhatToDo_AndExitsWithTwo_BeforeWritingAnything()
    {
        using var taken = Occupy();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";
        using var folder = new DataFolder();

        var (exit, output) = await RunServiceOnAsync(folder.Path, ["--broker-port", "0", "--http", url]);

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start the admin API: {url} is already in use", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed to start", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task Run_WhenTheDataPathIsAFile_SaysSo_AndExitsWithTwo()
    {
        var file = Path.GetTempFileName();
        try
        {
            var (exit, output) = await RunServiceOnAsync(file);

            Assert.Equal(2, exit);
            Assert.Contains($"--data {file} is a file", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Run_WhenTheDataFolderCannotBeCreated_SaysWhichFolder_AndExitsWithTwo()
    {
        // Not even root can create a folder in /proc (a permission test would pass as root, which CI runs as).
        var (exit, output) = await RunServiceOnAsync("/proc/accesscontrol-test-data");

        Assert.Equal(2, exit);
        Assert.Contains("The data folder /proc/accesscontrol-test-data must be one the service's account can create and write", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task Run_OnADatabaseThatIsNotOne_RefusesToStart_AndLeavesTheFileAsItWas()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var database = Path.Combine(directory, "accesscontrol.db");
        var garbage = new byte[8192];
        new Random(42).NextBytes(garbage);
        await File.WriteAllBytesAsync(database, garbage);

        var (exit, output) = await RunServiceOnAsync(directory);

        Assert.Equal(2, exit);
        Assert.Contains($"{database} is not a usable SQLite database", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.Equal(garbage, await File.ReadAllBytesAsync(database));
    }

    [Theory]
    [InlineData("provisioning.key")]
    [InlineData("pii.key")]
    [InlineData("hr-feed.key")]
    [InlineData("fingerprint.keys")]
    [InlineData("log-signing.key")]
    public async Task Run_WithAKeyFileThatHoldsNoKey_NamesTheFile_AndExitsWithTwo(string keyFile)
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var path = Path.Combine(directory, keyFile);
        await File.WriteAllTextAsync(path, "not a key!\n");

        var (exit, output) = await RunServiceOnAsync(directory);

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start: {path} ", output, StringComparison.Ordinal);
        Assert.Contains("Restore it from the backup", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.Equal("not a key!\n", await File.ReadAllTextAsync(path)); // not replaced by a new key
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task Run_OnALogWithSignedCheckpoints_WhenTheSigningKeyIsMissing_RefusesToStart_AndMakesNoNewKey()
    {
        // A restore that copied the database but forgot log-signing.key: a new key made in its place would sign every
        // checkpoint from then on, and the log would never verify again with either public key.
        using var log = EntryLog.TestLog.Create();
        var key = Path.Combine(log.Directory, AccessControl.EntryLog.LogSigningKey.PrivateKeyFileName);
        File.Delete(key);

        var (exit, output) = await RunServiceOnAsync(log.Directory);

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start: {key} is missing", output, StringComparison.Ordinal);
        Assert.Contains("Restore it from the backup", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.False(File.Exists(key)); // no new key in its place
    }

    /// <summary>
    /// A restore that copied the database but forgot one of the other key files: a key made new in its place would fail
    /// silently, some of it open (a document already on site no longer found at the desk, the HR system's terminations
    /// refused). What each key made is in the database; with it, the start is refused and no key is made.
    /// </summary>
    [Theory]
    [InlineData("pii.key", "INSERT INTO visits (site_id, host_person, requested_by, requested_by_person, requested_at, purpose, window_date, window_start, window_end, starts_at, ends_at, zones, escorts, status) VALUES ('dc1', 'p-1', 'op', 'p-1', 0, 't', '2026-12-01', '09:00', '10:00', 0, 1, '[]', '[]', 'approved'); INSERT INTO visit_visitors (visit_id, number, name, organization, status, doc_number_hmac) VALUES (1, 1, 'A Visitor', 'Org', 'on_site', 'ab12')", "visitors' identity document numbers were hashed with the key it held (1 checked in)")]
    [InlineData("hr-feed.key", "INSERT INTO hr_events (event_id, type, person_id, effective_at, content_sha256, received_at, status) VALUES ('hr-1', 'termination', 'p-1', 0, 'x', 0, 'applied')", "the HR system signs its events with the key it held (1 received)")]
    [InlineData("fingerprint.keys", "INSERT INTO fingerprint_templates (template_id, person_id, finger, format, key_id, nonce, ciphertext, enrolled_at, enrolled_by, station) VALUES ('fpt-1', 'p-1', 'right-index', 'ac-sim-v1', 'k1', x'00', x'00', 0, 'op', 's1')", "fingerprint templates are sealed with the keys it held (1 enrolled)")]
    [InlineData("provisioning.key", "", "the devices' passwords were derived from the key it held (devices have sent events)")]
    [Trait("control", "NIST-CP-10")]
    [Trait("control", "NIST-SC-12")]
    public async Task Run_WhenAKeyFileIsMissingBesideWhatItsKeyMade_RefusesToStart_AndMakesNoNewKey(string keyFile, string madeWithIt, string why)
    {
        using var log = EntryLog.TestLog.Create(); // its log has device rows (a reader's swipes, a controller's door events)
        if (madeWithIt.Length > 0)
        {
            using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={log.Database.Path};Pooling=False");
            connection.Open();
            EntryLog.TestLog.Execute(connection, madeWithIt);
        }

        var key = Path.Combine(log.Directory, keyFile);
        Assert.False(File.Exists(key));

        var (exit, output) = await RunServiceOnAsync(log.Directory);

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start: {key} is missing, but {why}. Restore it from the backup", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.False(File.Exists(key));
    }

    [Theory]
    [InlineData("provisioning.key", "{0}")]
    [InlineData("pii.key", "{0}")]
    [InlineData("hr-feed.key", "{0}")]
    [InlineData("fingerprint.keys", "k1 {0}")]
    [Trait("control", "NIST-SC-12")]
    public async Task Run_WithAKeyFileThatHoldsAShortKey_RefusesIt_SayingHowLongAKeyMustBe(string keyFile, string format)
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var path = Path.Combine(directory, keyFile);
        var text = string.Format(System.Globalization.CultureInfo.InvariantCulture, format, Convert.ToBase64String(new byte[16] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 })) + "\n";
        await File.WriteAllTextAsync(path, text);

        var (exit, output) = await RunServiceOnAsync(directory);

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start: {path}", output, StringComparison.Ordinal);
        Assert.Contains("32 bytes", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(new byte[16] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }), output, StringComparison.Ordinal);
        Assert.Equal(text, await File.ReadAllTextAsync(path)); // not replaced by a new key
    }

    [Theory]
    [InlineData("--broker-port abc", "--broker-port N takes a port number (0-65535), not 'abc'")]
    [InlineData("--broker-port 70000", "--broker-port N takes a port number (0-65535), not '70000'")]
    [InlineData("--external-broker nocolon", "--external-broker takes HOST:PORT, not 'nocolon'")]
    [InlineData("--external-broker host:port", "--external-broker HOST:PORT takes a port number (0-65535), not 'port'")]
    [InlineData("--http notaurl", "AccessControl:HttpUrl 'notaurl' is not an absolute URL")]
    public async Task Run_WithASettingItCannotUse_NamesIt_ExitsWithTwo_AndWritesNothing(string flags, string expected)
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var (exit, output) = await RunServiceOnAsync(directory, flags.Split(' '));

        Assert.Equal(2, exit);
        Assert.Contains($"Invalid settings: {expected}", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(directory));
    }

    /// <summary>
    /// The admin API speaks plain HTTP: on an address other than loopback, every operator's bearer token, and at check-in
    /// the visitor's whole document number, would cross the network in clear. It is refused before anything is opened.
    /// </summary>
    [Theory]
    [Trait("control", "NIST-SC-8")]
    [Trait("control", "NIST-IA-5")]
    [InlineData("http://0.0.0.0:18093")]
    [InlineData("http://192.0.2.10:18093")]
    [InlineData("http://[::]:18093")]
    [InlineData("http://edge01.example:18093")]
    public async Task Run_WithTheAdminApiInPlainHttpOffLoopback_RefusesToStart_BeforeWritingAnything(string url)
    {
        using var folder = new DataFolder();
        var (exit, output) = await RunServiceOnAsync(folder.Path, ["--broker-port", "0", "--http", url]);

        Assert.Equal(2, exit);
        Assert.Contains($"Invalid settings: AccessControl:HttpUrl '{url}' is plain HTTP on an address other than loopback", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task Run_WithTheAdminApiOnAnAddressOfAnotherMachine_SaysSo_AndExitsWithTwo_BeforeWritingAnything()
    {
        using var folder = new DataFolder();
        var (exit, output) = await RunServiceOnAsync(folder.Path, ["--broker-port", "0", "--http", "https://192.0.2.10:18094"]);

        Assert.Equal(2, exit);
        Assert.Contains("Invalid settings: AccessControl:HttpUrl 'https://192.0.2.10:18094' names 192.0.2.10, which is not an address of this machine", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal); // no stack trace
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public async Task Run_WithAnEnvironmentSettingOfTheWrongType_NamesIt_AndExitsWithTwo()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var (exit, output) = await RunServiceOnAsync(directory, [], new Dictionary<string, string> { ["AccessControl__Broker__Port"] = "abc" });

        Assert.Equal(2, exit);
        Assert.Contains("Invalid settings: Failed to convert configuration value 'abc' at 'AccessControl:Broker:Port'", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "NIST-SI-10")]
    [InlineData("100000000.00:00:00")]   // past what a TimeSpan holds: the binder could only say it failed to convert it
    [InlineData("10000000.00:00:00")]    // a TimeSpan, but now minus it is before the first time there is
    public async Task Run_WithAnAbsurdMinimumRetention_RefusesToStart_NamingTheSettingAndItsRange(string minimum)
    {
        using var folder = new DataFolder();
        var (exit, output) = await RunServiceOnAsync(folder.Path, environment: new Dictionary<string, string> { ["AccessControl__LogIntegrity__MinimumRetention"] = minimum });

        Assert.Equal(2, exit);
        Assert.Contains("Invalid settings: AccessControl:LogIntegrity:MinimumRetention: ", output, StringComparison.Ordinal);
        Assert.Contains("allowed: 92 to 36525 days", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Theory]
    [InlineData("""{"AccessControl":{"SupervisionInterval":"00:00:00"}}""", "Invalid settings: AccessControl:SupervisionInterval must be positive")]
    [InlineData("""{"AccessControl":{"Visitors":{"Retention":"10.00:00:00"}}}""", "Invalid settings: AccessControl:Visitors:Retention must be at least 92 days")]
    [InlineData("""{"AccessControl": """, "is not valid JSON: line 1")]
    [InlineData(null, "there is no such file")]
    public async Task Run_WithASettingsFile_ReadsThatFileWhateverTheWorkingDirectory_AndNamesOneItCannotUse(string? content, string expected)
    {
        using var data = new DataFolder();
        using var etc = new DataFolder();
        using var elsewhere = new DataFolder();
        var settings = Path.Combine(etc.Path, "appsettings.json");
        if (content is not null)
        {
            await File.WriteAllTextAsync(settings, content);
        }

        var (exit, output) = await RunServiceOnAsync(data.Path, ["--config", settings, "--broker-port", "0", "--http", "http://127.0.0.1:0"], workingDirectory: elsewhere.Path);

        Assert.Equal(2, exit);
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(data.Path));
    }

    private static TcpListener Occupy()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static async Task<(int Exit, string Output)> RunServiceAsync(params string[] arguments)
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        return await RunServiceOnAsync(directory, arguments);
    }

    /// <summary>The service on <paramref name="data"/>; without arguments on free ports (with an environment, on its defaults).</summary>
    private static Task<(int Exit, string Output)> RunServiceOnAsync(string data, string[]? arguments = null, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null) =>
        ProgramRun.RunAsync("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "accesscontrol.dll"), "run", "--site", EdgeHarness.DemoSiteFile, "--data", data,
             .. arguments ?? ["--broker-port", "0", "--http", "http://127.0.0.1:0"]], Timeout, environment, workingDirectory);
}

using System.Text;
using AccessControl.HardwareSim.Cli;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Load;
using AccessControl.Protocol;
using AccessControl.Tests.HardwareSim.Support;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class CliTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Scenario_AgainstABrokerAndService_ExitsWithTheScenarioResult()
    {
        var key = AccessControl.Devices.DeviceSecrets.NewKey();
        await using var broker = await TestBroker.StartAsync(new AccessControl.Devices.DeviceSecrets(key));
        await using var service = await TestService.ConnectAsync(broker);
        service.Answer = e => new DecisionMessage(e.EventId, e.Card == "04A1B2C3D4E5F6", e.Card == "04A1B2C3D4E5F6" ? "granted" : "unknown_credential", "door-1", 5);
        using var files = new TempFiles();
        var keyFile = files.Write("site.key", Convert.ToHexString(key));
        var scenarioFile = files.Write("s.yaml", """
            steps:
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, expect: grant }
              - { at: 0s, reader: rdr-2, card: 0499AABBCCDDEE, expect: grant }
            """);
        var time = new ManualTimeProvider(SimHarness.Start);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var cli = new SimulatorCli(time, time, stdout, stderr, SiteLoading.Load);

        var exit = await cli.RunAsync(["scenario", "--scenario", scenarioFile, "--key-file", keyFile, "--broker", broker.Endpoint.ToString()], CancellationToken.None).Guarded();

        output.WriteLine(stdout.ToString());
        output.WriteLine(stderr.ToString());
        Assert.Equal(SimulatorCli.ExpectationFailed, exit);
        Assert.Contains("deny unknown_credential (expected grant)  FAIL", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("2 steps, 1 passed, 1 failed", stdout.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", "500", true)]
    [InlineData("6", "500", false)]
    [InlineData("1", "500", false, "1")]
    public async Task Load_FasterPerReaderThanTheServicePacesADevice_SaysSoBeforeItStarts(string readers, string rate, bool noted, string seconds = "10")
    {
        // Stops at the missing cards file, after the note and before any connection.
        using var files = new TempFiles();
        var keyFile = files.Write("site.key", Convert.ToHexString(new byte[32]));
        var time = new ManualTimeProvider(SimHarness.Start);
        var stderr = new StringWriter();

        await new SimulatorCli(time, time, new StringWriter(), stderr, SiteLoading.Load)
            .RunAsync(["load", "--readers", readers, "--rate", rate, "--seconds", seconds, "--key-file", keyFile, "--cards", "/nonexistent/cards.txt"], CancellationToken.None);

        Assert.Equal(noted, stderr.ToString().Contains("over the service's default pace", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(new[] { "scenario", "--key-file", "k", "--scenario", "s", "--bogus", "1" }, "scenario does not take --bogus")]
    [InlineData(new[] { "load", "--readers", "2", "--rate", "10", "--seconds", "1" }, "--key-file FILE is required")]
    [InlineData(new[] { "dance" }, "unknown command 'dance'")]
    [InlineData(new[] { "scenario", "--scenario" }, "--scenario needs a value")]
    public async Task BadCommandLine_ExitsWithUsageError(string[] args, string message)
    {
        var time = new ManualTimeProvider(SimHarness.Start);
        var stderr = new StringWriter();

        var exit = await new SimulatorCli(time, time, new StringWriter(), stderr, SiteLoading.Load).RunAsync(args, CancellationToken.None);

        Assert.Equal(SimulatorCli.UsageError, exit);
        Assert.Contains(message, stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void KeyFile_AcceptsHexBase64AndRawBytes_AsTheSameKey()
    {
        var key = Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray();

        Assert.Equal(key, KeyFile.Decode(Encoding.ASCII.GetBytes(Convert.ToHexString(key).ToLowerInvariant() + "\n")).Key);
        Assert.Equal(key, KeyFile.Decode(Encoding.ASCII.GetBytes(Convert.ToBase64String(key))).Key);
        Assert.Equal(key, KeyFile.Decode(Encoding.ASCII.GetBytes(Convert.ToBase64String(key).TrimEnd('=').Replace('+', '-').Replace('/', '_'))).Key);
        Assert.Equal(key, KeyFile.Decode(key).Key);
        Assert.NotNull(KeyFile.Decode(Encoding.ASCII.GetBytes("c2hvcnQ=")).Error);
    }

    [Theory]
    [InlineData("127.0.0.1:1883", "127.0.0.1", 1883)]
    [InlineData("broker.local", "broker.local", 1883)]
    [InlineData("[::1]:8883", "::1", 8883)]
    public void BrokerEndpoint_Parses(string text, string host, int port) =>
        Assert.Equal(new BrokerEndpoint(host, port), BrokerEndpoint.TryParse(text));

    [Theory]
    [InlineData("host:")]
    [InlineData("host:0")]
    [InlineData("host:70000")]
    [InlineData(":1883")]
    public void BrokerEndpoint_RefusesNonsense(string text) => Assert.Null(BrokerEndpoint.TryParse(text));

    [Fact]
    public void LatencySummary_UsesNearestRankPercentiles()
    {
        var summary = LatencySummary.From(Enumerable.Range(1, 100).Select(i => TimeSpan.FromMilliseconds(i)).Reverse());

        Assert.Equal(
            new LatencySummary(100, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(90), TimeSpan.FromMilliseconds(99), TimeSpan.FromMilliseconds(100)),
            summary);
    }

    private sealed class TempFiles : IDisposable
    {
        private readonly string directory = Directory.CreateTempSubdirectory("hardware-sim-tests-").FullName;

        public string Write(string name, string content)
        {
            var path = Path.Combine(directory, name);
            File.WriteAllText(path, content);
            return path;
        }

        public void Dispose() => Directory.Delete(directory, recursive: true);
    }
}

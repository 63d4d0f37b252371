using AccessControl.HardwareSim.Cli;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.Tests.HardwareSim.Support;

namespace AccessControl.Tests.HardwareSim;

public class FingerprintCliTests
{
    [Fact]
    public async Task FingerprintTemplate_PrintsTheDeterministicEnrollmentTemplateAsBase64()
    {
        var (exit, stdout, _) = await RunAsync("fingerprint-template", "--person", "p-mkoch", "--finger", "right-index");

        Assert.Equal(SimulatorCli.Ok, exit);
        Assert.Equal(Convert.ToBase64String(SyntheticFingers.EnrollmentTemplateData("p-mkoch", "right-index")), stdout.Trim());
    }

    [Fact]
    public async Task FingerprintTemplate_Json_PrintsATemplateObjectOfAVerifyCommand()
    {
        var (exit, stdout, _) = await RunAsync("fingerprint-template", "--person", "p-mkoch", "--finger", "left-index", "--template-id", "tpl-7", "--json");

        Assert.Equal(SimulatorCli.Ok, exit);
        var data = Convert.ToBase64String(SyntheticFingers.EnrollmentTemplateData("p-mkoch", "left-index"));
        Assert.Equal($$"""{"templateId":"tpl-7","finger":"left-index","format":"ac-sim-v1","data":"{{data}}"}""", stdout.Trim());
    }

    [Theory]
    [InlineData(new[] { "fingerprint-template", "--person", "p-1", "--finger", "right-toe" }, "--person ID and --finger FINGER are required")]
    [InlineData(new[] { "fingerprint-template", "--finger", "right-index" }, "--person ID and --finger FINGER are required")]
    [InlineData(new[] { "fingerprint-rates", "--trials", "0" }, "--trials N is required")]
    [InlineData(new[] { "fingerprint-rates", "--bogus", "1" }, "fingerprint-rates does not take --bogus")]
    public async Task Fingerprint_BadArguments_AreUsageErrors(string[] args, string expected)
    {
        var (exit, _, stderr) = await RunAsync(args);

        Assert.Equal(SimulatorCli.UsageError, exit);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FingerprintRates_PrintsTheRatesTableWithTheDefaultThresholdMarked()
    {
        var (exit, stdout, _) = await RunAsync("fingerprint-rates", "--trials", "2000", "--seed", "3");

        Assert.Equal(SimulatorCli.Ok, exit);
        Assert.Contains("2000 genuine trials, 2000 impostor trials", stdout, StringComparison.Ordinal);
        Assert.Contains("<- default threshold", stdout, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var time = new ManualTimeProvider(SimHarness.Start);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await new SimulatorCli(time, time, stdout, stderr, SiteLoading.Load).RunAsync(args, CancellationToken.None);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}

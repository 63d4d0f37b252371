using AccessControl.Hosting;
using AccessControl.Lab.Bench;
using AccessControl.Tests.EndToEnd;

namespace AccessControl.Tests.Hosting;

public sealed class GcReportTests
{
    [Fact]
    public void Describe_SaysTheCollectorsKindAndItsLargestGen0Budget()
    {
        var workstation = new Dictionary<string, object> { ["GCGen0MaxBudget"] = 6_291_456L, ["ServerGC"] = false, ["ConcurrentGC"] = true };
        var server = new Dictionary<string, object> { ["GCGen0MaxBudget"] = 209_715_200L, ["ServerGC"] = true, ["ConcurrentGC"] = false };

        Assert.Equal("garbage collector: workstation, concurrent, gen0 budget up to 6 MiB", GcReport.Describe(workstation));
        Assert.Equal("garbage collector: server, gen0 budget up to 200 MiB", GcReport.Describe(server));
        Assert.Equal("garbage collector: workstation, gen0 budget up to 0 MiB", GcReport.Describe(new Dictionary<string, object>()));
    }

    /// <summary>
    /// The service as built and started by <c>accesscontrol run</c> (and by the bench, which measures it): the server
    /// collector that docs/benchmarks.md's figures from the thirteenth session on were taken with, not the workstation
    /// collector a console program gets by default.
    /// </summary>
    [Fact]
    public async Task Run_StartsWithTheServerCollector_ItIsBuiltFor_AndSaysSo()
    {
        var directory = Directory.CreateTempSubdirectory("ac-gc-").FullName;
        try
        {
            await using var service = await ChildProcess.StartAsync("accesscontrol.dll",
                ["run", "--site", EdgeHarness.DemoSiteFile, "--data", directory, "--broker-port", "0", "--http", "http://127.0.0.1:0"],
                "AccessControl edge running");
            var output = service.RecentOutput;
            await service.StopAsync();

            Assert.Contains("garbage collector: server, concurrent, gen0 budget up to", output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

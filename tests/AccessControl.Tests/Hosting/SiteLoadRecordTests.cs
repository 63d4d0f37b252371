using System.Net;
using System.Net.Sockets;
using AccessControl.EntryLog;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// A site file is stored when the service is created and recorded as a <c>site.load</c> admin row once its pipeline
/// runs; whatever happens between the two, the layout never goes live without its row, and never gets two.
/// </summary>
public sealed class SiteLoadRecordTests : IDisposable
{
    private readonly DataFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    [Trait("control", "NIST-CM-3")]
    public async Task NewSiteFile_IsRecordedAsSiteLoad_EvenIfTheFirstStartFailed()
    {
        await FailFirstStartAsync(folder.Path);

        await using var edge = await EdgeHarness.StartAsync(directory: folder.Path);

        var load = Assert.Single(SiteLoads(edge));
        Assert.Equal("demo", load.SiteId);
        Assert.StartsWith("site-file:demo.yaml", load.Actor, StringComparison.Ordinal);
        Assert.Contains(Sha256Of(EdgeHarness.DemoSiteFile), load.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-CM-3")]
    public async Task SameSiteFile_LoadedAgain_IsRecordedOnce()
    {
        await (await EdgeHarness.StartAsync(directory: folder.Path)).DisposeAsync();

        await using var edge = await EdgeHarness.StartAsync(directory: folder.Path);

        Assert.Single(SiteLoads(edge));
    }

    /// <summary>A first start with the demo site file that fails before its pipeline runs: the broker's port is taken.</summary>
    internal static async Task FailFirstStartAsync(string directory)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await Assert.ThrowsAnyAsync<Exception>(() => EdgeHarness.StartAsync(directory: directory,
            configure: s => s with { Broker = s.Broker with { Port = port } }));
    }

    private static IReadOnlyList<LogEntry> SiteLoads(EdgeHarness edge) =>
        edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "site.load" });

    private static string Sha256Of(string file) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));
}

using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Deploy;

/// <summary>
/// <c>deploy/pki/issue-certs.sh</c> gives a client certificate to every device the site file lets log in: with mutual
/// TLS a device without one cannot connect at all, and for a fire panel that means no alarm and no door released.
/// </summary>
public sealed class PkiScriptTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static string Script => Path.Combine(AppContext.BaseDirectory, "deploy", "pki", "issue-certs.sh");

    [Fact]
    [Trait("control", "NFPA-101")]
    public async Task Issue_ForTheDemoSite_GivesItsFirePanelACertificate()
    {
        using var pki = new DataFolder();

        var (exit, output) = await ProgramRun.RunAsync("bash", [Script, "--out", pki.Path, "issue", EdgeHarness.DemoSiteFile, "broker.test"], Timeout);

        Assert.Equal(0, exit);
        Assert.True(File.Exists(Path.Combine(pki.Path, "devices", "fire-panel-a.crt")), output);
        Assert.True(File.Exists(Path.Combine(pki.Path, "devices", "rdr-dh1-in.crt")), output);
    }

    [Fact]
    public async Task Issue_ForFirePanelsWrittenAsABlockList_GivesEachACertificate()
    {
        using var pki = new DataFolder();
        var site = Path.Combine(pki.Path, "site.yaml");
        await File.WriteAllTextAsync(site, "version: 1\nfirePanels:\n  - fire-panel-a\n  - \"fire-panel-b\"   # the east wing\nreaders:\n  - { id: rdr-1, type: card, door: d, direction: in }\n");

        var (exit, output) = await ProgramRun.RunAsync("bash", [Script, "--out", Path.Combine(pki.Path, "pki"), "issue", site, "broker.test"], Timeout);

        Assert.Equal(0, exit);
        Assert.All(new[] { "fire-panel-a", "fire-panel-b", "rdr-1" },
            id => Assert.True(File.Exists(Path.Combine(pki.Path, "pki", "devices", $"{id}.crt")), $"{id}: {output}"));
    }
}

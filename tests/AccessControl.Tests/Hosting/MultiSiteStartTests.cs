using AccessControl.Cardholding;
using AccessControl.Decisions;
using AccessControl.Devices;
using AccessControl.Hosting;
using AccessControl.People;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.SiteFiles;
using AccessControl.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using NodaTime.Testing;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// A service that holds several sites: a second site file whose zone, door or device ids another stored site holds is
/// refused before anything is stored, and stored sites that already share ids (an earlier version stored them) stop
/// the start with the ids, the sites and the way out, which works.
/// </summary>
public sealed class MultiSiteStartTests : IDisposable
{
    private readonly DataFolder folder = new();
    private readonly FakeClock clock = new(EdgeHarness.BusinessHours);

    public MultiSiteStartTests() =>
        File.WriteAllText(Path.Combine(folder.Path, "provisioning.key"), Convert.ToBase64String(DeviceSecrets.NewKey()));

    public void Dispose() => folder.Dispose();

    [Fact]
    [Trait("control", "NIST-CM-3")]
    public async Task SecondSiteFile_ReusingAZoneIdOfAStoredSite_IsRefusedWithAClearError_AndStoresNothing()
    {
        await StartAndStopAsync(EdgeHarness.DemoSiteFile);
        var siteB = WriteSiteB(SecondSite.Yaml(zone: "demo-campus"));

        var refused = await Assert.ThrowsAsync<SiteFileException>(() => StartAndStopAsync(siteB));

        var error = Assert.Single(refused.Errors);
        Assert.Equal((siteB, "zones[0].id"), (error.File, error.Path));
        Assert.True(error.Line > 0);
        Assert.Contains("already used by the zone of site 'demo'", error.Message, StringComparison.Ordinal);
        Assert.Equal(["demo"], StoredSites());
        await StartAndStopAsync(null);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task SecondSiteFile_RedeclaringAnAccessLevelOfAStoredSite_IsRefused_AndItsHoldersGainNoDoorOfTheSecondSite()
    {
        // Started for real, so that each file's cardholders are imported.
        await (await EdgeHarness.StartAsync(directory: folder.Path)).DisposeAsync();
        var siteB = WriteSiteB(SecondSite.Yaml(level: "lobby-24x7", levelSchedule: "always"));

        var refused = await Record.ExceptionAsync(async () =>
            await (await EdgeHarness.StartAsync(directory: folder.Path, configure: s => s with { SiteFile = siteB })).DisposeAsync());

        // Luca Romano (a contractor of the demo site) holds the demo's lobby-24x7; site B's file names no one of the demo.
        var atSiteB = Decide("047C19D24A5B81", "desfire-ev2", SecondSite.Reader);
        Assert.False(atSiteB.IsGranted, $"the demo's contractor is {atSiteB.Reason.ToCode()} at site B's door");
        var error = Assert.Single(Assert.IsType<SiteFileException>(refused).Errors);
        Assert.Equal((siteB, "accessLevels[0].id"), (error.File, error.Path));
        Assert.Contains("already used by the access level of site 'demo'", error.Message, StringComparison.Ordinal);
        Assert.Equal(["demo"], StoredSites());
        var lobby = new CardholderStore(OpenDatabase()).LoadAll().AccessLevels[new AccessLevelId("lobby-24x7")];
        Assert.Equal(["demo-bldg-a", "demo-campus"], lobby.Zones.Select(z => z.Value).Order(StringComparer.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-PE-2")]
    public async Task SecondSiteFile_DeclaringAPersonOfAStoredSite_IsRefused_AndTheirAccessThereIsUnchanged()
    {
        // Luca Romano is the demo's; site B's file would give him site B's level only, narrowing his access at the demo.
        var error = await RefusedAfterTheDemoAsync(SecondSite.Yaml(person: "p-lromano"));

        Assert.Equal("people[0].id", error.Path);
        Assert.Contains("already used by the person of site 'demo'", error.Message, StringComparison.Ordinal);
        Assert.Equal(["demo"], StoredSites());
        Assert.True(Decide("047C19D24A5B81", "desfire-ev2", "rdr-lobby-in").IsGranted);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-PE-2")]
    public async Task SecondSiteFile_DeclaringACardOfAStoredSite_IsRefused_AndTheCardStaysItsHolders()
    {
        // Martina Koch's card, bound in site B's file to site B's own person.
        var error = await RefusedAfterTheDemoAsync(SecondSite.Yaml(card: "04A1B2C3D4E5F6"));

        Assert.Equal("credentials[0].card", error.Path);
        Assert.Contains("site 'demo'", error.Message, StringComparison.Ordinal);
        Assert.Equal(new PersonId("p-mkoch"), new CardholderStore(OpenDatabase()).LoadAll().Credentials["04A1B2C3D4E5F6"].Person);
        Assert.True(Decide("04A1B2C3D4E5F6", "desfire-ev3", "rdr-lobby-in").IsGranted);
    }

    [Fact]
    public async Task StoredSites_SharingIds_StopTheStartSayingWhichAndHow_AndACorrectedFileForOneOfThemStarts()
    {
        // As an earlier version stored them: the demo, then site B with the demo's campus zone and lobby controller id.
        var store = new SiteStore(OpenDatabase(), clock);
        store.Save(new SiteId("demo"), "demo.yaml", File.ReadAllText(EdgeHarness.DemoSiteFile), "site-file:demo.yaml (test)");
        store.Save(new SiteId(SecondSite.Id), "site-b.yaml", SecondSite.Yaml(zone: "demo-campus", controller: "ctl-lobby"), "site-file:site-b.yaml (test)");

        var refused = await Assert.ThrowsAsync<StoredSitesConflictException>(() => StartAndStopAsync(null));

        Assert.Equal(
            [
                "device id 'ctl-lobby': controller of site 'demo', controller of site 'site-b'",
                "zone id 'demo-campus': zone of site 'demo', zone of site 'site-b'",
            ],
            refused.Conflicts.Select(c => c.ToString()));
        Assert.Contains("--site FILE", refused.Message, StringComparison.Ordinal);
        Assert.Equal(refused.Message, ServiceCommands.CannotStart(refused, new ServiceSettings { DataDirectory = folder.Path }));
        Assert.Equal(2, StoredSites().Count);

        await StartAndStopAsync(WriteSiteB(SecondSite.Yaml()));
        await StartAndStopAsync(null);
    }

    /// <summary>Starts with the demo (its cardholders imported), then with site B's <paramref name="yaml"/>: the one error it is refused with.</summary>
    private async Task<SiteFileError> RefusedAfterTheDemoAsync(string yaml)
    {
        await (await EdgeHarness.StartAsync(directory: folder.Path)).DisposeAsync();
        var siteB = WriteSiteB(yaml);

        var refused = await Record.ExceptionAsync(async () =>
            await (await EdgeHarness.StartAsync(directory: folder.Path, configure: s => s with { SiteFile = siteB })).DisposeAsync());

        var error = Assert.Single(Assert.IsType<SiteFileException>(refused).Errors);
        Assert.Equal(siteB, error.File);
        return error;
    }

    private Database OpenDatabase()
    {
        var database = new Database(new ServiceSettings { DataDirectory = folder.Path }.DatabasePath);
        database.Migrate();
        return database;
    }

    private List<string> StoredSites() =>
        [.. new SiteStore(OpenDatabase(), clock).LoadNewest().Select(s => s.Topology.Sites.Keys.Single().Value)];

    /// <summary>A swipe decided with what the service would start with now: the stored sites and cardholders.</summary>
    private AccessDecision Decide(string card, string technology, string reader)
    {
        var topology = new SiteStore(OpenDatabase(), clock).LoadNewest().Aggregate(SiteTopology.Empty, (all, site) => all.ReplaceSites(site.Topology));
        var request = new AccessRequest(new ReaderId(reader), card, technology, clock.GetCurrentInstant());
        return DecisionEngine.Decide(request, topology, new CardholderStore(OpenDatabase()).LoadAll(), PassbackState.Empty);
    }

    private string WriteSiteB(string yaml)
    {
        var path = Path.Combine(folder.Path, "site-b.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private async Task StartAndStopAsync(string? siteFile)
    {
        var settings = new ServiceSettings
        {
            DataDirectory = folder.Path,
            SiteFile = siteFile,
            HttpUrl = "http://127.0.0.1:0",
            Broker = new AccessControl.Broker.BrokerOptions { Port = 0 },
        };
        await EdgeService.Create(settings, clock, RealTime.Instance, NullLoggerFactory.Instance).DisposeAsync();
    }
}

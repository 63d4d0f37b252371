using AccessControl.SiteFiles;
using AccessControl.Tests.EndToEnd;

namespace AccessControl.Tests.SiteFiles;

/// <summary>
/// A site file checked against the other sites of the service: a zone, door or device id that another site holds is an
/// error of the new file, at the id, naming the site that holds it. Schedules may repeat (each site has its own).
/// </summary>
public class SiteFileOtherSitesTests
{
    private static readonly SiteIdsInUse DemoSite = new([SiteFileLoader.Load(EdgeHarness.DemoSiteFile).Site!.Topology]);

    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("zone", "demo-campus", "zones[0].id", "the zone of site 'demo'")]
    [InlineData("door", "door-lobby", "doors[0].id", "the door of site 'demo'")]
    [InlineData("reader", "rdr-lobby-in", "readers[0].id", "the reader of site 'demo'; a device's id is its MQTT username")]
    [InlineData("reader", "ctl-lobby", "readers[0].id", "the controller of site 'demo'; a device's id is its MQTT username")]
    [InlineData("controller", "ctl-lobby", "controllers[0].id", "the controller of site 'demo'")]
    [InlineData("firePanel", "fire-panel-a", "firePanels[0]", "the fire panel of site 'demo'")]
    public void Parse_WithAnIdAnotherSiteHolds_IsOneErrorAtTheId_NamingThatSite(string what, string id, string path, string holder)
    {
        var yaml = what switch
        {
            "zone" => SecondSite.Yaml(zone: id),
            "door" => SecondSite.Yaml(door: id),
            "reader" => SecondSite.Yaml(reader: id),
            "controller" => SecondSite.Yaml(controller: id),
            _ => SecondSite.Yaml(firePanel: id),
        };

        var error = SiteFileText.SingleError(SiteFileLoader.Parse(yaml, "site-b.yaml", DemoSite));

        Assert.Equal("site-b.yaml", error.File);
        Assert.Equal(path, error.Path);
        Assert.Equal(SiteFileText.PositionOf(yaml, (what == "firePanel" ? "[" : "id: ") + id).Line, error.Line);
        Assert.Contains($"id '{id}' is already used by {holder}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Parse_DeclaringAStoredPersonNoSiteFileDeclares_IsAnErrorAtTheIdNamingWhoMadeIt_UnlessTheEntryAdoptsThem()
    {
        var madeByOps = new LastChange("ops", NodaTime.Instant.FromUtc(2026, 11, 30, 8, 15));
        var stored = new SiteIdsInUse([], [], [], new Dictionary<AccessControl.Sites.PersonId, LastChange> { [new("p-bnewman")] = madeByOps });
        var yaml = SecondSite.Yaml();

        var error = SiteFileText.SingleError(SiteFileLoader.Parse(yaml, "site-b.yaml", stored));
        var adopted = SiteFileLoader.Parse(yaml.Replace("kind: employee,", "kind: employee, adopt: true,", StringComparison.Ordinal), "site-b.yaml", stored);

        Assert.Equal(("people[0].id", SiteFileText.PositionOf(yaml, "id: p-bnewman").Line), (error.Path, error.Line));
        Assert.Contains("person 'p-bnewman' is stored but no site file declares it: it was made through the admin API", error.Message, StringComparison.Ordinal);
        Assert.Contains("last changed by 'ops' at 2026-11-30T08:15:00Z", error.Message, StringComparison.Ordinal);
        Assert.True(adopted.Success, string.Join("; ", adopted.Errors));
        Assert.Equal([new AccessControl.Sites.PersonId("p-bnewman")], adopted.Site!.AdoptedPeople);
    }

    [Fact]
    public void Parse_WithAScheduleIdAnotherSiteHas_IsValid()
    {
        Assert.True(SiteFileLoader.Parse(SecondSite.Yaml(schedule: "business-hours"), "site-b.yaml", DemoSite).Success);
    }

    [Fact]
    public void Load_TheStoredSiteAgain_DoesNotCollideWithItself()
    {
        var result = SiteFileLoader.Load(EdgeHarness.DemoSiteFile, DemoSite);

        Assert.True(result.Success, string.Join("; ", result.Errors));
    }

    [Fact]
    public void Conflicts_OfSitesSharingIds_NameEachIdAndItsHolders()
    {
        var siteB = SiteFileLoader.Parse(SecondSite.Yaml(zone: "demo-campus", reader: "ctl-lobby"), "site-b.yaml").Site!;
        var demo = SiteFileLoader.Load(EdgeHarness.DemoSiteFile).Site!;

        var conflicts = new SiteIdsInUse([demo.Topology, siteB.Topology]).Conflicts();

        Assert.Equal(
            [
                "device id 'ctl-lobby': controller of site 'demo', reader of site 'site-b'",
                "zone id 'demo-campus': zone of site 'demo', zone of site 'site-b'",
            ],
            conflicts.Select(c => c.ToString()));
    }
}

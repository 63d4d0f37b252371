using AccessControl.Decisions;
using AccessControl.People;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.SiteFiles;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Decisions;

/// <summary>
/// Each site has its own schedules: a level names a schedule by id, read at the site of the door. Two sites may both
/// declare <c>business-hours</c>, each with its own hours, and loading one never changes decisions at the other.
/// </summary>
public class MultiSiteScheduleTests
{
    private static readonly SiteDefinition Demo = Load(File.ReadAllText(EdgeHarness.DemoSiteFile), "demo.yaml");
    private static readonly SiteDefinition SiteB = Load(SecondSite.Yaml(schedule: "business-hours"), "site-b.yaml");
    private static readonly SiteTopology Both = Demo.Topology.ReplaceSites(SiteB.Topology);
    private static readonly Cardholders Cardholders = People.Cardholders.Create(
        Demo.People.Concat(SiteB.People), Demo.Credentials.Concat(SiteB.Credentials), Demo.AccessLevels.Concat(SiteB.AccessLevels));

    // Tuesday 1 December 2026, 10:00 in Berlin, 04:00 in New York.
    private static readonly Instant Tuesday = EdgeHarness.BusinessHours;

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void SecondSite_WithAScheduleOfTheSameId_DoesNotChangeDecisionsAtTheFirstSite()
    {
        // Jonas Weber: data hall 1, business hours (Berlin, Monday to Friday).
        var request = new AccessRequest(new ReaderId("rdr-dh1-in"), Engineer, Ev3, Tuesday);

        Assert.Equal(AccessReason.Granted, DecisionEngine.Decide(request, Demo.Topology, Cardholders, PassbackState.Empty).Reason);
        Assert.Equal(AccessReason.Granted, DecisionEngine.Decide(request, Both, Cardholders, PassbackState.Empty).Reason);
    }

    [Theory]
    [Trait("control", "NIST-PE-3")]
    [InlineData("2026-12-01T09:00:00Z", AccessReason.OutsideSchedule)] // Tuesday 04:00 New York: the demo's business hours, not B's
    [InlineData("2026-12-05T12:30:00Z", AccessReason.Granted)]         // Saturday 07:30 New York
    public void SecondSite_WithAScheduleOfTheSameId_DecidesItsOwnDoorsByItsOwnHours(string at, AccessReason expected)
    {
        var request = new AccessRequest(new ReaderId(SecondSite.Reader), SecondSite.StaffCard, Ev3, NodaTime.Text.InstantPattern.General.Parse(at).Value);

        Assert.Equal(expected, DecisionEngine.Decide(request, Both, Cardholders, PassbackState.Empty).Reason);
    }

    [Fact]
    public void ReplaceSites_WithANewFileOfTheSameSite_DropsTheSchedulesItNoLongerDeclares()
    {
        var renamed = Load(SecondSite.Yaml(schedule: "b-weekend"), "site-b.yaml");

        var reloaded = Both.ReplaceSites(renamed.Topology);

        var site = new SiteId(SecondSite.Id);
        Assert.Null(reloaded.ScheduleOf(site, new ScheduleId("business-hours")));
        Assert.NotNull(reloaded.ScheduleOf(site, new ScheduleId("b-weekend")));
        Assert.All(Demo.Topology.Schedules, s => Assert.Same(s.Value, reloaded.ScheduleOf(s.Key.Site, s.Key.Id)));
    }

    private static SiteDefinition Load(string yaml, string file)
    {
        var result = SiteFileLoader.Parse(yaml, file);
        Assert.True(result.Success, string.Join("; ", result.Errors));
        return result.Site!;
    }
}

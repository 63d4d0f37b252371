using AccessControl.Sites;
using AccessControl.Supervision;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Supervision;

/// <summary>What /health counts as offline: devices of the site as it is now, counted again when that changes.</summary>
public class OfflineCountsTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 12, 1, 9, 0);
    private static readonly SiteTopology Site = TestSite.Topology;

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public void AReaderTakenOutOfTheSiteFileWhileOffline_IsNoLongerCounted_ThoughStillKnownOffline()
    {
        var watch = new ReaderWatch(T0);
        var reader = Site.Readers.Values.OrderBy(r => r.Id.Value, StringComparer.Ordinal).First();
        watch.WentOffline(reader, Site.Doors[reader.Door], "last will");

        var without = Without(reader: reader.Id);

        Assert.Equal(1, watch.OfflineCount(Site));
        Assert.Equal(0, watch.OfflineCount(without));
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public void ControllerCounts_FollowTheOfflineSetAndTheTopology_AsTheyChange()
    {
        var watch = new ControllerWatch(T0);
        var controller = Site.Controllers.Values.OrderBy(c => c.Id.Value, StringComparer.Ordinal).First();
        var doors = Site.DoorsOf(controller.Id).Count();
        var allWell = watch.OfflineCounts(Site);

        _ = watch.WentOffline(controller, Site.DoorsOf(controller.Id).First().Id, Site).ToList();
        var down = watch.OfflineCounts(Site);
        var removed = watch.OfflineCounts(Without(controller: controller.Id));
        _ = watch.Seen(controller, T0 + Duration.FromSeconds(5), Site).ToList();
        var back = watch.OfflineCounts(Site);

        Assert.Equal((0, 0), allWell);
        Assert.True(doors > 0);
        Assert.Equal((1, doors), down);
        Assert.Equal((0, 0), removed);
        Assert.Equal((0, 0), back);
    }

    private static SiteTopology Without(ReaderId? reader = null, ControllerId? controller = null) =>
        new(Site.Sites.Values, Site.Zones.Values,
            Site.Doors.Values.Where(d => d.Controller != controller),
            Site.Readers.Values.Where(r => r.Id != reader && Site.Doors[r.Door].Controller != controller),
            Site.Controllers.Values.Where(c => c.Id != controller),
            Site.Schedules.Values);
}

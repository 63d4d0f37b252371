using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Supervision;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.LifeSafety;

/// <summary>Door supervision during a fire release: people leaving are neither forced entries nor doors held open.</summary>
public class DoorWatchReleaseTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 12, 1, 9, 0);
    private static readonly Door Main = TestSite.Topology.Doors[new DoorId(TestSite.MainEntrance)];

    [Fact]
    [Trait("control", "NFPA-101")]
    public void ReleasedDoor_OpenedWithoutGrant_AndLeftOpen_RaisesNothing()
    {
        var watch = new DoorWatch(Duration.FromHours(24));
        watch.Released(Main.Id);

        var opened = watch.Report(Main, DoorEventType.Opened, T0, T0);
        var later = watch.Check(T0 + Duration.FromHours(2), TestSite.Topology).ToList();

        Assert.Null(opened);
        Assert.Empty(later);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public void AfterRelock_ADoorStillOpen_IsHeldOpenCountedFromTheRelock_AndANewOpeningIsForced()
    {
        var watch = new DoorWatch(Duration.FromHours(24));
        watch.Released(Main.Id);
        watch.Report(Main, DoorEventType.Opened, T0, T0);
        var relockAt = T0 + Duration.FromHours(1);
        watch.Relocked(Main.Id, relockAt);

        var justAfter = watch.Check(relockAt + Main.HeldOpenAfter, TestSite.Topology).ToList();
        var heldOpen = watch.Check(relockAt + Main.HeldOpenAfter + Duration.FromSeconds(1), TestSite.Topology).ToList();
        watch.Report(Main, DoorEventType.Closed, relockAt + Duration.FromMinutes(2), relockAt + Duration.FromMinutes(2));
        var forced = watch.Report(Main, DoorEventType.Opened, relockAt + Duration.FromMinutes(3), relockAt + Duration.FromMinutes(3));

        Assert.Empty(justAfter);
        Assert.Equal(AlarmTypes.DoorHeldOpen, Assert.Single(heldOpen).Type);
        Assert.Equal(AlarmTypes.DoorForced, forced?.Type);
    }
}

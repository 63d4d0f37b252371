using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Supervision;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Supervision;

/// <summary>A step of the service clock is not time that passed: it neither silences readers nor holds doors open.</summary>
public class ClockStepSupervisionTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 12, 1, 9, 0);
    private static readonly Door Main = TestSite.Topology.Doors[new DoorId(TestSite.MainEntrance)];

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public void AClockStepForward_DoesNotReportQuietReadersOffline_ButSilenceAfterItIsStillReported()
    {
        var watch = new ReaderWatch(T0);
        var unaware = new ReaderWatch(T0);
        foreach (var reader in TestSite.Topology.Readers.Values)
        {
            watch.Seen(reader, TestSite.Topology.Doors[reader.Door], T0 + Duration.FromSeconds(1));
            unaware.Seen(reader, TestSite.Topology.Doors[reader.Door], T0 + Duration.FromSeconds(1));
        }

        var stepped = T0 + Duration.FromMinutes(10);
        var withoutAdjustment = unaware.Check(stepped + Duration.FromSeconds(1), TestSite.Topology).ToList();
        watch.ClockStepped(stepped);
        var rightAfter = watch.Check(stepped + Duration.FromSeconds(1), TestSite.Topology).ToList();
        var longest = TestSite.Topology.Readers.Values.Max(r => r.HeartbeatInterval) * ReaderWatch.MissedHeartbeats;
        var later = watch.Check(stepped + longest + Duration.FromSeconds(1), TestSite.Topology).ToList();

        Assert.NotEmpty(withoutAdjustment);
        Assert.Empty(rightAfter);
        Assert.Equal(TestSite.Topology.Readers.Count, later.Count(a => a.Type == AlarmTypes.ReaderOffline));
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public void AClockStepForward_WhileADoorIsOpen_IsNotHeldOpen_UntilItsLimitPassesAfterTheStep()
    {
        var watch = new DoorWatch(Duration.FromHours(24));
        watch.Granted(Main.Id, T0, T0 + Duration.FromSeconds(5));
        watch.Report(Main, DoorEventType.Opened, T0 + Duration.FromSeconds(1), T0 + Duration.FromSeconds(1));

        var stepped = T0 + Duration.FromMinutes(10);
        watch.ClockStepped(stepped);
        var rightAfter = watch.Check(stepped + Duration.FromSeconds(1), TestSite.Topology).ToList();
        var later = watch.Check(stepped + Main.HeldOpenAfter + Duration.FromSeconds(1), TestSite.Topology).ToList();

        Assert.Empty(rightAfter);
        Assert.Equal(AlarmTypes.DoorHeldOpen, Assert.Single(later).Type);
    }
}

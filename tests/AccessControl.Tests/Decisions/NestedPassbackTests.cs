using AccessControl.Decisions;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.Decisions.TestSite;

namespace AccessControl.Tests.Decisions;

/// <summary>
/// Anti-passback across nested zones: a perimeter door may lead straight into a zone inside others (an emergency exit
/// out of a cage), and passing it enters or leaves every zone around that one too.
/// </summary>
public sealed class NestedPassbackTests
{
    private static readonly DoorId CageEmergencyExit = new("dc1-cage-7-emergency-exit");
    private static readonly ReaderId CageEmergencyOut = new("rdr-cage-7-emergency-out");
    private static readonly ReaderId CageEmergencyIn = new("rdr-cage-7-emergency-in");
    private static readonly DoorId VaultBackDoor = new("dc1-vault-back-door");
    private static readonly ReaderId VaultBackIntoHall = new("rdr-vault-back-into-hall");

    /// <summary><see cref="TestSite.Topology"/> with a perimeter door from outside straight into cage 7 (inside hall A, hard).</summary>
    private static readonly SiteTopology WithEmergencyExit = new(
        Topology.Sites.Values,
        Topology.Zones.Values,
        [
            .. Topology.Doors.Values,
            new Door(CageEmergencyExit, Dc1, "Cage 7 emergency exit", null, Cage7, Controller, CageUnlock, Duration.FromSeconds(30)),
            // Written outwards (from the vault to the hall around it), as the site file allows for an inner zone without anti-passback.
            new Door(VaultBackDoor, Dc1, "Vault back door", Vault, HallA, Controller, CageUnlock, Duration.FromSeconds(30)),
        ],
        [
            .. Topology.Readers.Values,
            new Reader(CageEmergencyOut, ReaderKind.Card, CageEmergencyExit, Direction.Out, Duration.FromSeconds(30)),
            new Reader(CageEmergencyIn, ReaderKind.Card, CageEmergencyExit, Direction.In, Duration.FromSeconds(30)),
            new Reader(VaultBackIntoHall, ReaderKind.Card, VaultBackDoor, Direction.In, Duration.FromSeconds(30)),
        ],
        Topology.Controllers.Values,
        Topology.Schedules.Values);

    private static (AccessDecision Decision, PassbackState After) Walk(ReaderId reader, PassbackState passback, Instant? at = null)
    {
        var decision = DecisionEngine.Decide(Swipe(reader, at), WithEmergencyExit, Holders, passback);
        return (decision, passback.Apply(decision));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void LeavingTheSiteThroughAPerimeterDoorOutOfANestedZone_LeavesTheHardZoneAroundIt_SoTheNextEntryIsGranted()
    {
        var passback = PassbackState.Empty;
        foreach (var reader in new[] { HallIn, CageIn, CageEmergencyOut })
        {
            (var decision, passback) = Walk(reader, passback);
            Assert.True(decision.IsGranted, $"{reader}: {decision.Reason}");
        }

        Assert.False(passback.IsInside(Alice, Cage7));
        Assert.False(passback.IsInside(Alice, HallA));

        var (back, _) = Walk(HallIn, passback, WorkingHours + Duration.FromDays(1));

        Assert.True(back.IsGranted, back.Reason.ToString());
        Assert.False(back.PassbackViolation);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void EnteringANestedZoneThroughAPerimeterDoor_EntersTheHardZoneAroundIt_SoASecondEntryIsDenied()
    {
        var (first, passback) = Walk(CageEmergencyIn, PassbackState.Empty);
        Assert.True(first.IsGranted, first.Reason.ToString());
        Assert.True(passback.IsInside(Alice, HallA));

        // Her card passed back to someone outside the hall's door: the hall already holds her.
        var (second, after) = Walk(HallIn, passback);

        Assert.Equal(AccessReason.AntiPassback, second.Reason);
        Assert.Same(passback, after);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void EnteringANestedZoneThroughAPerimeterDoor_WhileKnownInsideTheHardZoneAroundIt_IsDenied()
    {
        var (_, passback) = Walk(HallIn, PassbackState.Empty);

        var (decision, after) = Walk(CageEmergencyIn, passback);

        Assert.Equal(AccessReason.AntiPassback, decision.Reason);
        Assert.Same(passback, after);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void ADoorWrittenOutwards_FromAZoneIntoTheHardZoneAroundIt_IsNotAnEntryIntoThatZone()
    {
        var (_, passback) = Walk(HallIn, PassbackState.Empty);

        // Out of the vault, back into the hall she never left.
        var (decision, after) = Walk(VaultBackIntoHall, passback);

        Assert.True(decision.IsGranted, decision.Reason.ToString());
        Assert.False(decision.PassbackViolation);
        Assert.True(after.IsInside(Alice, HallA));
    }
}

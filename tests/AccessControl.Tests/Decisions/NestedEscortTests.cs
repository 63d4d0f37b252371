using AccessControl.Decisions;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.Decisions.EscortTestPeople;
using static AccessControl.Tests.Decisions.TestSite;

namespace AccessControl.Tests.Decisions;

/// <summary>
/// Escort occupancy across nested zones and at doors written outwards, as anti-passback reads them
/// (<see cref="SiteTopology.ZonesCrossedBy"/>): a perimeter door straight into the vault enters and leaves the hall around
/// it too, and a door written outwards guards its <c>from</c> zone. Otherwise an escort who leaves the site through the
/// vault's emergency exit is still "in the hall" with the visitor they brought there, and nobody is told the visitor is
/// alone.
/// </summary>
public sealed class NestedEscortTests
{
    private static readonly Duration Second = Duration.FromSeconds(1);

    private static readonly ZoneId Store = new("dc1-store");
    private static readonly DoorId VaultEmergencyExit = new("dc1-vault-emergency-exit");
    private static readonly ReaderId VaultEmergencyIn = new("rdr-vault-emergency-in");
    private static readonly ReaderId VaultEmergencyOut = new("rdr-vault-emergency-out");
    private static readonly DoorId StoreDoor = new("dc1-store-door");
    private static readonly ReaderId StoreLeave = new("rdr-store-leave");   // "in": from the store out into the hall
    private static readonly ReaderId StoreEnter = new("rdr-store-enter");   // "out": from the hall into the store

    /// <summary>
    /// <see cref="TestSite.Topology"/> with hall A escort-required around the (escort-required) vault, an emergency exit from
    /// the vault straight out of the site (as the site file allows: the vault is escort-required itself), and a store
    /// inside the hall behind a door written outwards (from the store to the hall, as the site file allows for a zone
    /// with no rules of its own).
    /// </summary>
    private static readonly SiteTopology Site = new(
        Topology.Sites.Values,
        [
            .. Topology.Zones.Values.Select(z => z.Id == HallA ? z with { Escort = EscortPolicy.Default } : z),
            new Zone(Store, Dc1, "Store", ZoneKind.Area, HallA, 2, AntiPassbackMode.Off, []),
        ],
        [
            .. Topology.Doors.Values,
            new Door(VaultEmergencyExit, Dc1, "Vault emergency exit", null, Vault, Controller, CageUnlock, Duration.FromSeconds(30)),
            new Door(StoreDoor, Dc1, "Store door", Store, HallA, Controller, CageUnlock, Duration.FromSeconds(30)),
        ],
        [
            .. Topology.Readers.Values,
            new Reader(VaultEmergencyIn, ReaderKind.Card, VaultEmergencyExit, Direction.In, Duration.FromSeconds(30)),
            new Reader(VaultEmergencyOut, ReaderKind.Card, VaultEmergencyExit, Direction.Out, Duration.FromSeconds(30)),
            new Reader(StoreLeave, ReaderKind.Card, StoreDoor, Direction.In, Duration.FromSeconds(30)),
            new Reader(StoreEnter, ReaderKind.Card, StoreDoor, Direction.Out, Duration.FromSeconds(30)),
        ],
        Topology.Controllers.Values,
        Topology.Schedules.Values);

    /// <summary>Eddie escorts into the campus and the store too; Olga enters the store only under escort.</summary>
    private static readonly Cardholders Holders = EscortHolders
        .With(new AccessLevel(EscortLevel, "Escorts: campus, hall, cage, vault and store", [Campus, HallA, Cage7, Vault, Store], ScheduleId.Always, Escort: true))
        .With(new AccessLevel(EscortedLevel, "Store, only under escort", [Store, HallA], ScheduleId.Always, EscortedOnly: true));

    private static AccessDecision DecideAndApply(ref EscortState state, PersonId person, ReaderId reader, Instant at)
    {
        var decision = DecisionEngine.Decide(Swipe(person, reader, at), Site, Holders, PassbackState.Empty, state);
        if (decision.Escort is { } outcome)
        {
            state = state.Apply(outcome);
        }

        return decision;
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void EscortLeavingTheSiteThroughAPerimeterDoorOutOfTheVault_LeavesTheHallToo_NamingTheVisitorLeftInIt()
    {
        var state = EscortState.Empty;
        Assert.True(DecideAndApply(ref state, Eddie, HallIn, T0).IsGranted);
        Assert.True(DecideAndApply(ref state, Vic, HallIn, T0 + Second).IsGranted);
        Assert.True(DecideAndApply(ref state, Eddie, VaultIn, T0 + (Second * 30)).IsGranted);

        var leaving = DecideAndApply(ref state, Eddie, VaultEmergencyOut, T0 + (Second * 40));

        Assert.True(leaving.IsGranted, leaving.Reason.ToString());
        Assert.Equal(Vault, leaving.Escort!.Left);
        Assert.Equal(new ZoneLeft(HallA, [Vic]), Assert.Single(leaving.Escort.EnclosingLeft));
        Assert.False(state.IsInside(Eddie, HallA));
        Assert.Null(state.Inside(HallA)[Vic]); // alone now: reported once, not again at the escort's next exit
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void EscortLeavingTheSiteThroughAPerimeterDoorOutOfTheVault_ClosesTheirWindowIntoTheHall()
    {
        var state = EscortState.Empty;
        Assert.True(DecideAndApply(ref state, Eddie, HallIn, T0).IsGranted);
        Assert.True(DecideAndApply(ref state, Eddie, VaultIn, T0 + Second).IsGranted);
        Assert.True(DecideAndApply(ref state, Eddie, VaultEmergencyOut, T0 + (Second * 2)).IsGranted);

        // Still within the 10 s of the window Eddie opened at the hall door, but Eddie has left the site.
        var follower = DecideAndApply(ref state, Vic, HallIn, T0 + (Second * 3));

        Assert.Equal(AccessReason.EscortRequired, follower.Reason);
        Assert.Empty(state.WindowsAt(HallDoor, Direction.In));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void VisitorEscortedInThroughAPerimeterDoorIntoTheVault_IsInTheHallToo_SoTheEscortLeavingTheHallNamesThem()
    {
        var state = EscortState.Empty;
        Assert.True(DecideAndApply(ref state, Eddie, VaultEmergencyIn, T0).IsGranted);
        var visitorIn = DecideAndApply(ref state, Vic, VaultEmergencyIn, T0 + Second);
        // Both walk out of the vault into the hall, the visitor behind the escort.
        var escortOut = DecideAndApply(ref state, Eddie, VaultOut, T0 + (Second * 60));
        Assert.True(escortOut.IsGranted, escortOut.Reason.ToString());
        var visitorOut = DecideAndApply(ref state, Vic, VaultOut, T0 + (Second * 61));
        Assert.True(visitorOut.IsGranted, visitorOut.Reason.ToString());

        var leaving = DecideAndApply(ref state, Eddie, HallOut, T0 + (Second * 120));

        Assert.True(visitorIn.IsGranted, visitorIn.Reason.ToString());
        Assert.Equal(Vault, visitorIn.Escort!.Entered);
        Assert.Equal<ZoneId>([HallA, Campus], visitorIn.Escort.EnclosingEntered); // came in under escort: inside every zone around
        Assert.True(leaving.IsGranted);
        Assert.Equal(HallA, leaving.Escort!.Left);
        Assert.Equal<PersonId>([Vic], leaving.Escort.LeftUnescorted);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void DoorWrittenOutwards_TracksItsFromZone_SoTheEscortLeavingItNamesWhomTheyBroughtIn()
    {
        var state = EscortState.Empty;
        Assert.True(DecideAndApply(ref state, Eddie, StoreEnter, T0).IsGranted);
        var escorted = DecideAndApply(ref state, Olga, StoreEnter, T0 + Second);
        var broughtIn = state.Inside(Store)[Olga];

        var leaving = DecideAndApply(ref state, Eddie, StoreLeave, T0 + (Second * 60));

        Assert.True(escorted.IsGranted, escorted.Reason.ToString());
        Assert.Equal(Store, escorted.Escort!.Entered);
        Assert.Equal(Eddie, broughtIn);
        Assert.True(leaving.IsGranted, leaving.Reason.ToString());
        Assert.Equal(Store, leaving.Escort!.Left);
        Assert.Equal<PersonId>([Olga], leaving.Escort.LeftUnescorted);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void DoorWrittenOutwards_EscortLeavingItsFromZone_ClosesTheirWindowIntoIt_AndEnteringItClosesNothing()
    {
        var state = EscortState.Empty;
        Assert.True(DecideAndApply(ref state, Eddie, HallIn, T0).IsGranted);
        var entering = DecideAndApply(ref state, Eddie, StoreEnter, T0 + Second);
        var leaving = DecideAndApply(ref state, Eddie, StoreLeave, T0 + (Second * 2));

        var follower = DecideAndApply(ref state, Olga, StoreEnter, T0 + (Second * 3));

        Assert.Empty(entering.Escort!.ClosesWindowsInto);   // entering the store, Eddie is still in the hall
        Assert.Equal<ZoneId>([Store], leaving.Escort!.ClosesWindowsInto);
        Assert.Equal(AccessReason.EscortRequired, follower.Reason);
        Assert.Single(state.WindowsAt(HallDoor, Direction.In)); // the hall's window stays: Eddie is still in the hall
    }
}

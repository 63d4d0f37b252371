using System.Collections.Immutable;
using AccessControl.Decisions;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Tests.Decisions;

public class EscortStateTests
{
    private static readonly DoorId Door = new("door-sr1");
    private static readonly DoorId OtherDoor = new("door-sr2");
    private static readonly ZoneId Room = new("sr1");
    private static readonly PersonId Escort = new("p-escort");
    private static readonly PersonId Escort2 = new("p-escort-2");
    private static readonly PersonId Visitor = new("v-1");
    private static readonly PersonId Visitor2 = new("v-2");
    private static readonly Instant T0 = Instant.FromUtc(2026, 12, 1, 9, 0);
    private static readonly Duration Second = Duration.FromSeconds(1);

    private static EscortWindow Window(PersonId escort = default, Instant? at = null, int capacity = 2, DoorId? door = null, Direction direction = Direction.In)
    {
        var opened = at ?? T0;
        return new EscortWindow(escort == default ? Escort : escort, door ?? Door, direction, Room, opened, opened + Duration.FromSeconds(10), capacity, []);
    }

    private static EscortOutcome Opens(EscortWindow window) => new(window.Escort, window, null, window.Direction == Direction.In ? Room : null, null, []);

    private static EscortOutcome Enters(PersonId person, EscortWindow used) => new(person, null, used, Room, null, []);

    [Fact]
    public void Empty_HasNoWindowsAndNobodyInside()
    {
        Assert.Equal(0, EscortState.Empty.WindowCount);
        Assert.Null(EscortState.Empty.FindWindow(Door, Direction.In, Room, Visitor, T0));
        Assert.Empty(EscortState.Empty.Inside(Room));
        Assert.False(EscortState.Empty.IsInside(Visitor, Room));
        Assert.Empty(EscortState.Empty.BroughtIn(Escort, Room));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Shift_MovesEveryWindow_WhoIsInsideStays()
    {
        var state = EscortState.Empty.Apply(Opens(Window())).Apply(Opens(Window(Escort2, door: OtherDoor))).Apply(Enters(Visitor, Window()));
        var back = Duration.FromMinutes(-5);

        var shifted = state.Shift(back);

        Assert.Null(state.FindWindow(Door, Direction.In, Room, Visitor2, T0 + back));
        Assert.NotNull(shifted.FindWindow(Door, Direction.In, Room, Visitor2, T0 + back));
        Assert.NotNull(shifted.FindWindow(OtherDoor, Direction.In, Room, Visitor2, T0 + back + Duration.FromSeconds(10)));
        Assert.Null(shifted.FindWindow(Door, Direction.In, Room, Visitor2, T0));
        Assert.Equal(state.WindowCount, shifted.WindowCount);
        Assert.True(shifted.IsInside(Visitor, Room));
        Assert.Same(state, state.Shift(Duration.Zero));
    }

    [Fact]
    public void Apply_IsImmutable_TheOriginalStateIsUnchanged()
    {
        var before = EscortState.Empty;

        var after = before.Apply(Opens(Window()));

        Assert.Equal(0, before.WindowCount);
        Assert.Equal(1, after.WindowCount);
        Assert.Empty(before.Inside(Room));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void FindWindow_CoversFromTheEscortsInstantToTheEndOfTheWindow_Inclusive()
    {
        var state = EscortState.Empty.Apply(Opens(Window()));

        Assert.Null(state.FindWindow(Door, Direction.In, Room, Visitor, T0 - Duration.FromMilliseconds(1)));
        Assert.NotNull(state.FindWindow(Door, Direction.In, Room, Visitor, T0));
        Assert.NotNull(state.FindWindow(Door, Direction.In, Room, Visitor, T0 + Duration.FromSeconds(10)));
        Assert.Null(state.FindWindow(Door, Direction.In, Room, Visitor, T0 + Duration.FromSeconds(10) + Duration.FromMilliseconds(1)));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void FindWindow_OnlyAtTheSameDoorDirectionAndZone_AndNeverForTheEscortThemselves()
    {
        var state = EscortState.Empty.Apply(Opens(Window()));

        Assert.Null(state.FindWindow(OtherDoor, Direction.In, Room, Visitor, T0 + Second));
        Assert.Null(state.FindWindow(Door, Direction.Out, Room, Visitor, T0 + Second));
        Assert.Null(state.FindWindow(Door, Direction.In, new ZoneId("sr2"), Visitor, T0 + Second));
        Assert.Null(state.FindWindow(Door, Direction.In, Room, Escort, T0 + Second));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Apply_Used_TakesAPlace_AFullWindowAdmitsOnlyThoseAlreadyIn()
    {
        var window = Window(capacity: 1);
        var state = EscortState.Empty.Apply(Opens(window));

        state = state.Apply(Enters(Visitor, state.FindWindow(Door, Direction.In, Room, Visitor, T0 + Second)!));

        var held = Assert.Single(state.WindowsAt(Door, Direction.In));
        Assert.Equal(0, held.Remaining);
        Assert.Equal([Visitor], held.Admitted);
        Assert.Null(state.FindWindow(Door, Direction.In, Room, Visitor2, T0 + Second));
        Assert.NotNull(state.FindWindow(Door, Direction.In, Room, Visitor, T0 + Second));
    }

    [Fact]
    public void Apply_UsedTwiceBySamePerson_TakesOnePlace()
    {
        var state = EscortState.Empty.Apply(Opens(Window()));
        var window = state.FindWindow(Door, Direction.In, Room, Visitor, T0)!;

        state = state.Apply(Enters(Visitor, window)).Apply(Enters(Visitor, window));

        Assert.Equal(1, Assert.Single(state.WindowsAt(Door, Direction.In)).Remaining);
    }

    [Fact]
    public void FindWindow_SeveralOpen_TheMostRecentWithAPlaceWins()
    {
        var first = Window(Escort, T0);
        var second = Window(Escort2, T0 + Second, capacity: 1);
        var state = EscortState.Empty.Apply(Opens(first)).Apply(Opens(second));

        Assert.Equal(Escort2, state.FindWindow(Door, Direction.In, Room, Visitor, T0 + (Second * 2))!.Escort);

        state = state.Apply(Enters(Visitor, second));
        Assert.Equal(Escort, state.FindWindow(Door, Direction.In, Room, Visitor2, T0 + (Second * 2))!.Escort);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void AnEscortsNewerEntry_ReplacesTheirWindowAtThatDoorSide_ADoubleBadgeDoesNotDoubleThePlaces()
    {
        var first = Window(Escort, T0, capacity: 1);
        var second = Window(Escort, T0 + Second, capacity: 1);
        var elsewhere = Window(Escort, T0 + Second, capacity: 1, door: OtherDoor);
        var state = EscortState.Empty.Apply(Opens(first)).Apply(Opens(Window(Escort2, T0, capacity: 1))).Apply(Opens(second)).Apply(Opens(elsewhere));

        Assert.Equal([Escort2, Escort], state.WindowsAt(Door, Direction.In).Select(w => w.Escort));
        Assert.Equal(T0 + Second, state.WindowsAt(Door, Direction.In)[1].Opened);
        Assert.Single(state.WindowsAt(OtherDoor, Direction.In));

        // Two places in all at this door (one per escort), not three.
        state = state.Apply(Enters(Visitor, state.FindWindow(Door, Direction.In, Room, Visitor, T0 + Second)!));
        state = state.Apply(Enters(Visitor2, state.FindWindow(Door, Direction.In, Room, Visitor2, T0 + Second)!));
        Assert.Null(state.FindWindow(Door, Direction.In, Room, new PersonId("v-3"), T0 + Second));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.2")]
    public void AnEscortBadgingAgainWhileTheirWindowIsOpen_KeepsThePlacesAlreadyTaken_ButNotAfterItClosed()
    {
        // Capacity 1: one visitor follows, then the escort badges again at the same door. The new window must not hand
        // out a fresh place while the first is still open; that would double the places behind one escort.
        var first = Window(Escort, T0, capacity: 1);
        var state = EscortState.Empty.Apply(Opens(first)).Apply(Enters(Visitor, first));

        var again = state.Apply(Opens(Window(Escort, T0 + Second, capacity: 1)));

        Assert.Null(again.FindWindow(Door, Direction.In, Room, Visitor2, T0 + Second));
        Assert.NotNull(again.FindWindow(Door, Direction.In, Room, Visitor, T0 + Second)); // the one admitted may present again

        // Once the first window has closed, a new badge opens a new window with its own places.
        var later = state.Apply(Opens(Window(Escort, T0 + Duration.FromSeconds(11), capacity: 1)));
        Assert.NotNull(later.FindWindow(Door, Direction.In, Room, Visitor2, T0 + Duration.FromSeconds(11)));
    }

    [Fact]
    public void Prune_DropsClosedWindowsOnly_AndIsANoOpWhenNothingClosed()
    {
        var state = EscortState.Empty.Apply(Opens(Window(Escort, T0))).Apply(Opens(Window(Escort2, T0 + (Second * 5), door: OtherDoor)));

        Assert.Same(state, state.Prune(T0 + Duration.FromSeconds(10)));

        var pruned = state.Prune(T0 + Duration.FromSeconds(11));
        Assert.Equal(1, pruned.WindowCount);
        Assert.Empty(pruned.WindowsAt(Door, Direction.In));
        Assert.Equal(0, pruned.Prune(T0 + Duration.FromSeconds(16)).WindowCount);
    }

    [Fact]
    public void Prune_KeepsWhoIsInside()
    {
        var window = Window();
        var state = EscortState.Empty.Apply(Opens(window)).Apply(Enters(Visitor, window));

        var pruned = state.Prune(T0 + Duration.FromHours(1));

        Assert.Equal(0, pruned.WindowCount);
        Assert.Equal(Escort, pruned.Inside(Room)[Visitor]);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Apply_EnteredAndLeft_TrackWhoIsInsideAndWhoBroughtThem()
    {
        var window = Window();
        var state = EscortState.Empty.Apply(Opens(window)).Apply(Enters(Visitor, window)).Apply(Enters(Visitor2, window));

        Assert.True(state.IsInside(Escort, Room));
        Assert.Null(state.Inside(Room)[Escort]);
        Assert.Equal<PersonId>([Visitor, Visitor2], state.BroughtIn(Escort, Room));

        state = state.Apply(new EscortOutcome(Visitor2, null, null, null, Room, []));

        Assert.False(state.IsInside(Visitor2, Room));
        Assert.Equal<PersonId>([Visitor], state.BroughtIn(Escort, Room));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Apply_EscortLeavingWithPeopleLeftBehind_MarksThemUnescorted()
    {
        var window = Window();
        var state = EscortState.Empty.Apply(Opens(window)).Apply(Enters(Visitor, window));

        state = state.Apply(new EscortOutcome(Escort, null, null, null, Room, [Visitor]));

        Assert.False(state.IsInside(Escort, Room));
        Assert.True(state.IsInside(Visitor, Room));
        Assert.Null(state.Inside(Room)[Visitor]);
        Assert.Empty(state.BroughtIn(Escort, Room));
    }

    [Fact]
    public void Apply_LastPersonLeaving_EmptiesTheZone()
    {
        var state = EscortState.Empty.Apply(Opens(Window()));

        state = state.Apply(new EscortOutcome(Escort, null, null, null, Room, []));

        Assert.Empty(state.Inside(Room));
    }

    [Fact]
    public void Apply_WithEntry_RemembersTheEscortsRow_AndWithEntrySeqCompletesIt()
    {
        var window = Window();
        var state = EscortState.Empty.Apply(Opens(window), new EscortEntry("rdr-sr1-in", "e-42"));

        Assert.Equal(new EscortEntry("rdr-sr1-in", "e-42"), state.FindWindow(Door, Direction.In, Room, Visitor, T0)!.Entry);

        state = state.WithEntrySeq(window, 1234);

        Assert.Equal(new EscortEntry("rdr-sr1-in", "e-42", 1234), state.FindWindow(Door, Direction.In, Room, Visitor, T0)!.Entry);
    }

    [Fact]
    public void WithEntrySeq_ForAWindowNoLongerHeld_ChangesNothing()
    {
        var state = EscortState.Empty.Apply(Opens(Window()), new EscortEntry("rdr-sr1-in", "e-42")).Prune(T0 + Duration.FromMinutes(1));

        Assert.Equal(0, state.WithEntrySeq(Window(), 7).WindowCount);
    }

    [Fact]
    public void EscortOutcome_IsEmpty_OnlyWhenItChangesNothing()
    {
        Assert.True(new EscortOutcome(Visitor, null, null, null, null, []).IsEmpty);
        Assert.True(new EscortOutcome(Visitor, null, null, null, null, default).IsEmpty);
        Assert.False(Opens(Window()).IsEmpty);
        Assert.False(new EscortOutcome(Visitor, null, null, null, Room, ImmutableArray<PersonId>.Empty).IsEmpty);
    }
}

using AccessControl.Decisions;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.Decisions.EscortTestPeople;
using static AccessControl.Tests.Decisions.TestSite;

namespace AccessControl.Tests.Decisions;

/// <summary>The escort rule of the decision engine, branch by branch, on the vault of <see cref="TestSite"/>.</summary>
public class EscortEngineTests
{
    private static readonly Duration Second = Duration.FromSeconds(1);

    // ---- designated escorts ---------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_VisitWithDesignatedEscorts_OnlyThoseEscortsCanBringTheVisitorIn()
    {
        var holders = EscortHolders.WithDesignatedEscorts(Vic, [Olga]);
        var state = EscortState.Empty;

        DecideAndApply(ref state, Eddie, VaultIn, T0, holders);
        var withAnotherEscort = DecideAndApply(ref state, Vic, VaultIn, T0 + Second, holders);
        var someoneElse = DecideAndApply(ref state, Val, VaultIn, T0 + Second, holders);

        var named = EscortState.Empty;
        DecideAndApply(ref named, Eddie, VaultIn, T0, EscortHolders.WithDesignatedEscorts(Vic, [Eddie]));
        var withTheNamedEscort = DecideAndApply(ref named, Vic, VaultIn, T0 + Second, EscortHolders.WithDesignatedEscorts(Vic, [Eddie]));

        Assert.Equal(AccessReason.EscortRequired, withAnotherEscort.Reason);
        Assert.Equal(AccessReason.Granted, someoneElse.Reason);   // Val's visit names no escorts: any eligible escort will do
        Assert.Equal(AccessReason.Granted, withTheNamedEscort.Reason);
    }

    // ---- alone ----------------------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_VisitorAloneAtAnEscortRequiredZone_DeniesEscortRequiredWithContext()
    {
        var state = EscortState.Empty;

        var decision = DecideAndApply(ref state, Vic, VaultIn, T0);

        Assert.Equal(AccessReason.EscortRequired, decision.Reason);
        Assert.Equal(Dc1, decision.Site);
        Assert.Equal(VaultDoor, decision.Door);
        Assert.Equal(Vault, decision.Zone);
        Assert.Equal(Vic, decision.Person);
        Assert.Equal(Duration.Zero, decision.UnlockFor);
        Assert.Null(decision.Escort);
        Assert.Same(EscortState.Empty, state);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_VisitorWithoutTheZoneOnTheirLevel_IsDeniedZoneNotApprovedBeforeAnyEscortCheck()
    {
        var state = EscortState.Empty;
        var holders = EscortHolders.With(EscortHolders.People[Vic] with { AccessLevels = [] });
        DecideAndApply(ref state, Eddie, VaultIn, T0);

        var decision = DecideAndApply(ref state, Vic, VaultIn, T0 + Second, holders);

        Assert.Equal(AccessReason.VisitorZoneNotApproved, decision.Reason);
    }

    // ---- escorted -------------------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_EscortThenVisitorWithinTheWindow_GrantsBothAndLinksTheVisitorToTheEscortsWindow()
    {
        var state = EscortState.Empty;

        var escort = DecideAndApply(ref state, Eddie, VaultIn, T0);
        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + Duration.FromSeconds(4));

        Assert.True(escort.IsGranted);
        var opened = escort.Escort!.Opened!;
        Assert.Equal((Eddie, VaultDoor, Direction.In, Vault, T0, T0 + Duration.FromSeconds(10), 3), (opened.Escort, opened.Door, opened.Direction, opened.Zone, opened.Opened, opened.Until, opened.Capacity));
        Assert.Null(escort.Escort.Used);

        Assert.True(visitor.IsGranted);
        Assert.Equal(CageUnlock, visitor.UnlockFor);
        Assert.True(visitor.Escort!.Used!.SameWindow(opened));
        Assert.Null(visitor.Escort.Opened);
        Assert.Equal(Vault, visitor.Escort.Entered);
        Assert.Equal(Eddie, state.Inside(Vault)[Vic]);
        Assert.Null(state.Inside(Vault)[Eddie]);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_VisitorAtTheLastInstantOfTheWindow_IsGranted()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);

        Assert.True(DecideAndApply(ref state, Vic, VaultIn, T0 + Duration.FromSeconds(10)).IsGranted);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_VisitorAfterTheWindow_DeniesEscortRequired()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);

        var late = DecideAndApply(ref state, Vic, VaultIn, T0 + Duration.FromSeconds(10) + Duration.FromMilliseconds(1));
        var muchLater = DecideAndApply(ref state, Vic, VaultIn, T0 + Duration.FromSeconds(11));

        Assert.Equal(AccessReason.EscortRequired, late.Reason);
        Assert.Equal(AccessReason.EscortRequired, muchLater.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_EscortAtAnotherDoor_DoesNotCount()
    {
        var state = EscortState.Empty;
        var atCage = DecideAndApply(ref state, Eddie, CageIn, T0);

        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + Second);

        Assert.NotNull(atCage.Escort!.Opened); // a window was opened, but at the cage door
        Assert.Equal(AccessReason.EscortRequired, visitor.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_EscortInTheOtherDirection_DoesNotCount()
    {
        var state = EscortState.Empty;
        var leaving = DecideAndApply(ref state, Eddie, VaultOut, T0);

        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + Second);

        Assert.Equal(Direction.Out, leaving.Escort!.Opened!.Direction); // a window into the hall, not into the vault
        Assert.Equal(AccessReason.EscortRequired, visitor.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_MoreVisitorsThanTheWindowHoldsPlaces_DeniesTheOneTooMany()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);

        var reasons = new[] { Vic, Val, Vera, Vince }
            .Select((v, i) => DecideAndApply(ref state, v, VaultIn, T0 + (Second * (i + 1))).Reason)
            .ToList();

        Assert.Equal([AccessReason.Granted, AccessReason.Granted, AccessReason.Granted, AccessReason.EscortRequired], reasons);
        Assert.Equal(0, Assert.Single(state.WindowsAt(VaultDoor, Direction.In)).Remaining);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_TheSameVisitorSwipingTwiceInOneWindow_TakesOnePlace()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);

        var first = DecideAndApply(ref state, Vic, VaultIn, T0 + Second);
        var again = DecideAndApply(ref state, Vic, VaultIn, T0 + (Second * 2));

        Assert.True(first.IsGranted);
        Assert.True(again.IsGranted);
        Assert.Equal(2, Assert.Single(state.WindowsAt(VaultDoor, Direction.In)).Remaining);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_ASecondEscortOpensASecondWindow_ForTheNextVisitors()
    {
        var state = EscortState.Empty;
        var holders = EscortHolders.With(EscortHolders.People[Nora] with { AccessLevels = [EscortLevel] });
        DecideAndApply(ref state, Eddie, VaultIn, T0, holders);
        foreach (var visitor in new[] { Vic, Val, Vera })
        {
            Assert.True(DecideAndApply(ref state, visitor, VaultIn, T0 + Second, holders).IsGranted);
        }

        DecideAndApply(ref state, Nora, VaultIn, T0 + (Second * 2), holders);
        var fourth = DecideAndApply(ref state, Vince, VaultIn, T0 + (Second * 3), holders);

        Assert.True(fourth.IsGranted);
        Assert.Equal(Nora, fourth.Escort!.Used!.Escort);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_VisitorBeforeTheEscort_IsDenied_TheWindowLooksBackwardsOnly()
    {
        var state = EscortState.Empty;

        var early = DecideAndApply(ref state, Vic, VaultIn, T0);
        DecideAndApply(ref state, Eddie, VaultIn, T0 + Second);

        Assert.Equal(AccessReason.EscortRequired, early.Reason);

        // A visitor swipe stamped before the escort's, decided after it (an offline replay, say), is still before it.
        var stampedEarlier = DecideAndApply(ref state, Val, VaultIn, T0);
        Assert.Equal(AccessReason.EscortRequired, stampedEarlier.Reason);

        // Once the escort has presented, the visitor may try again.
        Assert.True(DecideAndApply(ref state, Vic, VaultIn, T0 + (Second * 2)).IsGranted);
    }

    // ---- who needs an escort ----------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-PE-3")]
    public void Decide_EmployeeWithOnlyEscortedAccess_IsTreatedLikeAVisitor()
    {
        var state = EscortState.Empty;

        var alone = DecideAndApply(ref state, Olga, VaultIn, T0);
        DecideAndApply(ref state, Eddie, VaultIn, T0 + Second);
        var escorted = DecideAndApply(ref state, Olga, VaultIn, T0 + (Second * 2));

        Assert.Equal(AccessReason.EscortRequired, alone.Reason);
        Assert.True(escorted.IsGranted);
        Assert.Equal(Eddie, escorted.Escort!.Used!.Escort);
        Assert.Null(escorted.Escort.Opened); // an escorted person escorts nobody
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_EscortedOnlyLevelInAZoneThatIsNotEscortRequired_StillNeedsAnEscort_WithTheDefaultRule()
    {
        var state = EscortState.Empty;
        var holders = EscortHolders.With(new AccessLevel(EscortedLevel, "Cage, only under escort", [Cage7], ScheduleId.Always, EscortedOnly: true));

        var alone = DecideAndApply(ref state, Olga, CageIn, T0, holders);
        var escort = DecideAndApply(ref state, Eddie, CageIn, T0 + Second, holders);
        var escorted = DecideAndApply(ref state, Olga, CageIn, T0 + (Second * 2), holders);

        Assert.Equal(AccessReason.EscortRequired, alone.Reason);
        Assert.Equal(EscortPolicy.Default.Window, escort.Escort!.Opened!.Until - escort.Escort.Opened.Opened);
        Assert.True(escorted.IsGranted);
        Assert.Equal(Cage7, escorted.Escort!.Entered); // tracked, so that the escort's leaving is noticed
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_EscortedOnlyLevelBesideAnUnescortedOne_NeedsNoEscort()
    {
        var state = EscortState.Empty;
        var holders = EscortHolders.With(EscortHolders.People[Olga] with { AccessLevels = [EscortedLevel, PlainLevel] });

        Assert.True(DecideAndApply(ref state, Olga, VaultIn, T0, holders).IsGranted);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_UnescortedLevelOutsideItsSchedule_LeavesOnlyTheEscortedOne()
    {
        var state = EscortState.Empty;
        var officeOnly = new AccessLevel(PlainLevel, "Vault, office hours", [Vault], OfficeHours);
        var holders = EscortHolders.With(officeOnly).With(EscortHolders.People[Olga] with { AccessLevels = [EscortedLevel, PlainLevel] });

        Assert.True(DecideAndApply(ref state, Olga, VaultIn, WorkingHours, holders).IsGranted);
        Assert.Equal(AccessReason.EscortRequired, DecideAndApply(ref state, Olga, VaultIn, Saturday, holders).Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_LevelMarkedBothEscortAndEscortedOnly_CountsAsEscortedOnly()
    {
        var state = EscortState.Empty;
        var both = new AccessLevel(EscortLevel, "Both, by mistake", [HallA, Cage7, Vault], ScheduleId.Always, Escort: true, EscortedOnly: true);

        var decision = DecideAndApply(ref state, Eddie, VaultIn, T0, EscortHolders.With(both));

        Assert.Equal(AccessReason.EscortRequired, decision.Reason);
    }

    // ---- who counts as an escort ----------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_EmployeeWithoutEscortPrivilege_OpensNoWindow()
    {
        var state = EscortState.Empty;

        var nora = DecideAndApply(ref state, Nora, VaultIn, T0);
        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + Second);

        Assert.True(nora.IsGranted);
        Assert.Null(nora.Escort!.Opened);
        Assert.Equal(AccessReason.EscortRequired, visitor.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_VisitorHoldingAnEscortLevel_IsNoEscort()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);
        var walt = DecideAndApply(ref state, Walt, VaultIn, T0 + Second);

        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + (Second * 2));

        Assert.True(walt.IsGranted); // escorted by Eddie
        Assert.Null(walt.Escort!.Opened);
        Assert.Equal(Eddie, visitor.Escort!.Used!.Escort);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_EscortPrivilegeOutsideItsSchedule_OpensNoWindow()
    {
        var state = EscortState.Empty;

        var sam = DecideAndApply(ref state, Sam, VaultIn, Saturday);
        var visitor = DecideAndApply(ref state, Vic, VaultIn, Saturday + Second);

        Assert.True(sam.IsGranted); // his plain level is always active
        Assert.Null(sam.Escort!.Opened);
        Assert.Equal(AccessReason.EscortRequired, visitor.Reason);
        Assert.NotNull(DecideAndApply(ref state, Sam, VaultIn, WorkingHours).Escort!.Opened);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_DeniedEscort_OpensNoWindow()
    {
        var state = EscortState.Empty;
        var suspended = EscortHolders.With(EscortHolders.People[Eddie] with { Status = PersonStatus.Suspended });

        var eddie = DecideAndApply(ref state, Eddie, VaultIn, T0, suspended);
        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + Second);

        Assert.Equal(AccessReason.CredentialSuspended, eddie.Reason);
        Assert.Null(eddie.Escort);
        Assert.Equal(AccessReason.EscortRequired, visitor.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NIST-PS-4")]
    public void Decide_VisitorBehindAnEscortWhoseScheduledTerminationTookEffectSinceTheWindowOpened_IsDeniedEscortRequired()
    {
        var state = EscortState.Empty;
        var leaving = EscortHolders.WithDeparture(Eddie, T0 + Second);

        var eddie = DecideAndApply(ref state, Eddie, VaultIn, T0, leaving);
        var inTime = DecideAndApply(ref state, Vic, VaultIn, T0 + Duration.FromMilliseconds(500), leaving);
        var tooLate = DecideAndApply(ref state, Val, VaultIn, T0 + Second, leaving);

        Assert.NotNull(eddie.Escort!.Opened);
        Assert.True(inTime.IsGranted);
        Assert.Equal(AccessReason.EscortRequired, tooLate.Reason);
    }

    // ---- zones that are not escort-required --------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_VisitorIntoAZoneThatIsNotEscortRequired_IsDecidedAsBefore()
    {
        var state = EscortState.Empty;

        var decision = DecideAndApply(ref state, Vic, CageIn, T0);

        Assert.True(decision.IsGranted);
        Assert.Null(decision.Escort);
        Assert.Equal(new PassbackMove(Vic, Cage7, Inside: true), decision.Move);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_WithEscortRequiredOff_EveryReaderDecidesTheSameWithOrWithoutEscortState()
    {
        var topology = new SiteTopology(
            Topology.Sites.Values,
            Topology.Zones.Values.Select(z => z with { Escort = null }),
            Topology.Doors.Values,
            Topology.Readers.Values,
            Topology.Controllers.Values,
            Topology.Schedules.Values);
        var busy = EscortState.Empty.Apply(DecisionEngine.Decide(Swipe(Eddie, VaultIn, T0), Topology, EscortHolders, PassbackState.Empty, EscortState.Empty).Escort!);

        // Nobody here holds an escorted-only level: with no escort-required zone, escorting plays no part at all.
        foreach (var reader in Topology.Readers.Keys)
        {
            foreach (var person in new[] { Vic, Walt, Nora, Eddie })
            {
                var without = DecisionEngine.Decide(Swipe(person, reader, T0 + Second), topology, EscortHolders, PassbackState.Empty);
                var with = DecisionEngine.Decide(Swipe(person, reader, T0 + Second), topology, EscortHolders, PassbackState.Empty, busy);

                Assert.Equal(without.Reason, with.Reason);
                Assert.NotEqual(AccessReason.EscortRequired, with.Reason);
            }
        }

        Assert.True(DecisionEngine.Decide(Swipe(Vic, VaultIn, T0), topology, EscortHolders, PassbackState.Empty).IsGranted);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_ExistingEmployeeGrantOutsideEscortZones_ChangesNoEscortState()
    {
        // Alice holds no escort level: a swipe at the hall or the cage leaves the escort state as it was.
        Assert.Null(Decide(Swipe(HallIn)).Escort);
        Assert.Null(Decide(Swipe(CageIn)).Escort);
    }

    // ---- leaving -----------------------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_EscortLeavingWhileTheirVisitorsAreInside_NamesThemAsLeftUnescorted_Once()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);
        DecideAndApply(ref state, Vic, VaultIn, T0 + Second);
        DecideAndApply(ref state, Val, VaultIn, T0 + Second);
        DecideAndApply(ref state, Val, VaultOut, T0 + (Second * 30)); // Val leaves first: a visitor needs no escort to leave

        var leaving = DecideAndApply(ref state, Eddie, VaultOut, T0 + (Second * 40));
        DecideAndApply(ref state, Eddie, VaultIn, T0 + (Second * 50));
        var leavingAgain = DecideAndApply(ref state, Eddie, VaultOut, T0 + (Second * 60));

        Assert.True(leaving.IsGranted);
        Assert.Equal(Vault, leaving.Escort!.Left);
        Assert.Equal<PersonId>([Vic], leaving.Escort.LeftUnescorted);
        Assert.Empty(leavingAgain.Escort!.LeftUnescorted);
        Assert.Equal<PersonId>([Vic], state.Inside(Vault).Keys);
        Assert.Null(state.Inside(Vault)[Vic]);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_EscortLeavingAZoneThatIsNotEscortRequired_WithAnEscortedOnlyHolderInside_NamesThem()
    {
        var state = EscortState.Empty;
        var holders = EscortHolders.With(new AccessLevel(EscortedLevel, "Cage, only under escort", [Cage7, HallA], ScheduleId.Always, EscortedOnly: true));
        DecideAndApply(ref state, Eddie, CageIn, T0, holders);
        DecideAndApply(ref state, Olga, CageIn, T0 + Second, holders);

        var leaving = DecideAndApply(ref state, Eddie, CageOut, T0 + (Second * 60), holders);

        Assert.True(leaving.IsGranted);
        Assert.Equal(Cage7, leaving.Escort!.Left);
        Assert.Equal<PersonId>([Olga], leaving.Escort.LeftUnescorted);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_EscortLeavingAfterTheirVisitors_LeavesNobodyBehind()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);
        DecideAndApply(ref state, Vic, VaultIn, T0 + Second);
        var visitorOut = DecideAndApply(ref state, Vic, VaultOut, T0 + (Second * 30));

        var leaving = DecideAndApply(ref state, Eddie, VaultOut, T0 + (Second * 31));

        Assert.True(visitorOut.IsGranted);
        Assert.Equal(Vault, visitorOut.Escort!.Left);
        Assert.Empty(leaving.Escort!.LeftUnescorted);
        Assert.Empty(state.Inside(Vault));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_EscortWhoLeftTheZoneWithinTheirWindow_BringsNobodyIn()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);
        var escortOut = DecideAndApply(ref state, Eddie, VaultOut, T0 + Second);

        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + (Second * 2));

        Assert.True(escortOut.IsGranted);
        Assert.Equal(AccessReason.EscortRequired, visitor.Reason);
        Assert.Empty(state.WindowsAt(VaultDoor, Direction.In));
    }

    /// <summary>
    /// Eddie badges in at the vault, then walks out of hall A (which holds the vault) without going through the vault's
    /// out reader: he is no longer in the vault either, so his window into it closes with the hall's, and Vic, waiting in
    /// the hall, cannot follow him into the vault alone.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Decide_EscortWhoLeftAZoneAroundTheOneTheyBadgedInto_BringsNobodyIntoIt()
    {
        var holders = EscortHolders.With(new Person(Eddie, "Eddie", PersonKind.Employee, PersonStatus.Active, [EscortLevel, CampusAlways]));
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0, holders);
        var escortOut = DecideAndApply(ref state, Eddie, HallOut, T0 + Second, holders);

        var visitor = DecideAndApply(ref state, Vic, VaultIn, T0 + (Second * 2), holders);

        Assert.True(escortOut.IsGranted);
        Assert.Equal(AccessReason.EscortRequired, visitor.Reason);
        Assert.Empty(state.WindowsAt(VaultDoor, Direction.In));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_VisitorReenteringAfterTheEscortLeft_IsDenied()
    {
        var state = EscortState.Empty;
        DecideAndApply(ref state, Eddie, VaultIn, T0);
        DecideAndApply(ref state, Vic, VaultIn, T0 + Second);
        DecideAndApply(ref state, Vic, VaultOut, T0 + (Second * 30));
        DecideAndApply(ref state, Eddie, VaultOut, T0 + (Second * 31));

        Assert.Equal(AccessReason.EscortRequired, DecideAndApply(ref state, Vic, VaultIn, T0 + (Second * 35)).Reason);
    }
}

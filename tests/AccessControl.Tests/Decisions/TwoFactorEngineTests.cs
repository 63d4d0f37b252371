using AccessControl.Decisions;
using AccessControl.Fingerprints;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.Decisions.EscortTestPeople;
using static AccessControl.Tests.Decisions.TestSite;

namespace AccessControl.Tests.Decisions;

/// <summary>
/// Card + fingerprint at the doors of a two-factor zone: <see cref="TestSite"/> with the vault (escort-required) and
/// cage 7 made two-factor, each with a fingerprint reader facing in. The engine only says "pending"; the pipeline asks
/// the reader and decides the card again with <see cref="AccessRequest.FingerprintVerified"/>.
/// </summary>
public sealed class TwoFactorEngineTests
{
    private static readonly Duration Second = Duration.FromSeconds(1);

    private static readonly SiteTopology TwoFactor = new(
        Topology.Sites.Values,
        Topology.Zones.Values.Select(z => z.Id == Vault || z.Id == Cage7 ? z with { Fingerprint = FingerprintPolicy.Default } : z),
        Topology.Doors.Values,
        [.. Topology.Readers.Values,
            new Reader(new ReaderId("fpr-vault-in"), ReaderKind.Fingerprint, VaultDoor, Direction.In, Duration.FromSeconds(30)),
            new Reader(new ReaderId("fpr-cage-7-in"), ReaderKind.Fingerprint, CageDoor, Direction.In, Duration.FromSeconds(30))],
        Topology.Controllers.Values,
        Topology.Schedules.Values);

    private static readonly Cardholders Enrolled = EscortHolders.WithFingerprintEnrolled([Alice, Eddie, Nora, Olga]);

    private static AccessDecision Decide2(AccessRequest request, Cardholders? holders = null, FingerprintState? fingerprints = null, EscortState? escorts = null, SiteTopology? topology = null) =>
        DecisionEngine.Decide(request, topology ?? TwoFactor, holders ?? Enrolled, PassbackState.Empty, escorts ?? EscortState.Empty, fingerprints ?? FingerprintState.Empty);

    [Fact]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-PE-3")]
    public void Card_OfAnEnrolledHolder_AtATwoFactorDoor_IsPending_AndChangesNothing()
    {
        var decision = Decide2(TestSite.Swipe(CageIn));

        Assert.True(decision.IsPending);
        Assert.False(decision.IsGranted);
        Assert.Equal(AccessReason.FingerprintRequired, decision.Reason);
        Assert.Equal(Duration.Zero, decision.UnlockFor);
        Assert.Null(decision.Move);
        Assert.Null(decision.Escort);
        Assert.Equal((Alice, CageDoor, Cage7), (decision.Person!.Value, decision.Door!.Value, decision.Zone!.Value));
    }

    [Fact]
    [Trait("control", "NIST-SP800-63B-5.2.3")]
    public void Card_WithTheFingerVerifiedForSomeoneElse_IsAMismatch_AndMovesNothing()
    {
        var decision = Decide2(TestSite.Swipe(CageIn) with { FingerprintVerified = true, FingerprintOf = new PersonId("p-former-holder") });

        Assert.Equal((AccessReason.FingerprintMismatch, Alice), (decision.Reason, decision.Person!.Value));
        Assert.Null(decision.Move);
        Assert.Equal(Duration.Zero, decision.UnlockFor);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Card_WithTheFingerVerified_IsGranted_WithTheDoorsUnlockAndPassbackMove()
    {
        var decision = Decide2(TestSite.Swipe(CageIn) with { FingerprintVerified = true });

        Assert.True(decision.IsGranted);
        Assert.Equal(CageUnlock, decision.UnlockFor);
        Assert.Equal(new PassbackMove(Alice, Cage7, Inside: true), decision.Move);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Card_ThatFailsACardCheck_IsDeniedForThatReason_NotAskedForAFinger()
    {
        var revoked = Enrolled.With(AliceCredential with { Status = CredentialStatus.Revoked });
        var noCage = Enrolled.With(AlicePerson with { AccessLevels = [CampusAlways, HallOfficeHours] });

        Assert.Equal(AccessReason.CredentialRevoked, Decide2(TestSite.Swipe(CageIn), revoked).Reason);
        Assert.Equal(AccessReason.NoAccessToZone, Decide2(TestSite.Swipe(CageIn), noCage).Reason);
        Assert.Equal(AccessReason.CredentialTechnologyNotAllowed, Decide2(TestSite.Swipe(HallIn, technology: Mifare)).Reason);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Employee_WithoutTemplates_IsDeniedFingerprintNotEnrolled()
    {
        var decision = Decide2(TestSite.Swipe(CageIn), EscortHolders);

        Assert.Equal(AccessReason.FingerprintNotEnrolled, decision.Reason);
        Assert.Equal(Alice, decision.Person);
    }

    [Fact]
    public void LeavingATwoFactorZone_NeedsNoFinger()
    {
        var inside = PassbackState.Empty.Apply(new PassbackMove(Alice, Cage7, Inside: true));

        var decision = DecisionEngine.Decide(TestSite.Swipe(CageOut), TwoFactor, Enrolled, inside, EscortState.Empty, FingerprintState.Empty);

        Assert.True(decision.IsGranted);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void DoorsIntoOtherZones_AreNotTwoFactor()
    {
        Assert.True(Decide2(TestSite.Swipe(HallIn), EscortHolders).IsGranted);
    }

    [Fact]
    [Trait("control", "NIST-PE-2(3)")]
    [Trait("control", "PCI-9.3.4")]
    public void Visitor_WithoutTemplates_EntersATwoFactorZone_OnlyRightBehindAnEscort()
    {
        var state = EscortState.Empty;
        var alone = Decide2(EscortTestPeople.Swipe(Vic, CageIn, T0));
        var escortCard = Decide2(EscortTestPeople.Swipe(Eddie, CageIn, T0));
        var escortVerified = Decide2(EscortTestPeople.Swipe(Eddie, CageIn, T0) with { FingerprintVerified = true });
        state = state.Apply(escortVerified.Escort!);
        var behindTheEscort = Decide2(EscortTestPeople.Swipe(Vic, CageIn, T0 + Second), escorts: state);

        // Cage 7 is not escort-required: the visitor needs the escort only because they have no finger to give.
        Assert.False(TwoFactor.Zones[Cage7].EscortRequired);
        Assert.Equal(AccessReason.EscortRequired, alone.Reason);
        Assert.True(escortCard.IsPending);
        Assert.True(escortVerified.IsGranted);
        Assert.True(behindTheEscort.IsGranted, behindTheEscort.Reason.ToCode());
        Assert.Equal(Eddie, behindTheEscort.Escort!.Used!.Escort);
    }

    [Fact]
    [Trait("control", "NIST-PE-2(3)")]
    public void Visitor_WithoutTemplates_IsDenied_WhenTheSiteAllowsNoEscortInsteadOfAFinger()
    {
        var site = TwoFactor.Sites[Dc1] with { Fingerprints = FingerprintRules.Default with { Visitors = VisitorFingerprintFallback.Deny } };
        var strict = new SiteTopology([site], TwoFactor.Zones.Values, TwoFactor.Doors.Values, TwoFactor.Readers.Values, TwoFactor.Controllers.Values, TwoFactor.Schedules.Values);
        var state = EscortState.Empty.Apply(Decide2(EscortTestPeople.Swipe(Eddie, CageIn, T0) with { FingerprintVerified = true }, topology: strict).Escort!);

        var decision = Decide2(EscortTestPeople.Swipe(Vic, CageIn, T0 + Second), escorts: state, topology: strict);

        Assert.Equal(AccessReason.FingerprintNotEnrolled, decision.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2(3)")]
    public void EscortedOnlyEmployee_AtAnEscortRequiredTwoFactorZone_NeedsTheEscortFirst_ThenTheirFinger()
    {
        var state = EscortState.Empty;
        var alone = Decide2(EscortTestPeople.Swipe(Olga, VaultIn, T0));
        state = state.Apply(Decide2(EscortTestPeople.Swipe(Eddie, VaultIn, T0) with { FingerprintVerified = true }).Escort!);
        var behind = Decide2(EscortTestPeople.Swipe(Olga, VaultIn, T0 + Second), escorts: state);
        var verified = Decide2(EscortTestPeople.Swipe(Olga, VaultIn, T0 + (2 * Second)) with { FingerprintVerified = true }, escorts: state);

        Assert.Equal(AccessReason.EscortRequired, alone.Reason);
        Assert.True(behind.IsPending);
        Assert.True(verified.IsGranted);
    }

    [Fact]
    [Trait("control", "PCI-8.3.4")]
    public void LockedCard_IsDeniedFingerprintLockout_AtEveryEntry_ButMayLeaveAnyZone()
    {
        var rules = FingerprintRules.Default;
        var state = FingerprintState.Empty;
        for (var i = 0; i < rules.LockoutAfter; i++)
        {
            state = state.Mismatch(AliceCard, WorkingHours, rules, out _);
        }

        var inside = PassbackState.Empty.Apply(new PassbackMove(Alice, Campus, Inside: true));
        Assert.Equal(AccessReason.FingerprintLockout, Decide2(TestSite.Swipe(CageIn), fingerprints: state).Reason);
        Assert.Equal(AccessReason.FingerprintLockout, Decide2(TestSite.Swipe(HallIn), fingerprints: state).Reason);
        Assert.True(DecisionEngine.Decide(TestSite.Swipe(GateOut), TwoFactor, Enrolled, inside, EscortState.Empty, state).IsGranted);
        Assert.True(DecisionEngine.Decide(TestSite.Swipe(CageOut), TwoFactor, Enrolled, PassbackState.Empty.Apply(new PassbackMove(Alice, Cage7, true)), EscortState.Empty, state).IsGranted);
        Assert.True(Decide2(TestSite.Swipe(HallIn, WorkingHours + rules.LockoutFor), fingerprints: state).IsGranted);
    }

    [Fact]
    [Trait("control", "PCI-8.3.4")]
    public void FingerprintState_LocksOnTheNthConsecutiveMismatch_AndAMatchStartsTheCountAgain()
    {
        var rules = new FingerprintRules(3, Duration.FromMinutes(5), VisitorFingerprintFallback.EscortOnly);
        var state = FingerprintState.Empty
            .Mismatch(AliceCard, WorkingHours, rules, out var first)
            .Mismatch(AliceCard, WorkingHours, rules, out var second)
            .Matched(AliceCard)
            .Mismatch(AliceCard, WorkingHours, rules, out var afterMatch);

        Assert.Null(first);
        Assert.Null(second);
        Assert.Null(afterMatch);
        Assert.Equal(1, state.Mismatches(AliceCard));
        Assert.False(state.IsLocked(AliceCard, WorkingHours));

        state = state.Mismatch(AliceCard, WorkingHours, rules, out _).Mismatch(AliceCard, WorkingHours, rules, out var locked);

        Assert.Equal(WorkingHours + Duration.FromMinutes(5), locked);
        Assert.True(state.IsLocked(AliceCard, WorkingHours + Duration.FromMinutes(4)));
        Assert.False(state.IsLocked(AliceCard, WorkingHours + Duration.FromMinutes(5)));
        Assert.Equal(0, state.Mismatches(AliceCard));
        Assert.False(state.IsLocked("FFFF", WorkingHours));
        Assert.False(state.Prune(WorkingHours + Duration.FromMinutes(5)).IsLocked(AliceCard, WorkingHours));
    }

    [Fact]
    [Trait("control", "PCI-8.3.4")]
    public void FingerprintState_Shift_MovesEveryLocksEnd_AndKeepsTheCounts()
    {
        var rules = new FingerprintRules(2, Duration.FromMinutes(5), VisitorFingerprintFallback.EscortOnly);
        var state = FingerprintState.Empty
            .Mismatch(AliceCard, WorkingHours, rules, out _).Mismatch(AliceCard, WorkingHours, rules, out _)
            .Mismatch("FFFF", WorkingHours, rules, out _);

        var ahead = state.Shift(Duration.FromMinutes(10));
        var back = state.Shift(Duration.FromMinutes(-10));

        Assert.Equal(WorkingHours + Duration.FromMinutes(15), ahead.LockedUntil(AliceCard, WorkingHours + Duration.FromMinutes(10)));
        Assert.False(back.IsLocked(AliceCard, WorkingHours - Duration.FromMinutes(5)));
        Assert.True(back.IsLocked(AliceCard, WorkingHours - Duration.FromMinutes(6)));
        Assert.Equal(1, ahead.Mismatches("FFFF"));
        Assert.Same(state, state.Shift(Duration.Zero));
    }
}

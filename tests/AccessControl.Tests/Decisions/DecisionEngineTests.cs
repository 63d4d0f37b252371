using AccessControl.Decisions;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.Decisions.TestSite;

namespace AccessControl.Tests.Decisions;

public class DecisionEngineTests
{
    // ---- granted ------------------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_AuthorizedCardInsideSchedule_GrantsWithDoorUnlockTimeAndPassbackMove()
    {
        var decision = Decide(Swipe(HallIn));

        Assert.Equal(AccessReason.Granted, decision.Reason);
        Assert.True(decision.IsGranted);
        Assert.Equal(Dc1, decision.Site);
        Assert.Equal(HallDoor, decision.Door);
        Assert.Equal(HallA, decision.Zone);
        Assert.Equal(Alice, decision.Person);
        Assert.Equal(HallUnlock, decision.UnlockFor);
        Assert.Equal(new PassbackMove(Alice, HallA, Inside: true), decision.Move);
        Assert.False(decision.PassbackViolation);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_SameInputsTwice_GivesEqualDecisions()
    {
        Assert.Equal(Decide(Swipe(HallIn)), Decide(Swipe(HallIn)));
    }

    // ---- unknown_reader -----------------------------------------------------------------------------

    [Theory]
    [Trait("control", "NIST-PE-3")]
    [InlineData("rdr-never-configured")]
    [InlineData("fpr-hall-a-in")] // a fingerprint reader cannot present a card
    [InlineData("rdr-dangling")] // bound to a door that is not in the topology
    [InlineData("rdr-dc9")] // its door belongs to a site that is not loaded
    public void Decide_ReaderNotUsableForCards_DeniesUnknownReaderWithoutContext(string readerId)
    {
        var decision = Decide(Swipe(new ReaderId(readerId)));

        Assert.Equal(AccessReason.UnknownReader, decision.Reason);
        Assert.False(decision.IsGranted);
        Assert.Null(decision.Site);
        Assert.Null(decision.Door);
        Assert.Null(decision.Person);
        Assert.Equal(Duration.Zero, decision.UnlockFor);
        Assert.Null(decision.Move);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_FingerprintReaderKind_IsTheOnlyDifferenceFromAGrant()
    {
        // Same door, same direction, same card: only the reader kind differs.
        Assert.True(Decide(Swipe(HallIn)).IsGranted);
        Assert.Equal(AccessReason.UnknownReader, Decide(Swipe(HallFingerprint)).Reason);
    }

    // ---- unknown_credential -------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.2")]
    public void Decide_CardNotEnrolled_DeniesUnknownCredentialWithDoorContext()
    {
        var decision = Decide(Swipe(HallIn, card: "0BADC0DE"));

        Assert.Equal(AccessReason.UnknownCredential, decision.Reason);
        Assert.Equal(Dc1, decision.Site);
        Assert.Equal(HallDoor, decision.Door);
        Assert.Equal(HallA, decision.Zone);
        Assert.Null(decision.Person);
        Assert.Equal(Duration.Zero, decision.UnlockFor);
        Assert.Null(decision.Move);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.2")]
    public void Decide_CredentialOfPersonNotOnFile_DeniesUnknownCredential()
    {
        var orphan = Holders.With(new Credential("0A0B0C0D", Desfire, new PersonId("p-deleted"), null, null, CredentialStatus.Active));

        var decision = Decide(Swipe(HallIn, card: "0A0B0C0D"), orphan);

        Assert.Equal(AccessReason.UnknownCredential, decision.Reason);
        Assert.Null(decision.Person);
    }

    // ---- credential_revoked / credential_suspended ---------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.2")]
    public void Decide_RevokedCredential_DeniesCredentialRevoked()
    {
        var decision = Decide(Swipe(HallIn), WithAliceCredential(c => c with { Status = CredentialStatus.Revoked }));

        Assert.Equal(AccessReason.CredentialRevoked, decision.Reason);
        Assert.Equal(Alice, decision.Person);
        Assert.Equal(HallDoor, decision.Door);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.2")]
    public void Decide_TerminatedPersonWithActiveCard_DeniesCredentialRevoked()
    {
        var decision = Decide(Swipe(HallIn), WithAlice(p => p with { Status = PersonStatus.Terminated }));

        Assert.Equal(AccessReason.CredentialRevoked, decision.Reason);
        Assert.Equal(Alice, decision.Person);
    }

    [Fact]
    [Trait("control", "NIST-PS-5")]
    public void Decide_FromTheInstantAScheduledTransferTakesEffect_DecidesWithItsLevels_ThoughNoJobHasAppliedIt()
    {
        var moves = WorkingHours + Duration.FromMinutes(30);
        var holders = Holders.WithTransfer(Alice, new ScheduledTransfer(moves, [CampusAlways]));

        var before = Decide(Swipe(HallIn, moves - Duration.FromMilliseconds(1)), holders);
        var at = Decide(Swipe(HallIn, moves), holders);
        var campus = Decide(Swipe(GateIn, moves), holders);
        var cleared = Decide(Swipe(HallIn, moves), holders.WithTransfer(Alice, null));

        Assert.Equal(AccessReason.Granted, before.Reason);
        Assert.Equal((AccessReason.NoAccessToZone, Alice), (at.Reason, at.Person));
        Assert.Equal(AccessReason.Granted, campus.Reason);
        Assert.Equal(AccessReason.Granted, cleared.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.2")]
    public void Decide_FromTheInstantAScheduledTerminationTakesEffect_DeniesCredentialRevoked_ThoughNoJobHasAppliedIt()
    {
        var leaves = WorkingHours + Duration.FromMinutes(30);
        var holders = Holders.WithDeparture(Alice, leaves);

        var before = Decide(Swipe(HallIn, leaves - Duration.FromMilliseconds(1)), holders);
        var at = Decide(Swipe(HallIn, leaves), holders);
        var after = Decide(Swipe(HallIn, leaves + Duration.FromSeconds(59)), holders);
        var cleared = Decide(Swipe(HallIn, leaves), holders.WithDeparture(Alice, null));

        Assert.Equal(AccessReason.Granted, before.Reason);
        Assert.Equal((AccessReason.CredentialRevoked, Alice), (at.Reason, at.Person));
        Assert.Equal(AccessReason.CredentialRevoked, after.Reason);
        Assert.Equal(AccessReason.Granted, cleared.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.2")]
    public void Decide_SuspendedCredential_DeniesCredentialSuspended()
    {
        var decision = Decide(Swipe(HallIn), WithAliceCredential(c => c with { Status = CredentialStatus.Suspended }));

        Assert.Equal(AccessReason.CredentialSuspended, decision.Reason);
        Assert.Equal(Alice, decision.Person);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.2")]
    public void Decide_SuspendedPersonWithActiveCard_DeniesCredentialSuspended()
    {
        var decision = Decide(Swipe(HallIn), WithAlice(p => p with { Status = PersonStatus.Suspended }));

        Assert.Equal(AccessReason.CredentialSuspended, decision.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_RevokedAndSuspended_NamesRevokedFirst()
    {
        var cardholders = WithAliceCredential(c => c with { Status = CredentialStatus.Revoked })
            .With(AlicePerson with { Status = PersonStatus.Suspended });

        Assert.Equal(AccessReason.CredentialRevoked, Decide(Swipe(HallIn), cardholders).Reason);
    }

    // ---- validity window [ValidFrom, ValidUntil) ---------------------------------------------------

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Decide_BeforeValidFrom_DeniesNotYetValid()
    {
        var cardholders = WithAliceCredential(c => c with { ValidFrom = WorkingHours });

        var decision = Decide(Swipe(HallIn, WorkingHours - Duration.Epsilon), cardholders);

        Assert.Equal(AccessReason.CredentialNotYetValid, decision.Reason);
        Assert.Equal(Alice, decision.Person);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Decide_ExactlyAtValidFrom_Grants()
    {
        var cardholders = WithAliceCredential(c => c with { ValidFrom = WorkingHours });

        Assert.Equal(AccessReason.Granted, Decide(Swipe(HallIn, WorkingHours), cardholders).Reason);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Decide_ExactlyAtValidUntil_DeniesExpired()
    {
        var cardholders = WithAliceCredential(c => c with { ValidUntil = WorkingHours });

        var decision = Decide(Swipe(HallIn, WorkingHours), cardholders);

        Assert.Equal(AccessReason.CredentialExpired, decision.Reason);
        Assert.Equal(Alice, decision.Person);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Decide_JustBeforeValidUntil_Grants()
    {
        var cardholders = WithAliceCredential(c => c with { ValidUntil = WorkingHours });

        Assert.Equal(AccessReason.Granted, Decide(Swipe(HallIn, WorkingHours - Duration.Epsilon), cardholders).Reason);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Decide_LongAfterValidUntil_DeniesExpired()
    {
        var cardholders = WithAliceCredential(c => c with { ValidFrom = WorkingHours - Duration.FromDays(30), ValidUntil = WorkingHours - Duration.FromDays(1) });

        Assert.Equal(AccessReason.CredentialExpired, Decide(Swipe(HallIn), cardholders).Reason);
    }

    // ---- credential_technology_not_allowed ----------------------------------------------------------

    [Fact]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-PE-3")]
    public void Decide_TechnologyNotOnZoneAllowList_DeniesTechnologyNotAllowed()
    {
        // Hall A accepts DESFire EV3 only; the card is an enrolled, honestly reported MIFARE Classic.
        var cardholders = WithAliceCredential(c => c with { Technology = Mifare });

        var decision = Decide(Swipe(HallIn, technology: Mifare), cardholders);

        Assert.Equal(AccessReason.CredentialTechnologyNotAllowed, decision.Reason);
        Assert.Equal(Alice, decision.Person);
        Assert.Equal(HallA, decision.Zone);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Decide_ZoneWithoutAllowList_AcceptsAnyEnrolledTechnology()
    {
        var cardholders = WithAliceCredential(c => c with { Technology = Mifare });

        Assert.Equal(AccessReason.Granted, Decide(Swipe(GateIn, technology: Mifare), cardholders).Reason);
    }

    [Theory]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-PE-3")]
    [InlineData("rdr-gate-in")] // campus: any technology allowed, yet the reported one must match
    [InlineData("rdr-hall-a-in")]
    public void Decide_ReaderReportsOtherTechnologyThanEnrolled_DeniesTechnologyNotAllowed(string readerId)
    {
        // A cloned UID on a cheaper card: the UID matches, the technology the reader saw does not.
        var decision = Decide(Swipe(new ReaderId(readerId), technology: Mifare));

        Assert.Equal(AccessReason.CredentialTechnologyNotAllowed, decision.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_DestinationZoneMissingFromTopology_FailsClosed()
    {
        var decision = Decide(Swipe(ReaderIntoUnknownZone));

        // A misconfigured door must never open; which deny reason it reports is secondary.
        Assert.False(decision.IsGranted);
        Assert.Equal(Duration.Zero, decision.UnlockFor);
    }

    // ---- no_access_to_zone / outside_schedule -------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_NoLevelContainsTheZone_DeniesNoAccessToZone()
    {
        var cardholders = WithAlice(p => p with { AccessLevels = [CampusAlways] });

        var decision = Decide(Swipe(HallIn), cardholders);

        Assert.Equal(AccessReason.NoAccessToZone, decision.Reason);
        Assert.Equal(Alice, decision.Person);
        Assert.Equal(HallA, decision.Zone);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_LevelRemovedFromCardholders_DeniesNoAccessToZone()
    {
        var cardholders = Holders.WithoutAccessLevel(HallOfficeHours);

        Assert.Equal(AccessReason.NoAccessToZone, Decide(Swipe(HallIn), cardholders).Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_LevelOfParentZoneOnly_DoesNotGrantTheChildZone()
    {
        // Holding the hall does not imply the cage inside it.
        var cardholders = WithAlice(p => p with { AccessLevels = [CampusAlways, HallOfficeHours] });

        Assert.Equal(AccessReason.NoAccessToZone, Decide(Swipe(CageIn), cardholders).Reason);
    }

    [Theory]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-PE-3")]
    [InlineData(2026, 11, 28, 10, 0)] // Saturday
    [InlineData(2026, 11, 25, 6, 59)] // Wednesday, a minute before 07:00
    [InlineData(2026, 11, 25, 19, 0)] // Wednesday, end of the range is exclusive
    public void Decide_ZoneHeldButScheduleInactive_DeniesOutsideSchedule(int year, int month, int day, int hour, int minute)
    {
        var at = Berlin.AtStrictly(new LocalDateTime(year, month, day, hour, minute)).ToInstant();

        var decision = Decide(Swipe(HallIn, at));

        Assert.Equal(AccessReason.OutsideSchedule, decision.Reason);
        Assert.Equal(Alice, decision.Person);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_ScheduleReadInSiteTimeZone_GrantsAt0700LocalNotAt0700Utc()
    {
        // 07:00 UTC is 08:00 in Berlin in winter; 06:30 UTC is 07:30 local.
        Assert.True(Decide(Swipe(HallIn, Instant.FromUtc(2026, 11, 25, 6, 30))).IsGranted);
        Assert.Equal(AccessReason.OutsideSchedule, Decide(Swipe(HallIn, Instant.FromUtc(2026, 11, 25, 18, 30))).Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_LevelWithUnknownSchedule_FailsClosedOutsideSchedule()
    {
        var ghost = new AccessLevel(new AccessLevelId("hall-a-ghost"), "Hall A, schedule deleted", [HallA], new ScheduleId("deleted-schedule"));
        var cardholders = Holders.With(ghost).With(AlicePerson with { AccessLevels = [ghost.Id] });

        var decision = Decide(Swipe(HallIn), cardholders);

        Assert.Equal(AccessReason.OutsideSchedule, decision.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Decide_OneActiveLevelAmongInactiveOnes_Grants()
    {
        var weekend = new AccessLevel(new AccessLevelId("hall-a-always"), "Hall A, always", [HallA], ScheduleId.Always);
        var cardholders = Holders.With(weekend).With(AlicePerson with { AccessLevels = [HallOfficeHours, weekend.Id] });

        Assert.True(Decide(Swipe(HallIn, Saturday), cardholders).IsGranted);
    }

    // ---- anti-passback ------------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_HardPassbackEnteringTwice_DeniesSecondEntry()
    {
        var first = Decide(Swipe(HallIn));
        Assert.True(first.IsGranted);
        var passback = PassbackState.Empty.Apply(first.Move!.Value);

        var second = Decide(Swipe(HallIn), passback: passback);

        Assert.Equal(AccessReason.AntiPassback, second.Reason);
        Assert.Equal(Alice, second.Person);
        Assert.Null(second.Move);
        Assert.Equal(Duration.Zero, second.UnlockFor);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_HardPassbackLeavingWhenKnownOutside_Denies()
    {
        var passback = PassbackState.Empty.Apply(new PassbackMove(Alice, HallA, Inside: false));

        var decision = Decide(Swipe(HallOut), passback: passback);

        Assert.Equal(AccessReason.AntiPassback, decision.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_HardPassbackEnterThenLeaveThenEnter_AllGrantedAndMovesAlternate()
    {
        var passback = PassbackState.Empty;
        var moves = new List<bool>();
        foreach (var reader in new[] { HallIn, HallOut, HallIn })
        {
            var decision = Decide(Swipe(reader), passback: passback);
            Assert.True(decision.IsGranted, $"{reader}: {decision.Reason}");
            Assert.False(decision.PassbackViolation);
            passback = passback.Apply(decision.Move!.Value);
            moves.Add(decision.Move.Value.Inside);
        }

        Assert.Equal([true, false, true], moves);
        Assert.True(passback.IsInside(Alice, HallA));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_HardPassbackLeavingNeverSeen_GrantsAndRecordsOutside()
    {
        // First day of tracking: nobody is known inside yet, so leaving must not lock people in.
        var decision = Decide(Swipe(HallOut));

        Assert.True(decision.IsGranted);
        Assert.False(decision.PassbackViolation);
        Assert.Equal(new PassbackMove(Alice, HallA, Inside: false), decision.Move);
        Assert.Equal(Campus, decision.Zone);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_SoftPassbackEnteringTwice_GrantsFlaggedAsViolation()
    {
        var passback = PassbackState.Empty.Apply(new PassbackMove(Alice, Cage7, Inside: true));

        var decision = Decide(Swipe(CageIn), passback: passback);

        Assert.Equal(AccessReason.Granted, decision.Reason);
        Assert.True(decision.PassbackViolation);
        Assert.Equal(new PassbackMove(Alice, Cage7, Inside: true), decision.Move);
        Assert.Equal(CageUnlock, decision.UnlockFor);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_SoftPassbackLeavingWhenKnownOutside_GrantsFlaggedAsViolation()
    {
        var passback = PassbackState.Empty.Apply(new PassbackMove(Alice, Cage7, Inside: false));

        var decision = Decide(Swipe(CageOut), passback: passback);

        Assert.True(decision.IsGranted);
        Assert.True(decision.PassbackViolation);
        Assert.Equal(new PassbackMove(Alice, Cage7, Inside: false), decision.Move);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_PassbackOff_GrantsWithoutMoveEvenWhenEnteringTwice()
    {
        var passback = PassbackState.Empty.Apply(new PassbackMove(Alice, Campus, Inside: true));

        var decision = Decide(Swipe(GateIn), passback: passback);

        Assert.True(decision.IsGranted);
        Assert.Null(decision.Move);
        Assert.False(decision.PassbackViolation);
        Assert.Equal(GateUnlock, decision.UnlockFor);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_PassbackOfOtherPersonOrZone_DoesNotAffectThisOne()
    {
        var passback = PassbackState.Empty
            .Apply(new PassbackMove(new PersonId("p-bob"), HallA, Inside: true))
            .Apply(new PassbackMove(Alice, Cage7, Inside: true));

        Assert.True(Decide(Swipe(HallIn), passback: passback).IsGranted);
    }

    // ---- leaving the site ---------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_ExitToOutsideSite_GrantedWithoutAnyZoneRights()
    {
        var cardholders = WithAlice(p => p with { AccessLevels = [] });
        Assert.Equal(AccessReason.NoAccessToZone, Decide(Swipe(GateIn), cardholders).Reason);

        var decision = Decide(Swipe(GateOut, Saturday), cardholders);

        Assert.Equal(AccessReason.Granted, decision.Reason);
        Assert.Null(decision.Zone);
        Assert.Equal(Gate, decision.Door);
        Assert.Equal(GateUnlock, decision.UnlockFor);
        Assert.Null(decision.Move);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Decide_ExitFromInnerZone_NeedsRightsToTheOuterZone()
    {
        // Leaving the cage goes into hall A, which is only open in office hours.
        Assert.True(Decide(Swipe(CageOut, WorkingHours)).IsGranted);
        Assert.Equal(AccessReason.OutsideSchedule, Decide(Swipe(CageOut, Saturday)).Reason);
    }

    // ---- the closed set -----------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.4")]
    public void Decide_EveryEngineReasonIsReachable_AndNeverLogFailureOrMalformedEvent()
    {
        var revoked = WithAliceCredential(c => c with { Status = CredentialStatus.Revoked });
        var suspended = WithAliceCredential(c => c with { Status = CredentialStatus.Suspended });
        var future = WithAliceCredential(c => c with { ValidFrom = WorkingHours + Duration.FromDays(1) });
        var past = WithAliceCredential(c => c with { ValidUntil = WorkingHours });
        var noHall = WithAlice(p => p with { AccessLevels = [CampusAlways] });
        var insideHall = PassbackState.Empty.Apply(new PassbackMove(Alice, HallA, Inside: true));
        var visitor = WithAlice(p => p with { Kind = PersonKind.Visitor }).With(new AccessLevel(CageAlways, "Cage 7 and the vault", [Cage7, Vault], ScheduleId.Always));
        var twoFactor = new SiteTopology(Topology.Sites.Values, Topology.Zones.Values.Select(z => z.Id == Cage7 ? z with { Fingerprint = global::AccessControl.Fingerprints.FingerprintPolicy.Default } : z),
            Topology.Doors.Values, Topology.Readers.Values, Topology.Controllers.Values, Topology.Schedules.Values);
        var locked = FingerprintState.Empty.Mismatch(AliceCard, WorkingHours, global::AccessControl.Fingerprints.FingerprintRules.Default with { LockoutAfter = 1 }, out _);

        var decisions = new[]
        {
            Decide(Swipe(HallIn)),
            Decide(Swipe(new ReaderId("nope"))),
            Decide(Swipe(HallIn, card: "FFFF")),
            Decide(Swipe(HallIn), revoked),
            Decide(Swipe(HallIn), suspended),
            Decide(Swipe(HallIn), future),
            Decide(Swipe(HallIn), past),
            Decide(Swipe(HallIn, technology: Mifare)),
            Decide(Swipe(HallIn), noHall),
            Decide(Swipe(HallIn, Saturday)),
            Decide(Swipe(HallIn), passback: insideHall),
            Decide(Swipe(VaultIn), visitor),
            Decide(Swipe(HallIn), WithAlice(p => p with { Kind = PersonKind.Visitor }).With(revoked.Credentials.Values.Single(c => c.Person == Alice))),
            Decide(Swipe(HallIn), WithAlice(p => p with { Kind = PersonKind.Visitor }).With(past.Credentials.Values.Single(c => c.Person == Alice))),
            Decide(Swipe(HallIn), WithAlice(p => p with { Kind = PersonKind.Visitor, AccessLevels = [CampusAlways] })),
            Decide(Swipe(HallIn, card: "FFFF"), Holders.With(new VisitorRules(["FFFF"], []))),
            Decide(Swipe(HallIn), Holders.With(new VisitorRules([], [Alice]))),
            DecisionEngine.Decide(Swipe(CageIn), twoFactor, Holders.WithFingerprintEnrolled([Alice]), PassbackState.Empty, EscortState.Empty, FingerprintState.Empty),
            DecisionEngine.Decide(Swipe(CageIn), twoFactor, Holders, PassbackState.Empty, EscortState.Empty, FingerprintState.Empty),
            DecisionEngine.Decide(Swipe(HallIn), Topology, Holders, PassbackState.Empty, EscortState.Empty, locked),
        };

        // The pipeline's own reasons: it fails closed (log_failure), cannot read a payload (malformed_event), or hears
        // the fingerprint reader's answer (mismatch, timeout, a finger nobody asked for).
        var reached = decisions.Select(d => d.Reason).ToHashSet();
        var expected = AccessReasonCodes.All.Except([AccessReason.MalformedEvent, AccessReason.LogFailure,
            AccessReason.FingerprintMismatch, AccessReason.FingerprintTimeout, AccessReason.FingerprintUnexpected, AccessReason.ReplaySuspected]).ToHashSet();
        Assert.Equal(expected.Order(), reached.Order());
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void FailClosed_OnAGrant_DeniesLogFailureAndDropsUnlockAndMove()
    {
        var granted = Decide(Swipe(HallIn));

        var failed = granted.FailClosed();

        Assert.Equal(AccessReason.LogFailure, failed.Reason);
        Assert.False(failed.IsGranted);
        Assert.Equal(Duration.Zero, failed.UnlockFor);
        Assert.Null(failed.Move);
        Assert.Equal(granted.Person, failed.Person);
        Assert.Equal(granted.Door, failed.Door);
        Assert.Equal(granted.Zone, failed.Zone);
    }

    [Fact]
    public void Deny_WithGrantedReason_Throws()
    {
        Assert.Throws<ArgumentException>(() => AccessDecision.Deny(AccessReason.Granted));
    }

    [Fact]
    public void SiteTopology_AtAnySite_HasTheBuiltInAlwaysSchedule()
    {
        Assert.Same(AccessControl.Schedules.Schedule.Always, Topology.ScheduleOf(Dc1, ScheduleId.Always));
        Assert.Same(AccessControl.Schedules.Schedule.Always, SiteTopology.Empty.ScheduleOf(new SiteId("anywhere"), ScheduleId.Always));
    }
}

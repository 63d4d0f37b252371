using AccessControl.Decisions;
using AccessControl.Fingerprints;
using AccessControl.People;
using AccessControl.Sites;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using NodaTime;

namespace AccessControl.Tests.Decisions;

/// <summary>
/// Properties of the decision engine over generated requests and states, drawn from small pools of the demo site's ids
/// so that hits (known readers, known cards, passback and escort state) are frequent.
/// </summary>
[Trait("control", "NIST-PE-3")]
public class DecisionEngineProperties
{
    private static readonly Lazy<(SiteTopology Topology, Cardholders Cardholders)> Demo = new(() =>
    {
        var site = AccessControl.SiteFiles.SiteFileLoader.Load(AccessControl.Tests.EndToEnd.EdgeHarness.DemoSiteFile).Site!;
        return (site.Topology, Cardholders.Create(site.People, site.Credentials, site.AccessLevels));
    });

    private static readonly AccessReason[] NeverFromTheEngine =
        [AccessReason.LogFailure, AccessReason.MalformedEvent, AccessReason.FingerprintMismatch, AccessReason.FingerprintTimeout,
         AccessReason.FingerprintUnexpected, AccessReason.ReplaySuspected];

    public sealed record Case(AccessRequest Request, PassbackState Passback, EscortState Escorts, FingerprintState Fingerprints);

    public static class Generators
    {
        public static Arbitrary<Case> Cases()
        {
            var (topology, cardholders) = Demo.Value;
            string[] readers = [.. topology.Readers.Keys.Select(r => r.Value), "rdr-unknown", ""];
            string[] cards = [.. cardholders.Credentials.Keys, "04FFFFFFFFFF01", "00"];
            string[] technologies = ["desfire-ev3", "desfire-ev2", "mifare-classic", "iclass"];
            var start = Instant.FromUtc(2026, 11, 30, 0, 0);
            var instant = Gen.Choose(0, 3 * 24 * 60).Select(m => start + Duration.FromMinutes(m));
            var request =
                from reader in Gen.Elements(readers)
                from card in Gen.Elements(cards)
                from technology in Gen.Elements(technologies)
                from at in instant
                from verified in Gen.Elements(false, true)
                select new AccessRequest(new ReaderId(reader), card, technology, at) { FingerprintVerified = verified };

            // States are built by replaying earlier generated decisions through the engine: reachable states, not arbitrary ones.
            var history = Gen.ListOf(request).Select(list => list.Take(12).ToList());
            var gen =
                from earlier in history
                from now in request
                from mismatches in Gen.ListOf(Gen.Elements(cards)).Select(l => l.Take(4).ToList())
                select Build(earlier, now, mismatches);
            return gen.ToArbitrary();
        }

        private static Case Build(List<AccessRequest> earlier, AccessRequest now, List<string> mismatches)
        {
            var (topology, cardholders) = Demo.Value;
            var passback = PassbackState.Empty;
            var escorts = EscortState.Empty;
            var fingerprints = FingerprintState.Empty;
            foreach (var card in mismatches)
            {
                fingerprints = fingerprints.Mismatch(card, now.At, FingerprintRules.Default, out _);
            }

            foreach (var r in earlier.OrderBy(r => r.At))
            {
                var d = DecisionEngine.Decide(r, topology, cardholders, passback, escorts, fingerprints);
                passback = passback.Apply(d);

                if (d.Escort is { } escort)
                {
                    escorts = escorts.Apply(escort, null);
                }
            }

            return new Case(now, passback, escorts, fingerprints);
        }
    }

    private static AccessDecision Decide(Case c, Cardholders? cardholders = null) =>
        DecisionEngine.Decide(c.Request, Demo.Value.Topology, cardholders ?? Demo.Value.Cardholders, c.Passback, c.Escorts, c.Fingerprints);

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 500)]
    public bool Decide_NeverThrows_AndGivesAReasonTheEngineMayGive(Case c)
    {
        var decision = Decide(c);
        return AccessReasonCodes.All.Contains(decision.Reason) && !NeverFromTheEngine.Contains(decision.Reason);
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 500)]
    public void Decide_Grant_ImpliesACardReaderAnActiveCredentialAndPerson_AndTheDoorsUnlockTime(Case c)
    {
        var decision = Decide(c);
        if (!decision.IsGranted)
        {
            return;
        }

        var (topology, cardholders) = Demo.Value;
        Assert.True(topology.Readers.TryGetValue(c.Request.Reader, out var reader));
        Assert.Equal(ReaderKind.Card, reader.Kind);
        var credential = cardholders.Credentials[CardUid.Normalize(c.Request.CardUid)!];
        Assert.Equal(CredentialStatus.Active, credential.Status);
        Assert.Equal(PersonStatus.Active, cardholders.People[credential.Person].Status);
        Assert.Equal(topology.Doors[reader.Door].UnlockFor, decision.UnlockFor);
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 500)]
    public void Decide_Pending_ImpliesATwoFactorZoneBehindAnInReader(Case c)
    {
        var decision = Decide(c);
        if (!decision.IsPending)
        {
            return;
        }

        var topology = Demo.Value.Topology;
        var reader = topology.Readers[c.Request.Reader];
        Assert.Equal(Direction.In, reader.Direction);
        var zone = topology.Zones[topology.Doors[reader.Door].Destination(reader.Direction)!.Value];
        Assert.NotNull(zone.Fingerprint);
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 300)]
    public void Decide_RevokingTheCredential_TurnsAGrantIntoADeny(Case c)
    {
        var decision = Decide(c);
        if (!decision.IsGranted)
        {
            return;
        }

        var cardholders = Demo.Value.Cardholders;
        var card = CardUid.Normalize(c.Request.CardUid)!;
        var revoked = cardholders.With(cardholders.Credentials[card] with { Status = CredentialStatus.Revoked });
        var after = Decide(c, revoked);
        Assert.False(after.IsGranted);
        Assert.False(after.IsPending);
    }

    [Property(Arbitrary = [typeof(Generators)], MaxTest = 300)]
    public bool Decide_IsPure_SameInputsSameOutput(Case c) => Decide(c) == Decide(c);
}

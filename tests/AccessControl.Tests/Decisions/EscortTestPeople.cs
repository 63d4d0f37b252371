using AccessControl.Decisions;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.Decisions.TestSite;

namespace AccessControl.Tests.Decisions;

/// <summary>
/// The people of the escort tests, on <see cref="TestSite"/>'s vault (escort-required: 10 s, 3 people per escort):
/// Eddie may escort into the hall, the cage and the vault; Vic, Val, Vera and Vince are visitors with the vault on
/// their level; Olga holds the vault only escorted; Nora has plain access to the vault; Walt is a visitor holding an
/// escort level; Sam may escort only in office hours but enters the vault at any time.
/// </summary>
internal static class EscortTestPeople
{
    public static readonly AccessLevelId EscortLevel = new("vault-escorts");
    public static readonly AccessLevelId VisitorLevel = new("vault-visitors");
    public static readonly AccessLevelId EscortedLevel = new("vault-escorted-only");
    public static readonly AccessLevelId PlainLevel = new("vault-plain");
    public static readonly AccessLevelId OfficeEscortLevel = new("vault-escorts-office-hours");

    public static readonly PersonId Eddie = new("p-eddie");
    public static readonly PersonId Vic = new("v-vic");
    public static readonly PersonId Val = new("v-val");
    public static readonly PersonId Vera = new("v-vera");
    public static readonly PersonId Vince = new("v-vince");
    public static readonly PersonId Olga = new("p-olga");
    public static readonly PersonId Nora = new("p-nora");
    public static readonly PersonId Walt = new("v-walt");
    public static readonly PersonId Sam = new("p-sam");

    public static readonly Instant T0 = WorkingHours;

    public static Cardholders EscortHolders { get; } = Build();

    /// <summary>The card of a person: their id's characters as hex, so every person has a distinct, readable card.</summary>
    public static string CardOf(PersonId person) => Convert.ToHexString(System.Text.Encoding.ASCII.GetBytes(person.Value));

    public static AccessRequest Swipe(PersonId person, ReaderId reader, Instant at) => new(reader, CardOf(person), Desfire, at);

    /// <summary>Decides with these people and, like the pipeline, applies a grant's escort outcome to the state.</summary>
    public static AccessDecision DecideAndApply(ref EscortState state, PersonId person, ReaderId reader, Instant at, Cardholders? holders = null)
    {
        var decision = DecisionEngine.Decide(Swipe(person, reader, at), Topology, holders ?? EscortHolders, PassbackState.Empty, state);
        if (decision.Escort is { } outcome)
        {
            state = state.Apply(outcome);
        }

        return decision;
    }

    private static Cardholders Build()
    {
        var holders = TestSite.Holders
            .With(new AccessLevel(EscortLevel, "Escorts: hall, cage and vault", [HallA, Cage7, Vault], ScheduleId.Always, Escort: true))
            .With(new AccessLevel(VisitorLevel, "Visitors: hall, cage and vault", [HallA, Cage7, Vault], ScheduleId.Always))
            .With(new AccessLevel(EscortedLevel, "Vault, only under escort", [Vault], ScheduleId.Always, EscortedOnly: true))
            .With(new AccessLevel(PlainLevel, "Vault, unescorted", [Vault], ScheduleId.Always))
            .With(new AccessLevel(OfficeEscortLevel, "Escorts in office hours: vault", [Vault], OfficeHours, Escort: true));

        (PersonId Id, PersonKind Kind, AccessLevelId[] Levels)[] people =
        [
            (Eddie, PersonKind.Employee, [EscortLevel]),
            (Vic, PersonKind.Visitor, [VisitorLevel]),
            (Val, PersonKind.Visitor, [VisitorLevel]),
            (Vera, PersonKind.Visitor, [VisitorLevel]),
            (Vince, PersonKind.Visitor, [VisitorLevel]),
            (Olga, PersonKind.Employee, [EscortedLevel]),
            (Nora, PersonKind.Employee, [PlainLevel]),
            (Walt, PersonKind.Visitor, [EscortLevel]),
            (Sam, PersonKind.Employee, [PlainLevel, OfficeEscortLevel]),
        ];

        foreach (var (id, kind, levels) in people)
        {
            holders = holders
                .With(new Person(id, id.Value, kind, PersonStatus.Active, [.. levels]))
                .With(new Credential(CardOf(id), Desfire, id, null, null, CredentialStatus.Active));
        }

        return holders;
    }
}

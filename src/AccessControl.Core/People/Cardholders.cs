using System.Collections.Immutable;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.People;

/// <summary>
/// People, their credentials and the access levels they can hold. Immutable: every admin change produces
/// a new snapshot (cheap, the dictionaries share structure), so the decision engine reads a consistent view
/// without locks.
/// </summary>
public sealed class Cardholders
{
    public static Cardholders Empty { get; } = new(
        ImmutableDictionary<PersonId, Person>.Empty,
        ImmutableDictionary<string, Credential>.Empty,
        ImmutableDictionary<AccessLevelId, AccessLevel>.Empty,
        ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>>.Empty,
        VisitorRules.None,
        [],
        ImmutableDictionary<PersonId, Instant>.Empty,
        ImmutableDictionary<PersonId, ScheduledTransfer>.Empty);

    private Cardholders(
        ImmutableDictionary<PersonId, Person> people,
        ImmutableDictionary<string, Credential> credentials,
        ImmutableDictionary<AccessLevelId, AccessLevel> accessLevels,
        ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>> designatedEscorts,
        VisitorRules visitorRules,
        ImmutableHashSet<PersonId> fingerprintEnrolled,
        ImmutableDictionary<PersonId, Instant> departures,
        ImmutableDictionary<PersonId, ScheduledTransfer> transfers)
    {
        FingerprintEnrolled = fingerprintEnrolled;
        Departures = departures;
        Transfers = transfers;
        People = people;
        Credentials = credentials;
        AccessLevels = accessLevels;
        DesignatedEscorts = designatedEscorts;
        Visitors = visitorRules;
    }

    /// <summary>What the front desk knows that the doors must respect: pooled badges and watch-listed visitors on site.</summary>
    public VisitorRules Visitors { get; }

    /// <summary>
    /// Visitors whose visit names its escorts, with those escorts: only they may bring the visitor in. A visitor not
    /// listed may be escorted by any authorized escort. Kept by the visitor service from its own records (check-in
    /// sets it, check-out removes it, start-up rebuilds it), not by the cardholder tables.
    /// </summary>
    public ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>> DesignatedEscorts { get; }

    public ImmutableDictionary<PersonId, Person> People { get; }

    /// <summary>
    /// People with a termination dated in the future (the HR feed's scheduled events), with the instant it takes effect:
    /// from that instant on they are refused as if terminated, to the swipe, whenever the job that applies the termination
    /// runs. Kept by the HR feed from its own records (scheduling sets it, applying removes it, start-up rebuilds it).
    /// </summary>
    public ImmutableDictionary<PersonId, Instant> Departures { get; }

    /// <summary>
    /// People with a transfer dated in the future (the HR feed's scheduled events): the earliest one's instant and the
    /// access levels it gives. From that instant on their swipes are decided with those levels (<see cref="InForceAt"/>),
    /// whenever the job that applies it runs. Kept by the HR feed like <see cref="Departures"/>.
    /// </summary>
    public ImmutableDictionary<PersonId, ScheduledTransfer> Transfers { get; }

    /// <summary>
    /// The person as in force at <paramref name="at"/>: with the access levels of a scheduled transfer due by then
    /// (<see cref="Transfers"/>), else as stored. What the decision engine decides with.
    /// </summary>
    public Person InForceAt(Person person, Instant at) =>
        Transfers.TryGetValue(person.Id, out var transfer) && at >= transfer.At ? person with { AccessLevels = transfer.Levels } : person;

    /// <summary>
    /// Whether a person may use their credentials at <paramref name="at"/>: active, and not past a scheduled termination
    /// (<see cref="Departures"/>). What doors, escorts and the front desk ask of a person.
    /// </summary>
    public bool IsActiveAt(Person person, Instant at) => person.Status == PersonStatus.Active && !HasLeftBy(person.Id, at);

    /// <summary>Whether a scheduled termination of the person has taken effect by <paramref name="at"/>.</summary>
    public bool HasLeftBy(PersonId person, Instant at) => Departures.TryGetValue(person, out var leaves) && at >= leaves;

    /// <summary>
    /// People with at least one active fingerprint template. The templates themselves are not here (they stay encrypted
    /// in the fingerprint store until a verification needs them); the decision engine only needs to know who has one.
    /// </summary>
    public ImmutableHashSet<PersonId> FingerprintEnrolled { get; }

    /// <summary>Credentials by normalized card UID.</summary>
    public ImmutableDictionary<string, Credential> Credentials { get; }

    public ImmutableDictionary<AccessLevelId, AccessLevel> AccessLevels { get; }

    public static Cardholders Create(IEnumerable<Person> people, IEnumerable<Credential> credentials, IEnumerable<AccessLevel> accessLevels) =>
        new(people.ToImmutableDictionary(p => p.Id), credentials.ToImmutableDictionary(c => c.CardUid), accessLevels.ToImmutableDictionary(a => a.Id),
            ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>>.Empty, VisitorRules.None, [], ImmutableDictionary<PersonId, Instant>.Empty, ImmutableDictionary<PersonId, ScheduledTransfer>.Empty);

    public Cardholders With(Person person) => new(People.SetItem(person.Id, person), Credentials, AccessLevels, DesignatedEscorts, Visitors, FingerprintEnrolled, Departures, Transfers);

    public Cardholders With(Credential credential) => new(People, Credentials.SetItem(credential.CardUid, credential), AccessLevels, DesignatedEscorts, Visitors, FingerprintEnrolled, Departures, Transfers);

    public Cardholders With(AccessLevel level) => new(People, Credentials, AccessLevels.SetItem(level.Id, level), DesignatedEscorts, Visitors, FingerprintEnrolled, Departures, Transfers);

    public Cardholders WithoutAccessLevel(AccessLevelId id) => new(People, Credentials, AccessLevels.Remove(id), DesignatedEscorts, Visitors, FingerprintEnrolled, Departures, Transfers);

    /// <summary>Replaces the visitor rules (the visitor service recomputes them after every change of the pool or the watch list).</summary>
    public Cardholders With(VisitorRules rules) => new(People, Credentials, AccessLevels, DesignatedEscorts, rules, FingerprintEnrolled, Departures, Transfers);

    /// <summary>Sets (or, with null or empty, clears) the escorts a visitor may be brought in by.</summary>
    public Cardholders WithDesignatedEscorts(PersonId visitor, ImmutableHashSet<PersonId>? escorts) =>
        new(People, Credentials, AccessLevels, escorts is null || escorts.IsEmpty ? DesignatedEscorts.Remove(visitor) : DesignatedEscorts.SetItem(visitor, escorts), Visitors, FingerprintEnrolled, Departures, Transfers);

    /// <summary>Records whether a person has at least one active fingerprint template (the fingerprint store keeps this current).</summary>
    public Cardholders WithFingerprintEnrollment(PersonId person, bool enrolled) =>
        new(People, Credentials, AccessLevels, DesignatedEscorts, Visitors, enrolled ? FingerprintEnrolled.Add(person) : FingerprintEnrolled.Remove(person), Departures, Transfers);

    /// <summary>Replaces the whole set of enrolled people (start-up, after loading the fingerprint store).</summary>
    public Cardholders WithFingerprintEnrolled(ImmutableHashSet<PersonId> enrolled) =>
        new(People, Credentials, AccessLevels, DesignatedEscorts, Visitors, enrolled, Departures, Transfers);

    /// <summary>Sets (or, with null, clears) when a person's scheduled termination takes effect.</summary>
    public Cardholders WithDeparture(PersonId person, Instant? leaves) =>
        new(People, Credentials, AccessLevels, DesignatedEscorts, Visitors, FingerprintEnrolled, leaves is { } at ? Departures.SetItem(person, at) : Departures.Remove(person), Transfers);

    /// <summary>Sets (or, with null, clears) a person's earliest scheduled transfer.</summary>
    public Cardholders WithTransfer(PersonId person, ScheduledTransfer? transfer) =>
        new(People, Credentials, AccessLevels, DesignatedEscorts, Visitors, FingerprintEnrolled, Departures, transfer is { } t ? Transfers.SetItem(person, t) : Transfers.Remove(person));

    /// <summary>Replaces every scheduled transfer (start-up, from the HR feed's records).</summary>
    public Cardholders WithTransfers(ImmutableDictionary<PersonId, ScheduledTransfer> transfers) =>
        new(People, Credentials, AccessLevels, DesignatedEscorts, Visitors, FingerprintEnrolled, Departures, transfers);

    /// <summary>Replaces every scheduled departure (start-up, from the HR feed's records).</summary>
    public Cardholders WithDepartures(ImmutableDictionary<PersonId, Instant> departures) =>
        new(People, Credentials, AccessLevels, DesignatedEscorts, Visitors, FingerprintEnrolled, departures, Transfers);

    /// <summary>The credentials bound to a person (linear scan; used by admin paths, not by decisions).</summary>
    public IEnumerable<Credential> CredentialsOf(PersonId person) => Credentials.Values.Where(c => c.Person == person);
}

/// <summary>A transfer the HR feed holds until it is due: from <paramref name="At"/> on, the person holds exactly <paramref name="Levels"/>.</summary>
public sealed record ScheduledTransfer(Instant At, ImmutableArray<AccessLevelId> Levels);

/// <summary>
/// Front-desk facts the doors enforce: cards in a visitor badge pool (a pooled card that is not bound to a visit
/// answers <c>visit_not_checked_in</c>) and visitors on site who are now on the watch list (<c>watchlisted</c>).
/// </summary>
public sealed record VisitorRules(ImmutableHashSet<string> PooledBadges, ImmutableHashSet<PersonId> Watchlisted)
{
    public static VisitorRules None { get; } = new([], []);
}

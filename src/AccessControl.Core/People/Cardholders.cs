using System.Collections.Immutable;
using AccessControl.Sites;

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
        ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>>.Empty);

    private Cardholders(
        ImmutableDictionary<PersonId, Person> people,
        ImmutableDictionary<string, Credential> credentials,
        ImmutableDictionary<AccessLevelId, AccessLevel> accessLevels,
        ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>> designatedEscorts)
    {
        People = people;
        Credentials = credentials;
        AccessLevels = accessLevels;
        DesignatedEscorts = designatedEscorts;
    }

    /// <summary>
    /// Visitors whose visit names its escorts, with those escorts: only they may bring the visitor in. A visitor not
    /// listed may be escorted by any authorized escort. Kept by the visitor service from its own records (check-in
    /// sets it, check-out removes it, start-up rebuilds it), not by the cardholder tables.
    /// </summary>
    public ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>> DesignatedEscorts { get; }

    public ImmutableDictionary<PersonId, Person> People { get; }

    /// <summary>Credentials by normalized card UID.</summary>
    public ImmutableDictionary<string, Credential> Credentials { get; }

    public ImmutableDictionary<AccessLevelId, AccessLevel> AccessLevels { get; }

    public static Cardholders Create(IEnumerable<Person> people, IEnumerable<Credential> credentials, IEnumerable<AccessLevel> accessLevels) =>
        new(people.ToImmutableDictionary(p => p.Id), credentials.ToImmutableDictionary(c => c.CardUid), accessLevels.ToImmutableDictionary(a => a.Id),
            ImmutableDictionary<PersonId, ImmutableHashSet<PersonId>>.Empty);

    public Cardholders With(Person person) => new(People.SetItem(person.Id, person), Credentials, AccessLevels, DesignatedEscorts);

    public Cardholders With(Credential credential) => new(People, Credentials.SetItem(credential.CardUid, credential), AccessLevels, DesignatedEscorts);

    public Cardholders With(AccessLevel level) => new(People, Credentials, AccessLevels.SetItem(level.Id, level), DesignatedEscorts);

    public Cardholders WithoutAccessLevel(AccessLevelId id) => new(People, Credentials, AccessLevels.Remove(id), DesignatedEscorts);

    /// <summary>Sets (or, with null or empty, clears) the escorts a visitor may be brought in by.</summary>
    public Cardholders WithDesignatedEscorts(PersonId visitor, ImmutableHashSet<PersonId>? escorts) =>
        new(People, Credentials, AccessLevels, escorts is null || escorts.IsEmpty ? DesignatedEscorts.Remove(visitor) : DesignatedEscorts.SetItem(visitor, escorts));

    /// <summary>The credentials bound to a person (linear scan; used by admin paths, not by decisions).</summary>
    public IEnumerable<Credential> CredentialsOf(PersonId person) => Credentials.Values.Where(c => c.Person == person);
}

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
        ImmutableDictionary<AccessLevelId, AccessLevel>.Empty);

    private Cardholders(
        ImmutableDictionary<PersonId, Person> people,
        ImmutableDictionary<string, Credential> credentials,
        ImmutableDictionary<AccessLevelId, AccessLevel> accessLevels)
    {
        People = people;
        Credentials = credentials;
        AccessLevels = accessLevels;
    }

    public ImmutableDictionary<PersonId, Person> People { get; }

    /// <summary>Credentials by normalized card UID.</summary>
    public ImmutableDictionary<string, Credential> Credentials { get; }

    public ImmutableDictionary<AccessLevelId, AccessLevel> AccessLevels { get; }

    public static Cardholders Create(IEnumerable<Person> people, IEnumerable<Credential> credentials, IEnumerable<AccessLevel> accessLevels) =>
        new(people.ToImmutableDictionary(p => p.Id), credentials.ToImmutableDictionary(c => c.CardUid), accessLevels.ToImmutableDictionary(a => a.Id));

    public Cardholders With(Person person) => new(People.SetItem(person.Id, person), Credentials, AccessLevels);

    public Cardholders With(Credential credential) => new(People, Credentials.SetItem(credential.CardUid, credential), AccessLevels);

    public Cardholders With(AccessLevel level) => new(People, Credentials, AccessLevels.SetItem(level.Id, level));

    public Cardholders WithoutAccessLevel(AccessLevelId id) => new(People, Credentials, AccessLevels.Remove(id));

    /// <summary>The credentials bound to a person (linear scan; used by admin paths, not by decisions).</summary>
    public IEnumerable<Credential> CredentialsOf(PersonId person) => Credentials.Values.Where(c => c.Person == person);
}

using System.Collections.Immutable;
using AccessControl.People;
using AccessControl.Sites;

namespace AccessControl.SiteFiles;

/// <summary>
/// The ids the sites of one service hold that must be unique across all of them, for a new site file to be checked
/// against the others before it is stored: zones and doors (each kind its own namespace, as within one file; topics,
/// alarms and log rows name them by id) and devices (readers, controllers and fire panels share one: a device's id is
/// its MQTT username). Schedules belong to their site and may repeat; <c>always</c> is shared. Access levels are global
/// (cardholders, not topology), but one that gives access at another site is that site's: a site file that declares its
/// id would replace it on import, moving its holders' access to this file's site (<see cref="SiteIdsInUse(IEnumerable{SiteTopology}, IEnumerable{AccessLevel})"/>).
/// People and cards are global too, but one that another site's file declares is that site's: importing a file that
/// declares it would replace the person's levels and status, or bind the card to this file's person
/// (<see cref="SiteIdsInUse(IEnumerable{SiteDefinition}, IEnumerable{AccessLevel}, IEnumerable{Credential}, IReadOnlyDictionary{PersonId, LastChange}?, IReadOnlyDictionary{string, LastChange}?)"/>).
/// A stored person or card that no site's file declares is nobody's file's (made through the admin API, or left out of
/// its file since): a file takes it over only when its entry says so (<c>adopt: true</c>).
/// </summary>
public sealed class SiteIdsInUse
{
    internal const string Zone = "zone";
    internal const string Door = "door";
    internal const string Device = "device";
    internal const string AccessLevel = "access level";
    internal const string Person = "person";
    internal const string Card = "card";

    private readonly Dictionary<(string Namespace, string Id), List<SiteIdHolder>> holders = [];
    private readonly Dictionary<(string Namespace, string Id), LastChange> undeclared = [];

    /// <summary>Holds the ids of <paramref name="sites"/> (topologies of one site each, or merged ones).</summary>
    public SiteIdsInUse(IEnumerable<SiteTopology> sites)
    {
        ArgumentNullException.ThrowIfNull(sites);
        foreach (var site in sites)
        {
            foreach (var zone in site.Zones.Values)
            {
                Add(Zone, zone.Id.Value, new SiteIdHolder(zone.Site, "zone"));
            }

            foreach (var door in site.Doors.Values)
            {
                Add(Door, door.Id.Value, new SiteIdHolder(door.Site, "door"));
            }

            foreach (var reader in site.Readers.Values)
            {
                Add(Device, reader.Id.Value, new SiteIdHolder(site.Doors[reader.Door].Site, "reader"));
            }

            foreach (var controller in site.Controllers.Values)
            {
                Add(Device, controller.Id.Value, new SiteIdHolder(controller.Site, "controller"));
            }

            foreach (var panel in site.FirePanels.Values)
            {
                Add(Device, panel.Id, new SiteIdHolder(panel.Site, "fire panel"));
            }
        }
    }

    /// <summary>
    /// Also holds the ids of <paramref name="accessLevels"/> (the stored ones): each at every site of <paramref name="sites"/>
    /// where one of its zones lies. A level created through the admin API may span sites; it is held by each of them.
    /// </summary>
    public SiteIdsInUse(IEnumerable<SiteTopology> sites, IEnumerable<AccessLevel> accessLevels)
        : this(sites = [.. sites])
    {
        ArgumentNullException.ThrowIfNull(accessLevels);
        // A zone id that stored sites share (Conflicts, which the start reports) says nothing of whose a level is: the
        // corrected file of one of those sites must be able to keep its level's id.
        var siteOfZone = sites.SelectMany(s => s.Zones.Values).GroupBy(z => z.Id)
            .Where(g => g.Select(z => z.Site).Distinct().Count() == 1).ToDictionary(g => g.Key, g => g.First().Site);
        foreach (var level in accessLevels)
        {
            foreach (var site in level.Zones.Where(siteOfZone.ContainsKey).Select(z => siteOfZone[z]).Distinct())
            {
                Add(AccessLevel, level.Id.Value, new SiteIdHolder(site, "access level"));
            }
        }
    }

    /// <summary>
    /// Also holds the people and cards the files of <paramref name="sites"/> declare, each at its file's site, and the
    /// stored <paramref name="credentials"/> bound to one of those people (a card an operator gave them through the API
    /// is theirs, and so their site's). Of <paramref name="storedPeople"/> and <paramref name="storedCards"/> (every stored
    /// person and card, with who changed it last), those no file of <paramref name="sites"/> declares are held by no site
    /// (<see cref="Undeclared"/>).
    /// </summary>
    public SiteIdsInUse(
        IEnumerable<SiteDefinition> sites,
        IEnumerable<AccessLevel> accessLevels,
        IEnumerable<Credential> credentials,
        IReadOnlyDictionary<PersonId, LastChange>? storedPeople = null,
        IReadOnlyDictionary<string, LastChange>? storedCards = null)
        : this((sites = [.. sites]).Select(s => s.Topology), accessLevels)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var siteOfPerson = new Dictionary<PersonId, SiteId>();
        foreach (var site in sites)
        {
            var id = site.Topology.Sites.Keys.Single();
            foreach (var person in site.People)
            {
                Add(Person, person.Id.Value, new SiteIdHolder(id, "person"));
                siteOfPerson.TryAdd(person.Id, id);
            }

            foreach (var credential in site.Credentials)
            {
                Add(Card, credential.CardUid, new SiteIdHolder(id, "card"));
            }
        }

        foreach (var credential in credentials.Where(c => siteOfPerson.ContainsKey(c.Person)))
        {
            Add(Card, credential.CardUid, new SiteIdHolder(siteOfPerson[credential.Person], $"card of person '{credential.Person}'"));
        }

        // Declared by a file, not merely bound to someone a file declares: a card an operator gave one of the file's people
        // through the API is the site's (above), but no file's yet.
        var declaredCards = sites.SelectMany(s => s.Credentials).Select(c => c.CardUid).ToHashSet(StringComparer.Ordinal);
        foreach (var (person, change) in (storedPeople ?? new Dictionary<PersonId, LastChange>()).Where(p => !siteOfPerson.ContainsKey(p.Key)))
        {
            undeclared[(Person, person.Value)] = change;
        }

        foreach (var (card, change) in (storedCards ?? new Dictionary<string, LastChange>()).Where(c => !declaredCards.Contains(c.Key)))
        {
            undeclared[(Card, card)] = change;
        }
    }

    /// <summary>No other site: a service that holds one.</summary>
    public static SiteIdsInUse None { get; } = new([]);

    /// <summary>
    /// Every id held by more than one site, in id order: a set of stored sites that has any cannot be merged into one
    /// layout (which site would a reader of that id belong to?). Access levels are left out (one created through the
    /// admin API may give access at several sites), and so are people and cards (cardholders, not layout).
    /// </summary>
    public IReadOnlyList<SiteIdConflict> Conflicts() =>
        [.. holders.Where(h => h.Key.Namespace is Zone or Door or Device && h.Value.Select(s => s.Site).Distinct().Count() > 1)
            .OrderBy(h => h.Key.Namespace, StringComparer.Ordinal).ThenBy(h => h.Key.Id, StringComparer.Ordinal)
            .Select(h => new SiteIdConflict(h.Key.Namespace, h.Key.Id, [.. h.Value]))];

    /// <summary>Who, at a site other than <paramref name="site"/>, holds <paramref name="id"/> in a namespace; null if nobody.</summary>
    internal SiteIdHolder? HeldElsewhere(string idNamespace, string id, SiteId site) =>
        holders.TryGetValue((idNamespace, id), out var held) ? held.Where(h => h.Site != site).Select(h => (SiteIdHolder?)h).FirstOrDefault() : null;

    /// <summary>
    /// Who last changed a stored person or card (<see cref="Person"/>, <see cref="Card"/>) that no site's file declares;
    /// null if it is not stored, or a file declares it.
    /// </summary>
    internal LastChange? Undeclared(string idNamespace, string id) =>
        undeclared.TryGetValue((idNamespace, id), out var change) ? change : null;

    private void Add(string idNamespace, string id, SiteIdHolder holder)
    {
        if (!holders.TryGetValue((idNamespace, id), out var held))
        {
            holders[(idNamespace, id)] = held = [];
        }

        held.Add(holder);
    }
}

/// <summary>A site that holds an id, and as what (zone, door, reader, controller, fire panel, access level, person, card).</summary>
public readonly record struct SiteIdHolder(SiteId Site, string What)
{
    public override string ToString() => $"{What} of site '{Site}'";
}

/// <summary>Who last changed a stored record and when (its <c>updated_by</c> and <c>updated_at</c>).</summary>
public readonly record struct LastChange(string By, NodaTime.Instant At)
{
    public override string ToString() => $"last changed by '{By}' at {NodaTime.Text.InstantPattern.General.Format(At)}";
}

/// <summary>One id held by several sites of one service: a zone, a door or a device id (reader, controller, fire panel).</summary>
public sealed record SiteIdConflict(string Namespace, string Id, ImmutableArray<SiteIdHolder> Holders)
{
    public override string ToString() => $"{Namespace} id '{Id}': {string.Join(", ", Holders)}";
}

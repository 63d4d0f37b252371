using System.Collections.Immutable;
using AccessControl.Schedules;

namespace AccessControl.Sites;

/// <summary>
/// The physical layout of one or more sites: zones, doors, readers, controllers and schedules, each of one site.
/// Immutable; a new snapshot replaces the old one when a site file is loaded.
/// </summary>
public sealed class SiteTopology
{
    public static SiteTopology Empty { get; } = new([], [], [], [], [], []);

    public SiteTopology(
        IEnumerable<Site> sites,
        IEnumerable<Zone> zones,
        IEnumerable<Door> doors,
        IEnumerable<Reader> readers,
        IEnumerable<DoorController> controllers,
        IEnumerable<Schedule> schedules)
    {
        Sites = sites.ToImmutableDictionary(s => s.Id);
        Zones = zones.ToImmutableDictionary(z => z.Id);
        Doors = doors.ToImmutableDictionary(d => d.Id);
        Readers = readers.ToImmutableDictionary(r => r.Id);
        Controllers = controllers.ToImmutableDictionary(c => c.Id);
        Schedules = schedules.Where(s => s.Id != ScheduleId.Always).ToImmutableDictionary(s =>
            (s.Site ?? throw new ArgumentException($"Schedule '{s.Id}' belongs to no site.", nameof(schedules)), s.Id));
    }

    public ImmutableDictionary<SiteId, Site> Sites { get; }

    public ImmutableDictionary<ZoneId, Zone> Zones { get; }

    public ImmutableDictionary<DoorId, Door> Doors { get; }

    public ImmutableDictionary<ReaderId, Reader> Readers { get; }

    public ImmutableDictionary<ControllerId, DoorController> Controllers { get; }

    /// <summary>Each site's own schedules, by site and id; the built-in <c>always</c>, shared, is not among them (<see cref="ScheduleOf"/>).</summary>
    public ImmutableDictionary<(SiteId Site, ScheduleId Id), Schedule> Schedules { get; }

    /// <summary>Fire alarm panels by id (their MQTT usernames); empty when no site declares one.</summary>
    public ImmutableDictionary<string, FirePanel> FirePanels { get; init; } = ImmutableDictionary<string, FirePanel>.Empty.WithComparers(StringComparer.Ordinal);

    /// <summary>
    /// The schedule an access level names, read at <paramref name="site"/> (the site of the door being decided): that
    /// site's own schedule of that id, or the built-in <c>always</c>; null when the site has none (never active).
    /// </summary>
    public Schedule? ScheduleOf(SiteId site, ScheduleId id) =>
        id == ScheduleId.Always ? Schedule.Always : Schedules.GetValueOrDefault((site, id));

    /// <summary>
    /// Whether <paramref name="zone"/> is <paramref name="outer"/> or lies inside it (its parent, or further out, is it):
    /// being in the one is being in the other.
    /// </summary>
    public bool IsWithin(ZoneId zone, ZoneId outer)
    {
        // Bounded by the number of zones: a site file with a containment cycle is refused, but the walk must end anyway.
        ZoneId? current = zone;
        for (var steps = 0; current is { } z && steps <= Zones.Count; steps++)
        {
            if (z == outer)
            {
                return true;
            }

            current = Zones.TryGetValue(z, out var found) ? found.Parent : null;
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="door"/> is written outwards: its <c>from</c> zone lies inside its <c>to</c> zone, so that its
    /// <c>in</c> readers lead out of <c>from</c> (the zone the door guards) and its <c>out</c> readers into it.
    /// </summary>
    public bool IsWrittenOutwards(Door door)
    {
        ArgumentNullException.ThrowIfNull(door);
        return door.From is { } from && from != door.To && IsWithin(from, door.To);
    }

    /// <summary>
    /// The zones a crossing of <paramref name="door"/> moves someone into or out of, innermost first: the zone it guards
    /// (its <c>to</c>, or its <c>from</c> when written outwards, <see cref="IsWrittenOutwards"/>) and, at a perimeter door
    /// (no <c>from</c>), every zone around that one. Anti-passback reads them so, live and when rebuilt at a start. Walked
    /// without allocating: it is on every decision's path.
    /// </summary>
    public CrossedZones ZonesCrossedBy(Door door)
    {
        ArgumentNullException.ThrowIfNull(door);
        return new(this, door);
    }

    /// <summary>The zones of <see cref="ZonesCrossedBy"/>, for <c>foreach</c>.</summary>
    public readonly struct CrossedZones(SiteTopology topology, Door door)
    {
        public Enumerator GetEnumerator() => new(topology, door);

        public struct Enumerator(SiteTopology topology, Door door)
        {
            private ZoneId? next = topology.IsWrittenOutwards(door) ? door.From : door.To;
            private int steps;

            public Zone Current { get; private set; } = null!;

            public bool MoveNext()
            {
                // Bounded by the number of zones: a site file with a containment cycle is refused, but the walk must end anyway.
                if (next is not { } id || steps > topology.Zones.Count || !topology.Zones.TryGetValue(id, out var zone))
                {
                    return false;
                }

                steps++;
                Current = zone;
                next = door.From is null ? zone.Parent : null;
                return true;
            }
        }
    }

    /// <summary>The site of a door, or of a reader through its door; null when this topology has no such device.</summary>
    public SiteId? SiteOf(DoorId door) => Doors.TryGetValue(door, out var d) ? d.Site : null;

    /// <inheritdoc cref="SiteOf(DoorId)"/>
    public SiteId? SiteOf(ReaderId reader) => Readers.TryGetValue(reader, out var r) ? SiteOf(r.Door) : null;

    /// <summary>The doors a controller drives.</summary>
    public IEnumerable<Door> DoorsOf(ControllerId controller) => Doors.Values.Where(d => d.Controller == controller);

    /// <summary>The readers mounted on a door.</summary>
    public IEnumerable<Reader> ReadersOf(DoorId door) => Readers.Values.Where(r => r.Door == door);

    /// <summary>Merges another topology into this one, replacing everything that belongs to the sites it contains.</summary>
    public SiteTopology ReplaceSites(SiteTopology other)
    {
        var replaced = other.Sites.Keys.ToHashSet();
        return new SiteTopology(
            Sites.Values.Where(s => !replaced.Contains(s.Id)).Concat(other.Sites.Values),
            Zones.Values.Where(z => !replaced.Contains(z.Site)).Concat(other.Zones.Values),
            Doors.Values.Where(d => !replaced.Contains(d.Site)).Concat(other.Doors.Values),
            Readers.Values.Where(r => !replaced.Contains(Doors[r.Door].Site)).Concat(other.Readers.Values),
            Controllers.Values.Where(c => !replaced.Contains(c.Site)).Concat(other.Controllers.Values),
            Schedules.Values.Where(s => !replaced.Contains(s.Site!.Value)).Concat(other.Schedules.Values))
        {
            FirePanels = FirePanels.Values.Where(p => !replaced.Contains(p.Site)).Concat(other.FirePanels.Values)
                .ToImmutableDictionary(p => p.Id, StringComparer.Ordinal),
        };
    }
}

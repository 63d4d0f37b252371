using System.Collections.Immutable;
using AccessControl.Schedules;

namespace AccessControl.Sites;

/// <summary>
/// The physical layout of one or more sites: zones, doors, readers, controllers and schedules.
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
        var all = schedules.ToImmutableDictionary(s => s.Id);
        Schedules = all.ContainsKey(ScheduleId.Always) ? all : all.Add(ScheduleId.Always, Schedule.Always);
    }

    public ImmutableDictionary<SiteId, Site> Sites { get; }

    public ImmutableDictionary<ZoneId, Zone> Zones { get; }

    public ImmutableDictionary<DoorId, Door> Doors { get; }

    public ImmutableDictionary<ReaderId, Reader> Readers { get; }

    public ImmutableDictionary<ControllerId, DoorController> Controllers { get; }

    public ImmutableDictionary<ScheduleId, Schedule> Schedules { get; }

    /// <summary>Fire alarm panels by id (their MQTT usernames); empty when no site declares one.</summary>
    public ImmutableDictionary<string, FirePanel> FirePanels { get; init; } = ImmutableDictionary<string, FirePanel>.Empty.WithComparers(StringComparer.Ordinal);

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
            Schedules.Values.Where(s => !other.Schedules.ContainsKey(s.Id)).Concat(other.Schedules.Values))
        {
            FirePanels = FirePanels.Values.Where(p => !replaced.Contains(p.Site)).Concat(other.FirePanels.Values)
                .ToImmutableDictionary(p => p.Id, StringComparer.Ordinal),
        };
    }
}

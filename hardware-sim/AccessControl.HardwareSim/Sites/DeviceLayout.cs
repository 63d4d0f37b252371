using AccessControl.Sites;

namespace AccessControl.HardwareSim.Sites;

/// <summary>
/// A reader to simulate: a card reader, or a fingerprint reader (<see cref="ReaderKind.Fingerprint"/>). A null heartbeat
/// interval takes the reader options' default.
/// </summary>
public sealed record ReaderLayout(string ReaderId, TimeSpan? HeartbeatInterval = null, ReaderKind Kind = ReaderKind.Card);

/// <summary>
/// A door controller to simulate and the doors it drives. A null heartbeat interval takes the controller options' (none
/// by default).
/// </summary>
public sealed record ControllerLayout(string ControllerId, IReadOnlyList<string> DoorIds, TimeSpan? HeartbeatInterval = null);

/// <summary>
/// Which devices to simulate. Usually made from a site's <see cref="SiteTopology"/>; a scenario without a site
/// file makes one from the ids it names.
/// </summary>
public sealed record DeviceLayout(IReadOnlyList<ReaderLayout> Readers, IReadOnlyList<ControllerLayout> Controllers)
{
    /// <summary>
    /// One reader per card or fingerprint reader and one controller per door controller
    /// that drives at least one door, optionally limited to one site. Ordered by id, so runs are repeatable.
    /// </summary>
    public static DeviceLayout FromTopology(SiteTopology topology, SiteId? site = null)
    {
        ArgumentNullException.ThrowIfNull(topology);
        bool InSite(DoorId door) => site is null || (topology.Doors.TryGetValue(door, out var d) && d.Site == site.Value);

        var readers = topology.Readers.Values
            .Where(r => InSite(r.Door))
            .OrderBy(r => r.Id.Value, StringComparer.Ordinal)
            .Select(r => new ReaderLayout(r.Id.Value, r.HeartbeatInterval.ToTimeSpan(), r.Kind))
            .ToList();
        var controllers = topology.Controllers.Values
            .Where(c => site is null || c.Site == site.Value)
            .OrderBy(c => c.Id.Value, StringComparer.Ordinal)
            .Select(c => new ControllerLayout(c.Id.Value, [.. topology.DoorsOf(c.Id).Select(d => d.Id.Value).Order(StringComparer.Ordinal)],
                c.HeartbeatInterval?.ToTimeSpan()))
            .Where(c => c.DoorIds.Count > 0)
            .ToList();
        return new DeviceLayout(readers, controllers);
    }
}

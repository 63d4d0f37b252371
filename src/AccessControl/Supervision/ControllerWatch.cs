using AccessControl.Protocol;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>
/// Tracks when each door controller was last heard from. A controller is offline when its status says so (its last will,
/// on the status topic of one of its doors, or a deliberate offline) or, if the site file gives it a heartbeat interval,
/// after three missed intervals; it is back when heard from again. Alarms are per door: a controller that goes away
/// takes every door it drives with it, and an operator watches doors. Owned by the event pipeline.
/// </summary>
/// <remarks>
/// A controller without a heartbeat interval (firmware of before controller heartbeats) is supervised by its will
/// alone, as it always was: its silence means nothing. Controllers never heard from since the service started count
/// from the start, as readers do, so one with an interval that never connects is reported too.
/// </remarks>
public sealed class ControllerWatch(Instant startedAt)
{
    /// <summary>Missed heartbeat intervals before a controller is declared offline (as for readers).</summary>
    public const int MissedHeartbeats = ReaderWatch.MissedHeartbeats;

    private Instant startedAt = startedAt;
    private readonly Dictionary<ControllerId, Instant> lastSeen = [];
    private readonly HashSet<ControllerId> offline = [];
    private readonly RefusedMessages<ControllerId> refused = new();

    // The counts for /health, read after every commit: counted again only when the offline set or the topology changed.
    private (SiteTopology? Topology, int Version, int Controllers, int Doors) counted;
    private int offlineVersion;

    /// <summary>
    /// Controllers of <paramref name="topology"/> reported offline and not heard from since, and the doors they drive
    /// (whose position and exit button go unreported). Asked after every commit, so it costs nothing while all are
    /// online, and counts the site's doors only when the set of offline controllers or the topology changed.
    /// </summary>
    public (int Controllers, int Doors) OfflineCounts(SiteTopology topology)
    {
        if (offline.Count == 0)
        {
            return (0, 0);
        }

        if (!ReferenceEquals(counted.Topology, topology) || counted.Version != offlineVersion)
        {
            counted = (topology, offlineVersion, offline.Count(topology.Controllers.ContainsKey),
                topology.Doors.Values.Count(d => offline.Contains(d.Controller)));
        }

        return (counted.Controllers, counted.Doors);
    }

    /// <summary>Controllers reported offline before the service started and not heard from since: as for readers (<see cref="ReaderWatch.Restore"/>).</summary>
    public void Restore(IEnumerable<ControllerId> offlineBefore)
    {
        foreach (var id in offlineBefore)
        {
            MarkOffline(id);
        }
    }

    /// <summary>
    /// The controller sent something the service accepted (its online status, a door event, a heartbeat). Returns a
    /// door_controller_online alarm per door it drives if it had been reported offline.
    /// </summary>
    public IEnumerable<Alarm> Seen(DoorController controller, Instant at, SiteTopology topology)
    {
        lastSeen[controller.Id] = at;
        refused.Forget(controller.Id);
        return MarkOnline(controller.Id)
            ? PerDoor(AlarmTypes.DoorControllerOnline, controller, topology, $"door controller {controller.Id} is back online")
            : [];
    }

    /// <summary>
    /// A heartbeat or door event of the controller was refused as a suspected replay, <paramref name="why"/>: not a sign
    /// of life, but its silence alarms will say that its messages arrive and are refused.
    /// </summary>
    public void Refused(DoorController controller, Instant at, string why) => refused.Note(controller.Id, at, why);

    /// <summary>
    /// The controller's last will or its own offline status arrived, on the status topic of <paramref name="door"/>:
    /// a door_controller_offline alarm per door it drives, once until it is heard from again.
    /// </summary>
    public IEnumerable<Alarm> WentOffline(DoorController controller, DoorId door, SiteTopology topology) =>
        MarkOffline(controller.Id)
            ? PerDoor(AlarmTypes.DoorControllerOffline, controller, topology,
                $"door controller {controller.Id} reported offline (status or MQTT last will, on the status topic of {door}): the door's position and exit button are not reported until it is back")
            : [];

    /// <summary>The service clock stepped: silence is counted again from <paramref name="now"/>, as for readers (<see cref="ReaderWatch.ClockStepped"/>).</summary>
    public void ClockStepped(Instant now)
    {
        startedAt = now;
        lastSeen.Clear();
        refused.Clear();
    }

    /// <summary>Controllers with a heartbeat interval silent for more than three of them: each door alarmed once until the controller is heard from again.</summary>
    public IEnumerable<Alarm> Check(Instant now, SiteTopology topology)
    {
        var alarms = new List<Alarm>();
        foreach (var controller in topology.Controllers.Values)
        {
            if (controller.HeartbeatInterval is not { } interval || offline.Contains(controller.Id))
            {
                continue;
            }

            var seen = lastSeen.TryGetValue(controller.Id, out var at) ? at : startedAt;
            if (now - seen > interval * MissedHeartbeats)
            {
                MarkOffline(controller.Id);
                alarms.AddRange(PerDoor(AlarmTypes.DoorControllerOffline, controller, topology,
                    $"door controller {controller.Id}: {refused.Silence(controller.Id, "controller", MissedHeartbeats, interval * MissedHeartbeats, now)}; the door's position and exit button are not reported until it is back"));
            }
        }

        return alarms;
    }

    private bool MarkOffline(ControllerId id)
    {
        if (!offline.Add(id))
        {
            return false;
        }

        offlineVersion++;
        return true;
    }

    private bool MarkOnline(ControllerId id)
    {
        if (!offline.Remove(id))
        {
            return false;
        }

        offlineVersion++;
        return true;
    }

    private static IEnumerable<Alarm> PerDoor(string type, DoorController controller, SiteTopology topology, string detail) =>
        [.. topology.DoorsOf(controller.Id).OrderBy(d => d.Id.Value, StringComparer.Ordinal)
            .Select(door => new Alarm(type, door.Site.Value, door.Id.Value, null, detail) { ControllerId = controller.Id.Value })];
}

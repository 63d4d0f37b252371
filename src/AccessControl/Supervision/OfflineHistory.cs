using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Storage;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>The readers and door controllers reported offline and not heard from since, as the entry log left them.</summary>
public sealed record OfflineDevices(IReadOnlySet<ReaderId> Readers, IReadOnlySet<ControllerId> Controllers)
{
    public static readonly OfflineDevices None = new(new HashSet<ReaderId>(), new HashSet<ControllerId>());
}

/// <summary>
/// Rebuilds at start-up which devices are offline, from their offline and online alarms in the entry log. A device stays
/// offline until it is heard from, and a restart hears nothing: without this, one reported offline before it was
/// forgotten (<c>/health</c> counted it online; one supervised by its will alone was never reported again), and when it
/// came back no <c>reader_online</c> or <c>door_controller_online</c> told the console that had seen it go.
/// </summary>
public static class OfflineHistory
{
    /// <summary>How far back a start reads: a device offline for longer is reported again after three silent heartbeat intervals, as before.</summary>
    public static readonly Duration Horizon = Duration.FromDays(1);

    private const string AlarmsSql = """
        SELECT reader_id AS Reader, door_id AS Door, reason AS Reason FROM entry_log
        WHERE seq >= @first AND kind = @alarm AND reason IN (@readerOffline, @readerOnline, @controllerOffline, @controllerOnline)
        ORDER BY seq
        """;

    /// <summary>The devices of <paramref name="topology"/> whose last offline/online alarm since <see cref="Horizon"/> before <paramref name="now"/> said offline.</summary>
    public static OfflineDevices Load(Database database, SiteTopology topology, Instant now)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(topology);
        var readers = new HashSet<ReaderId>();
        var controllers = new HashSet<ControllerId>();
        var rows = LogSnapshot.RowsSince<(string? Reader, string? Door, string Reason)>(database, now - Horizon, AlarmsSql, new
        {
            alarm = LogKinds.Alarm,
            readerOffline = AlarmTypes.ReaderOffline,
            readerOnline = AlarmTypes.ReaderOnline,
            controllerOffline = AlarmTypes.DoorControllerOffline,
            controllerOnline = AlarmTypes.DoorControllerOnline,
        });
        foreach (var (reader, doorId, reason) in rows)
        {
            var offline = reason is AlarmTypes.ReaderOffline or AlarmTypes.DoorControllerOffline;
            if (reason is AlarmTypes.ReaderOffline or AlarmTypes.ReaderOnline)
            {
                if (reader is not null)
                {
                    Note(readers, new ReaderId(reader), offline);
                }
            }
            else if (doorId is not null && topology.Doors.TryGetValue(new DoorId(doorId), out var door))
            {
                // One alarm per door the controller drives: the door's controller in the site file as it is now.
                Note(controllers, door.Controller, offline);
            }
        }

        readers.IntersectWith(topology.Readers.Keys);
        controllers.IntersectWith(topology.Controllers.Keys);
        return new OfflineDevices(readers, controllers);
    }

    private static void Note<T>(HashSet<T> set, T id, bool offline)
    {
        if (offline)
        {
            set.Add(id);
        }
        else
        {
            set.Remove(id);
        }
    }
}

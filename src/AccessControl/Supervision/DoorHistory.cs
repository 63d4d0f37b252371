using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Storage;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>
/// A door's position as the entry log left it: open (since the service received the opening, and whether its
/// <c>door_held_open</c> was raised already) or closed, and the seq of the event that said so.
/// </summary>
public sealed record DoorPosition(DoorId Door, long? Seq, Instant? OpenedAt, bool HeldOpenRaised);

/// <summary>
/// The doors' positions, rebuilt from the entry log at start-up. Door positions are not retained anywhere else: without
/// this, a door propped open across a restart (an update, a crash, a power cut of the edge box) was never reported held
/// open, since its <c>opened</c> was forgotten and no new one comes until it closes; and one already reported was not
/// known open either.
/// </summary>
public static class DoorHistory
{
    /// <summary>
    /// How far back a start reads. A door opened longer ago than that and still open had its held-open alarm long ago
    /// (one alarm per opening); one whose last position is older is taken as closed, as before.
    /// </summary>
    public static readonly Duration Horizon = Duration.FromDays(1);

    // In log order: the position events as taken (their seq decides, as DoorWatch does live), the held-open alarms, and
    // the seq resets of doors (after which a lower seq is a new event). Refused door events are security rows: not here.
    private const string RowsSql = """
        SELECT door_id AS Door, at AS At, kind AS Kind, reason AS Reason, device_seq AS DeviceSeq FROM entry_log
        WHERE seq >= @first AND door_id IS NOT NULL
          AND ((kind = @door AND reason IN (@opened, @closed))
               OR (kind = @alarm AND reason = @heldOpen)
               OR (kind = @admin AND reason = @seqReset))
        ORDER BY seq
        """;

    /// <summary>The last known position of each door of <paramref name="topology"/> with a position row since <see cref="Horizon"/> before <paramref name="now"/>.</summary>
    public static IReadOnlyList<DoorPosition> Load(Database database, SiteTopology topology, Instant now)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(topology);
        var rows = LogSnapshot.RowsSince<(string Door, long At, string Kind, string Reason, long? DeviceSeq)>(database, now - Horizon, RowsSql, new
        {
            door = LogKinds.Door,
            opened = LogReasons.DoorOpened,
            closed = LogReasons.DoorClosed,
            alarm = LogKinds.Alarm,
            heldOpen = AlarmTypes.DoorHeldOpen,
            admin = LogKinds.Admin,
            seqReset = DeviceSeqBaselines.ResetReason,
        });
        var positions = new Dictionary<DoorId, DoorPosition>();
        foreach (var (doorId, at, kind, reason, deviceSeq) in rows)
        {
            var door = new DoorId(doorId);
            var known = positions.GetValueOrDefault(door) ?? new DoorPosition(door, null, null, false);
            positions[door] = (kind, reason) switch
            {
                (LogKinds.Admin, _) => known with { Seq = null },
                (LogKinds.Alarm, _) => known with { HeldOpenRaised = known.OpenedAt is not null },
                _ when deviceSeq < known.Seq => known,
                (_, LogReasons.DoorOpened) => known.OpenedAt is not null
                    ? known with { Seq = deviceSeq ?? known.Seq }
                    : new DoorPosition(door, deviceSeq ?? known.Seq, Instant.FromUnixTimeMilliseconds(at), false),
                _ => new DoorPosition(door, deviceSeq ?? known.Seq, null, false),
            };
        }

        return [.. positions.Values.Where(p => topology.Doors.ContainsKey(p.Door))];
    }
}

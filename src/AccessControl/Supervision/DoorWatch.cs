using AccessControl.Protocol;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>
/// Watches door-position reports against what the service allowed: a door that opens without a recent grant or
/// exit request was forced; a door open longer than its held-open time is held open. One alarm per episode.
/// Not thread-safe: owned by the event pipeline.
/// </summary>
public sealed class DoorWatch
{
    /// <summary>Slack for the controller's and the network's latency between a grant and the door opening.</summary>
    public static readonly Duration Grace = Duration.FromSeconds(2);

    private readonly Dictionary<DoorId, DoorState> doors = [];
    private readonly HashSet<DoorId> released = [];

    /// <summary>
    /// A fire release holds the door unlocked for egress: while released, opening it is not forced and leaving it open
    /// is not held open.
    /// </summary>
    public void Released(DoorId door) => released.Add(door);

    /// <summary>The release ended (operator reset): a door still open from now on counts as held open from <paramref name="now"/>.</summary>
    public void Relocked(DoorId door, Instant now)
    {
        if (released.Remove(door) && State(door) is { OpenSince: not null } state)
        {
            state.OpenSince = now;
            state.HeldOpenRaised = false;
        }
    }

    /// <summary>A grant was published for this door: opening it until <paramref name="until"/> is legitimate.</summary>
    public void Granted(DoorId door, Instant until) => State(door).AllowedUntil = Max(State(door).AllowedUntil, until);

    /// <summary>Reports a door event and returns the alarm it raises, if any.</summary>
    public Alarm? Report(Door door, DoorEventType type, Instant at)
    {
        var state = State(door.Id);
        switch (type)
        {
            case DoorEventType.ExitRequest:
                state.AllowedUntil = Max(state.AllowedUntil, at + door.UnlockFor);
                return null;

            case DoorEventType.Opened:
                var wasOpen = state.OpenSince is not null;
                state.OpenSince ??= at;
                state.HeldOpenRaised = wasOpen && state.HeldOpenRaised;
                if (!wasOpen && at > state.AllowedUntil + Grace && !released.Contains(door.Id))
                {
                    return new Alarm(AlarmTypes.DoorForced, door.Site.Value, door.Id.Value, null, "door opened without a grant or exit request");
                }

                // Each grant admits one opening.
                state.AllowedUntil = Instant.MinValue;
                return null;

            case DoorEventType.Closed:
                state.OpenSince = null;
                state.HeldOpenRaised = false;
                return null;

            default:
                return null;
        }
    }

    /// <summary>Doors open longer than their held-open time, each reported once per opening.</summary>
    public IEnumerable<Alarm> Check(Instant now, SiteTopology topology)
    {
        foreach (var (id, state) in doors)
        {
            if (state.OpenSince is not { } since || state.HeldOpenRaised || released.Contains(id) || !topology.Doors.TryGetValue(id, out var door))
            {
                continue;
            }

            if (now - since > door.HeldOpenAfter)
            {
                state.HeldOpenRaised = true;
                yield return new Alarm(AlarmTypes.DoorHeldOpen, door.Site.Value, door.Id.Value, null,
                    $"door open for more than {door.HeldOpenAfter.TotalSeconds:0} s");
            }
        }
    }

    /// <summary>
    /// The service clock stepped: a door open now is counted as open from <paramref name="now"/>, so that a step forward
    /// does not turn a door open for a second into one held open for minutes (held-open is then reported up to its limit
    /// later). Unlock windows are seconds long and left as they are.
    /// </summary>
    public void ClockStepped(Instant now)
    {
        foreach (var state in doors.Values.Where(s => s.OpenSince is not null))
        {
            state.OpenSince = now;
        }
    }

    private static Instant Max(Instant a, Instant b) => a > b ? a : b;

    private DoorState State(DoorId id)
    {
        if (!doors.TryGetValue(id, out var state))
        {
            state = new DoorState();
            doors[id] = state;
        }

        return state;
    }

    private sealed class DoorState
    {
        public Instant AllowedUntil { get; set; } = Instant.MinValue;

        public Instant? OpenSince { get; set; }

        public bool HeldOpenRaised { get; set; }
    }
}

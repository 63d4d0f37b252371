using AccessControl.Protocol;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>
/// Watches door-position reports against what the service allowed: a door that opens without a grant or exit request
/// that held at the time it opened was forced; a door open longer than its held-open time is held open. One alarm per
/// episode. Not thread-safe: owned by the event pipeline.
/// </summary>
/// <remarks>
/// Each grant and exit request is kept as an interval (from when it was given to when its unlock ends), so that an
/// opening replayed from a controller's buffer is judged at its own time: one from before a grant is forced, and it does
/// not use up that later grant. The intervals are bounded per door, in number (<see cref="MaxAllowances"/>) and in age
/// (<paramref name="remember"/>, the offline window: no event older than that is accepted); a forgotten interval can
/// only turn a legitimate opening into an alarm, never the other way round.
/// </remarks>
/// <param name="remember">How long an allowance is kept after it ended.</param>
public sealed class DoorWatch(Duration remember)
{
    /// <summary>Slack for the controller's and the network's latency between a grant and the door opening.</summary>
    public static readonly Duration Grace = Duration.FromSeconds(2);

    /// <summary>The most allowances kept per door; the earliest given go first.</summary>
    public const int MaxAllowances = 32;

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
            state.OpenedLate = null;
            state.OpenedBeforeStart = null;
            state.HeldOpenRaised = false;
        }
    }

    /// <summary>
    /// The doors' positions when the service last stopped (<see cref="DoorHistory"/>), taken at its start,
    /// <paramref name="startedAt"/>. A door open then counts as held open from the start, not from its opening: its
    /// <c>closed</c> may be among the events its controller replays on reconnecting (as for a replayed opening, the alarm
    /// then comes at most the held-open time late). One whose alarm was raised before is not reported again.
    /// </summary>
    public void Restore(IEnumerable<DoorPosition> positions, Instant startedAt)
    {
        ArgumentNullException.ThrowIfNull(positions);
        foreach (var position in positions)
        {
            var state = State(position.Door);
            state.PositionSeq = position.Seq;
            if (position.OpenedAt is { } openedAt)
            {
                state.OpenSince = startedAt;
                state.OpenedLate = null;
                state.OpenedBeforeStart = openedAt;
                state.HeldOpenRaised = position.HeldOpenRaised;
            }
        }
    }

    /// <summary>A grant was published for this door at <paramref name="from"/>: one opening until <paramref name="until"/> is legitimate.</summary>
    public void Granted(DoorId door, Instant from, Instant until) => State(door).Allow(from, until, from - remember);

    /// <summary>
    /// Reports a door event that happened at <paramref name="at"/> (the controller's time for a replay from its buffer)
    /// and returns the alarm it raises, if any.
    /// </summary>
    /// <param name="seq">
    /// The event's seq, when known. The replay guard accepts an unused seq below the highest one (an event the broker lost
    /// and the controller re-sent after later ones got through): an <c>opened</c> or <c>closed</c> older than the last
    /// position event taken is history, not the door's position now. A late <c>closed</c> would otherwise end an opening
    /// that came after it (the door left open never reported), and a late <c>opened</c> leave a closed door open.
    /// </param>
    public Alarm? Report(Door door, DoorEventType type, Instant at, Instant now, long? seq = null)
    {
        // A controller clock ahead of the service's: the event happened no later than now, and opens nothing beyond it.
        var ahead = at > now;
        var when = ahead ? now : at;
        var state = State(door.Id);
        if (type is DoorEventType.Opened or DoorEventType.Closed && seq is { } s)
        {
            if (state.PositionSeq is { } last && s < last)
            {
                // Its opening is over (a later position event says so): it is judged, and changes nothing now.
                return type == DoorEventType.Opened && !released.Contains(door.Id) && !state.Consume(when)
                    ? Forced(door, when, now)
                    : null;
            }

            state.PositionSeq = s;
        }

        switch (type)
        {
            case DoorEventType.ExitRequest:
                state.Allow(when, ahead ? now : when + door.UnlockFor, now - remember);
                return null;

            case DoorEventType.Opened:
                // Held open counts from when the service heard of the opening, not from the controller's time: a
                // replayed opening's closed may still be in the controller's buffer, right behind it, and counting
                // from its old time would raise door_held_open at once for a door closed long ago. A door really
                // left open is still reported, at most the held-open time after the replay arrived.
                var wasOpen = state.OpenSince is not null;
                if (!wasOpen)
                {
                    state.OpenSince = now;
                    state.OpenedLate = when < now - Grace ? when : null;
                    state.OpenedBeforeStart = null;
                }

                state.HeldOpenRaised = wasOpen && state.HeldOpenRaised;
                if (wasOpen || released.Contains(door.Id) || state.Consume(when))
                {
                    return null;
                }

                return Forced(door, when, now);

            case DoorEventType.Closed:
                state.OpenSince = null;
                state.OpenedBeforeStart = null;
                state.HeldOpenRaised = false;
                return null;

            default:
                return null;
        }
    }

    /// <summary>The door's seq was reset by an operator (its controller's counter restarted): its next position event is taken whatever its seq.</summary>
    public void SeqReset(DoorId door)
    {
        if (doors.GetValueOrDefault(door) is { } state)
        {
            state.PositionSeq = null;
        }
    }

    private static Alarm Forced(Door door, Instant when, Instant now) =>
        new(AlarmTypes.DoorForced, door.Site.Value, door.Id.Value, null, when < now - Grace
            ? $"door opened at {when} (reported late, from the controller's buffer) without a grant or exit request holding at that time"
            : "door opened without a grant or exit request");

    /// <summary>
    /// A door event the service refused (a suspected replay: the controller's clock is off, or its seq was used): its
    /// time cannot be trusted and it may not even be the controller's, so it changes nothing here. It can only raise an
    /// alarm: an <c>opened</c> is forced unless the door is released, known to be open, or (for a live event, which
    /// happened about now) an allowance holds now. A refused exit request allows nothing.
    /// </summary>
    public Alarm? Unverified(Door door, DoorEventType type, bool live, Instant now, string why)
    {
        if (type != DoorEventType.Opened || released.Contains(door.Id)
            || (doors.GetValueOrDefault(door.Id) is { } state && (state.OpenSince is not null || (live && state.Holds(now)))))
        {
            return null;
        }

        return new Alarm(AlarmTypes.DoorForced, door.Site.Value, door.Id.Value, null,
            $"door reported opened, but the event could not be verified (refused as a suspected replay: {why}); treated as forced");
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
                    state.OpenedLate is { } openedAt
                        ? $"door open for more than {door.HeldOpenAfter.TotalSeconds:0} s since its opening was reported (late, from the controller's buffer: opened at {openedAt})"
                        : state.OpenedBeforeStart is { } before
                        ? $"door open for more than {door.HeldOpenAfter.TotalSeconds:0} s since the service started; it was open when the service stopped (its opening reported at {before}) and no closed has come since"
                        : $"door open for more than {door.HeldOpenAfter.TotalSeconds:0} s");
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
            state.OpenedLate = null;
        }
    }

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
        // Grants and exit requests not yet used by an opening, in the order they were given.
        private readonly List<(Instant From, Instant Until)> allowances = [];

        /// <summary>Since when the door counts as open for held-open: when the service heard of the opening (or a relock, a clock step).</summary>
        public Instant? OpenSince { get; set; }

        /// <summary>When an opening replayed from the controller's buffer happened (its time, long before <see cref="OpenSince"/>); null for a live one.</summary>
        public Instant? OpenedLate { get; set; }

        /// <summary>For a door open when the service last stopped (<see cref="Restore"/>): when its opening was reported then.</summary>
        public Instant? OpenedBeforeStart { get; set; }

        public bool HeldOpenRaised { get; set; }

        /// <summary>The seq of the last <c>opened</c> or <c>closed</c> taken as the door's position; null when none carried one.</summary>
        public long? PositionSeq { get; set; }

        public void Allow(Instant from, Instant until, Instant forgetBefore)
        {
            allowances.RemoveAll(a => a.Until < forgetBefore);
            if (allowances.Count >= MaxAllowances)
            {
                allowances.RemoveAt(0);
            }

            allowances.Add((from, until));
        }

        public bool Holds(Instant at) => allowances.Exists(a => Covers(a, at));

        /// <summary>Uses up the allowance that holds at <paramref name="at"/> and ends first (each admits one opening); false when none holds.</summary>
        public bool Consume(Instant at)
        {
            var index = -1;
            for (var i = 0; i < allowances.Count; i++)
            {
                if (Covers(allowances[i], at) && (index < 0 || allowances[i].Until < allowances[index].Until))
                {
                    index = i;
                }
            }

            if (index >= 0)
            {
                allowances.RemoveAt(index);
            }

            return index >= 0;
        }

        private static bool Covers((Instant From, Instant Until) a, Instant at) => a.From - Grace <= at && at <= a.Until + Grace;
    }
}

using System.Collections.Immutable;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Decisions;

/// <summary>
/// What escort enforcement remembers between swipes: the escort windows open at each door and direction, and who is
/// inside each tracked zone and who brought them. Immutable, like <see cref="PassbackState"/>: the engine reads it, a
/// decision's <see cref="EscortOutcome"/> says how it changes, and the pipeline applies that only once the decision's
/// log row is durable (tentatively within a batch, rolled back if the commit fails).
/// </summary>
/// <remarks>
/// Windows expire on their own (<see cref="EscortWindow.Until"/>); <see cref="Prune"/> drops expired ones, and an escort
/// has at most one window at a door side (their newer entry replaces it), so the state stays as small as the number of
/// escorts recently at each door. After a restart the service rebuilds occupancy from the entry
/// log (its <c>EscortHistory</c>), not the windows, which last seconds.
/// </remarks>
public sealed class EscortState
{
    public static EscortState Empty { get; } = new(
        ImmutableDictionary<DoorSide, ImmutableList<EscortWindow>>.Empty,
        ImmutableDictionary<ZoneId, ImmutableDictionary<PersonId, PersonId?>>.Empty);

    private readonly ImmutableDictionary<DoorSide, ImmutableList<EscortWindow>> windows;
    private readonly ImmutableDictionary<ZoneId, ImmutableDictionary<PersonId, PersonId?>> inside;

    private EscortState(
        ImmutableDictionary<DoorSide, ImmutableList<EscortWindow>> windows,
        ImmutableDictionary<ZoneId, ImmutableDictionary<PersonId, PersonId?>> inside)
    {
        this.windows = windows;
        this.inside = inside;
    }

    /// <summary>Number of escort windows held (expired ones included until pruned).</summary>
    public int WindowCount => windows.Values.Sum(w => w.Count);

    /// <summary>The windows opened at a door in a direction, oldest first (expired ones included until pruned).</summary>
    public IReadOnlyList<EscortWindow> WindowsAt(DoorId door, Direction direction) =>
        windows.TryGetValue(new DoorSide(door, direction), out var list) ? list : [];

    /// <summary>
    /// The window a person who needs an escort can enter under at <paramref name="at"/>: opened at this door, in this
    /// direction, into this zone, no later than <paramref name="at"/> and no earlier than its length before it, by
    /// someone else. A window that already admitted the person is reused (a second swipe while the door is still
    /// closed takes no second place); otherwise it needs a free place. The most recent such window wins.
    /// </summary>
    /// <param name="allowed">The only escorts who may bring this person in (a visit that names its escorts); null: any eligible escort.</param>
    /// <param name="escorting">
    /// Whether a window's escort may still bring anyone in; null: every escort may. The engine admits only behind an
    /// active person, so a termination or suspension closes the windows its person opened before it.
    /// </param>
    public EscortWindow? FindWindow(
        DoorId door, Direction direction, ZoneId zone, PersonId person, Instant at, ImmutableHashSet<PersonId>? allowed = null, Func<PersonId, bool>? escorting = null)
    {
        if (!windows.TryGetValue(new DoorSide(door, direction), out var list))
        {
            return null;
        }

        for (var i = list.Count - 1; i >= 0; i--)
        {
            var window = list[i];
            if (window.Zone == zone && window.Escort != person && window.Opened <= at && at <= window.Until
                && (allowed is null || allowed.Contains(window.Escort))
                && (window.Admitted.Contains(person) || window.Remaining > 0)
                && (escorting is null || escorting(window.Escort)))
            {
                return window;
            }
        }

        return null;
    }

    /// <summary>The zones an escort has a window open into, at any door side (expired ones included until pruned), each once.</summary>
    /// <remarks>Asked at every granted exit: with no window open anywhere (most of the time) it allocates nothing.</remarks>
    public ImmutableArray<ZoneId> WindowZonesOf(PersonId escort) =>
        windows.IsEmpty ? [] : [.. windows.Values.SelectMany(list => list).Where(w => w.Escort == escort).Select(w => w.Zone).Distinct()];

    /// <summary>Whether a person is known to be inside a tracked zone.</summary>
    public bool IsInside(PersonId person, ZoneId zone) => inside.TryGetValue(zone, out var people) && people.ContainsKey(person);

    /// <summary>Who is known to be inside a tracked zone, each with the escort who brought them in (null: came in unescorted).</summary>
    public IReadOnlyDictionary<PersonId, PersonId?> Inside(ZoneId zone) =>
        inside.TryGetValue(zone, out var people) ? people : ImmutableDictionary<PersonId, PersonId?>.Empty;

    /// <summary>The people an escort brought into a zone who are still inside, in id order.</summary>
    public ImmutableArray<PersonId> BroughtIn(PersonId escort, ZoneId zone) =>
        inside.TryGetValue(zone, out var people)
            ? [.. people.Where(p => p.Value == escort).Select(p => p.Key).OrderBy(p => p.Value, StringComparer.Ordinal)]
            : [];

    /// <summary>
    /// Applies what a granted decision changed. <paramref name="entry"/> names the escort's log row when the outcome
    /// opens a window, so that the people it admits can be linked to it.
    /// </summary>
    public EscortState Apply(EscortOutcome outcome, EscortEntry? entry = null)
    {
        var nextWindows = windows;
        var nextInside = inside;

        if (outcome.Used is { } used)
        {
            nextWindows = Replace(nextWindows, used, w => w.Admitted.Contains(outcome.Person) ? w : w with { Admitted = w.Admitted.Add(outcome.Person) });
        }

        // An escort who left a zone brings nobody into it any more, nor into a zone inside it: the windows they opened
        // into those close at once.
        if (!outcome.ClosesWindowsInto.IsDefaultOrEmpty)
        {
            var exited = outcome.ClosesWindowsInto;
            foreach (var (side, list) in nextWindows)
            {
                var kept = list.RemoveAll(w => w.Escort == outcome.Person && exited.Contains(w.Zone));
                if (kept.Count != list.Count)
                {
                    nextWindows = kept.IsEmpty ? nextWindows.Remove(side) : nextWindows.SetItem(side, kept);
                }
            }
        }

        if (outcome.Opened is { } opened)
        {
            var side = new DoorSide(opened.Door, opened.Direction);
            var list = nextWindows.TryGetValue(side, out var existing) ? existing : [];

            // One open window per escort at a door side: a newer entry replaces the escort's earlier window there, and
            // takes over the places already taken while that one is still open. A double badge does not double the
            // places behind one escort, and the state stays as small as the number of escorts at the door, not the
            // number of their swipes.
            var admitted = opened.Admitted;
            for (var index = list.Count - 1; index >= 0; index--)
            {
                if (list[index].Escort == opened.Escort)
                {
                    admitted = list[index].Until >= opened.Opened ? admitted.Union(list[index].Admitted) : admitted;
                    list = list.RemoveAt(index);
                    break;
                }
            }

            nextWindows = nextWindows.SetItem(side, list.Add(opened with { Entry = entry ?? opened.Entry, Admitted = admitted }));
        }

        // Whoever was left behind is now unescorted: the alarm is raised once, not again at the escort's next exit.
        if (outcome.Left is { } left)
        {
            nextInside = Leave(nextInside, outcome.Person, left, outcome.LeftUnescorted);
        }

        foreach (var around in outcome.EnclosingLeft)
        {
            nextInside = Leave(nextInside, outcome.Person, around.Zone, around.Unescorted);
        }

        if (outcome.Entered is { } entered)
        {
            nextInside = Enter(nextInside, outcome.Person, entered, outcome.Used?.Escort);
        }

        foreach (var around in outcome.EnclosingEntered)
        {
            nextInside = Enter(nextInside, outcome.Person, around, outcome.Used?.Escort);
        }

        return new EscortState(nextWindows, nextInside);
    }

    /// <summary>Records the log sequence number of the row that opened a window, once that row is committed.</summary>
    public EscortState WithEntrySeq(EscortWindow opened, long seq) =>
        new(Replace(windows, opened, w => w.Entry is { } e ? w with { Entry = e with { Seq = seq } } : w), inside);

    /// <summary>Drops the windows that closed before <paramref name="now"/>.</summary>
    /// <remarks>
    /// Runs before every decision, so it must not walk every open window: windows are appended in the order they
    /// open, and one door side leads into one zone with one window length, so they also close in that order and the
    /// expired ones are a prefix. (After a site reload changes a zone's window, a shorter window may sit behind a
    /// longer one for a while; it is never used after it closes, because <see cref="FindWindow"/> checks the time.)
    /// </remarks>
    public EscortState Prune(Instant now)
    {
        var next = windows;
        foreach (var (side, list) in windows)
        {
            var expired = 0;
            while (expired < list.Count && list[expired].Until < now)
            {
                expired++;
            }

            if (expired > 0)
            {
                next = expired == list.Count ? next.Remove(side) : next.SetItem(side, list.RemoveRange(0, expired));
            }
        }

        return ReferenceEquals(next, windows) ? this : new EscortState(next, inside);
    }

    /// <summary>
    /// Moves every window by <paramref name="by"/>: the service's wall clock was stepped by that much (NTP correcting a
    /// bad clock) while no time passed. A window then keeps the real time it had left. Without it, a step back would
    /// refuse the visitors an escort has just let in (the window would open in the future), and would open the window
    /// again once the clock caught up, minutes after the escort's swipe. (The pipeline moves windows back only: a step
    /// forward may be time that really passed, and a window that closes early fails closed.)
    /// </summary>
    public EscortState Shift(Duration by)
    {
        if (by == Duration.Zero || windows.IsEmpty)
        {
            return this;
        }

        var shifted = windows.ToImmutableDictionary(
            w => w.Key,
            w => w.Value.ConvertAll(window => window with { Opened = window.Opened + by, Until = window.Until + by }));
        return new EscortState(shifted, inside);
    }

    private static ImmutableDictionary<ZoneId, ImmutableDictionary<PersonId, PersonId?>> Leave(
        ImmutableDictionary<ZoneId, ImmutableDictionary<PersonId, PersonId?>> inside, PersonId person, ZoneId zone, ImmutableArray<PersonId> leftUnescorted)
    {
        if (!inside.TryGetValue(zone, out var stayed))
        {
            return inside;
        }

        var updated = stayed.Remove(person);
        foreach (var behind in leftUnescorted.IsDefault ? [] : leftUnescorted)
        {
            if (updated.ContainsKey(behind))
            {
                updated = updated.SetItem(behind, null);
            }
        }

        return updated.IsEmpty ? inside.Remove(zone) : inside.SetItem(zone, updated);
    }

    private static ImmutableDictionary<ZoneId, ImmutableDictionary<PersonId, PersonId?>> Enter(
        ImmutableDictionary<ZoneId, ImmutableDictionary<PersonId, PersonId?>> inside, PersonId person, ZoneId zone, PersonId? escort)
    {
        var people = inside.TryGetValue(zone, out var present) ? present : ImmutableDictionary<PersonId, PersonId?>.Empty;
        return inside.SetItem(zone, people.SetItem(person, escort));
    }

    private static ImmutableDictionary<DoorSide, ImmutableList<EscortWindow>> Replace(
        ImmutableDictionary<DoorSide, ImmutableList<EscortWindow>> windows, EscortWindow target, Func<EscortWindow, EscortWindow> change)
    {
        var side = new DoorSide(target.Door, target.Direction);
        if (!windows.TryGetValue(side, out var list))
        {
            return windows;
        }

        // The window looked for is almost always one of the newest: search from the end.
        for (var index = list.Count - 1; index >= 0; index--)
        {
            if (list[index].SameWindow(target))
            {
                return windows.SetItem(side, list.SetItem(index, change(list[index])));
            }
        }

        return windows;
    }
}

/// <summary>One side of a door: escort windows are per door and direction.</summary>
public readonly record struct DoorSide(DoorId Door, Direction Direction);

/// <summary>
/// An escort's granted entry, open to the people who need an escort for a short while after it.
/// </summary>
/// <param name="Escort">The escort whose card opened the window.</param>
/// <param name="Zone">The zone the escort entered (the destination of the door in <paramref name="Direction"/>).</param>
/// <param name="Opened">When the escort's card was granted.</param>
/// <param name="Until">The last instant someone can enter under this window (inclusive).</param>
/// <param name="Capacity">How many different people may enter under it.</param>
/// <param name="Admitted">Who has entered under it so far.</param>
/// <param name="Entry">The escort's log row, once the pipeline knows it; null in the engine's own outcome.</param>
public sealed record EscortWindow(
    PersonId Escort,
    DoorId Door,
    Direction Direction,
    ZoneId Zone,
    Instant Opened,
    Instant Until,
    int Capacity,
    ImmutableHashSet<PersonId> Admitted,
    EscortEntry? Entry = null)
{
    /// <summary>Places left.</summary>
    public int Remaining => Capacity - Admitted.Count;

    /// <summary>Whether two values describe the same window (one escort, one door side, one instant), whatever their use.</summary>
    public bool SameWindow(EscortWindow other) =>
        Escort == other.Escort && Door == other.Door && Direction == other.Direction && Opened == other.Opened;
}

/// <summary>
/// Where the escort's own swipe is in the entry log: the reader and its eventId (the log's idempotency key, known at
/// once) and the row's sequence number (known after the commit).
/// </summary>
public sealed record EscortEntry(string ReaderId, string EventId, long? Seq = null);

/// <summary>
/// How a granted decision changes the <see cref="EscortState"/>, and what it means for the people an escort leaves
/// behind. Computed by the engine from the state it was given; applied by the caller after the commit.
/// </summary>
/// <param name="Person">The cardholder of the decision.</param>
/// <param name="Opened">The window this grant opens: the cardholder is an eligible escort for the zone entered.</param>
/// <param name="Used">The window this grant was admitted under: the cardholder needed an escort.</param>
/// <param name="Entered">The tracked zone the cardholder is now inside: the zone the door guards (its inner zone), entered.</param>
/// <param name="Left">The tracked zone the cardholder left: the zone the door guards, left.</param>
/// <param name="LeftUnescorted">People this cardholder brought into <paramref name="Left"/> who are still inside: each is a <c>visitor_unescorted</c> alarm.</param>
public sealed record EscortOutcome(
    PersonId Person,
    EscortWindow? Opened,
    EscortWindow? Used,
    ZoneId? Entered,
    ZoneId? Left,
    ImmutableArray<PersonId> LeftUnescorted)
{
    /// <summary>
    /// The zones the cardholder had an escort window open into and is no longer in, having just left (through an
    /// <c>out</c> reader) the zone they lie within: those windows close, so nobody follows an escort who is no longer
    /// inside. The zone left itself, and any zone inside it (a vault in the hall they walked out of).
    /// </summary>
    public ImmutableArray<ZoneId> ClosesWindowsInto { get; init; } = [];

    /// <summary>
    /// At a perimeter door straight into a nested zone: the tracked zones around <see cref="Entered"/> that the
    /// cardholder entered with it, innermost first (who comes in from outside straight into the vault is in the hall too).
    /// </summary>
    public ImmutableArray<ZoneId> EnclosingEntered { get; init; } = [];

    /// <summary>
    /// At a perimeter door out of a nested zone: the tracked zones around <see cref="Left"/> that the cardholder left
    /// with it, innermost first, each with the people they brought into it who are still inside (who leaves the site out
    /// of the vault has left the hall, and whomever they brought into it).
    /// </summary>
    public ImmutableArray<ZoneLeft> EnclosingLeft { get; init; } = [];

    public bool IsEmpty => Opened is null && Used is null && Entered is null && Left is null && LeftUnescorted.IsDefaultOrEmpty && ClosesWindowsInto.IsDefaultOrEmpty
        && EnclosingEntered.IsDefaultOrEmpty && EnclosingLeft.IsDefaultOrEmpty;

    /// <summary>Every tracked zone left, the one the door guards first, each with whom the cardholder left behind in it.</summary>
    public IEnumerable<ZoneLeft> AllLeft()
    {
        if (Left is { } left)
        {
            yield return new ZoneLeft(left, LeftUnescorted.IsDefault ? [] : LeftUnescorted);
        }

        foreach (var around in EnclosingLeft)
        {
            yield return around;
        }
    }

    /// <summary>Value equality, the arrays by their elements (an array compares by reference): the same inputs give an equal outcome.</summary>
    public bool Equals(EscortOutcome? other) =>
        other is not null && Person == other.Person && Equals(Opened, other.Opened) && Equals(Used, other.Used) && Entered == other.Entered && Left == other.Left
        && LeftUnescorted.AsSpan().SequenceEqual(other.LeftUnescorted.AsSpan()) && ClosesWindowsInto.AsSpan().SequenceEqual(other.ClosesWindowsInto.AsSpan())
        && EnclosingEntered.AsSpan().SequenceEqual(other.EnclosingEntered.AsSpan()) && EnclosingLeft.AsSpan().SequenceEqual(other.EnclosingLeft.AsSpan());

    public override int GetHashCode() => HashCode.Combine(
        Person, Opened, Used, Entered, Left, LeftUnescorted.IsDefault ? 0 : LeftUnescorted.Length, ClosesWindowsInto.IsDefault ? 0 : ClosesWindowsInto.Length,
        EnclosingEntered.IsDefault ? 0 : EnclosingEntered.Length + (EnclosingLeft.IsDefault ? 0 : EnclosingLeft.Length));
}

/// <summary>A tracked zone a cardholder left, with the people they brought into it who are still inside (each a <c>visitor_unescorted</c> alarm).</summary>
public sealed record ZoneLeft(ZoneId Zone, ImmutableArray<PersonId> Unescorted)
{
    /// <summary>Value equality, <see cref="Unescorted"/> by its elements (an array compares by reference).</summary>
    public bool Equals(ZoneLeft? other) => other is not null && Zone == other.Zone && Unescorted.AsSpan().SequenceEqual(other.Unescorted.AsSpan());

    public override int GetHashCode() => HashCode.Combine(Zone, Unescorted.IsDefault ? 0 : Unescorted.Length);
}

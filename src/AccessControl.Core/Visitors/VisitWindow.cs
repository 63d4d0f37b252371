using NodaTime;

namespace AccessControl.Visitors;

/// <summary>Where an instant falls relative to a visit's check-in period.</summary>
public enum CheckInTiming
{
    /// <summary>Before the check-in period opens (window start minus the lead time).</summary>
    TooEarly,

    /// <summary>Check-in is allowed.</summary>
    Open,

    /// <summary>At or after the end of the window: the visit is over.</summary>
    Ended,
}

/// <summary>
/// When a visit takes place, as the host says it: a day and a range of wall-clock times in the site's time zone.
/// A range whose end is not after its start runs past midnight into the next day (22:00-06:00 is a night visit).
/// </summary>
/// <remarks>
/// Wall-clock times are what people agree on ("Tuesday, 9 to 12"), and they stay right when the site's offset
/// changes between the request and the visit. They become instants once, when the visit is requested (the stored
/// <c>starts_at</c>/<c>ends_at</c> the approver sees and the desk, the badge, the listings and the overdue check go by),
/// with the site's zone and two rules for the nights the clocks change:
/// <list type="bullet">
/// <item>A time that does not exist (skipped when the clocks go forward: 02:30 on a Berlin spring night) is not a
/// window's start or end: <see cref="ProblemsIn"/> names it, and the request is refused. Moving it on by the gap, as
/// NodaTime's lenient resolver does, would open or close an access window at a time nobody asked for, and could put
/// the end before the start (02:30-03:00 would be 03:30-03:00).</item>
/// <item>A time that happens twice (repeated when the clocks go back: 02:30 on a Berlin autumn night) is its first
/// occurrence, for the start and the end alike: the first time a wall clock shows it. So the visit ends when the clock
/// first reads its end (the shorter window, not an hour more), 02:15-02:45 lasts half an hour as written, and the
/// rule is the one calendars use (RFC 5545). The answer's <c>window.startsLocal</c>/<c>endsLocal</c> show which, by their offset.</item>
/// </list>
/// So a night visit 22:00-06:00 lasts 9 hours of real time on a fall-back night and 7 on a spring-forward night.
/// </remarks>
public sealed record VisitWindow(LocalDate Date, LocalTime Start, LocalTime End)
{
    /// <summary>The default time before the start from which the front desk may check a visitor in.</summary>
    public static Duration DefaultCheckInLead { get; } = Duration.FromMinutes(30);

    /// <summary>
    /// The most the clocks of a site may go back within a window: three hours, the largest step back of any zone since
    /// 2000 (Antarctica/Casey, +11 to +08; Antarctica/Troll goes back two hours every year, summer time elsewhere one).
    /// </summary>
    public static Duration MaxClockSetBack { get; } = Duration.FromHours(3);

    /// <summary>
    /// The longest a window lasts in real time: less than a day of wall clock (start and end differ), plus
    /// <see cref="MaxClockSetBack"/> when the clocks go back within it. A window that would last longer (a zone going
    /// back further that night) is refused (<see cref="ProblemsIn"/>), so no stored visit lasts longer, and a query for the
    /// visits running at an instant need only read those starting at most this long before it.
    /// </summary>
    public static Duration MaxLength { get; } = Duration.FromDays(1) + MaxClockSetBack;

    /// <summary>Whether the window runs past midnight into the next day.</summary>
    public bool SpansMidnight => End <= Start;

    /// <summary>The local date and time the window starts.</summary>
    public LocalDateTime LocalStart => Date + Start;

    /// <summary>The local date and time the window ends (on the next day when it spans midnight).</summary>
    public LocalDateTime LocalEnd => (SpansMidnight ? Date.PlusDays(1) : Date) + End;

    /// <summary>
    /// Whether <paramref name="date"/> can hold a visit: a day with a day either side. A window past midnight ends the
    /// next day, and a day's instants reach 14 hours into its neighbours in some zone; NodaTime's calendar has neither
    /// beyond its first and last day.
    /// </summary>
    public static bool IsVisitDay(LocalDate date) => date > LocalDate.MinIsoValue && date < LocalDate.MaxIsoValue;

    /// <summary>Whether the window is well formed: its start and end differ (a window is shorter than a day).</summary>
    public bool IsValid => Start != End;

    /// <summary>
    /// Why the window cannot be turned into instants in <paramref name="zone"/>: a start or end the clocks skip that
    /// night (see the remarks), each with its field (<c>start</c>, <c>end</c>) and a message for the person who typed
    /// it. Empty when <see cref="ToInterval"/> can be called.
    /// </summary>
    public IReadOnlyList<WindowProblem> ProblemsIn(DateTimeZone zone) => Resolve(zone).Problems;

    /// <summary>The window as instants [start, end) in the given zone (see the remarks for DST nights).</summary>
    /// <exception cref="InvalidOperationException">The window is not valid, or has <see cref="ProblemsIn"/> the zone: check those first.</exception>
    public Interval ToInterval(DateTimeZone zone)
    {
        if (!IsValid)
        {
            throw new InvalidOperationException("A visit window needs different start and end times.");
        }

        var (interval, problems) = Resolve(zone);
        return interval ?? throw new InvalidOperationException($"The window {this} cannot be resolved in {zone.Id}: {problems[0].Field} {problems[0].Message}");
    }

    /// <summary>Whether a check-in at <paramref name="now"/> is too early, allowed, or too late for a window stored as <paramref name="window"/>.</summary>
    /// <param name="lead">How long before the start check-in opens.</param>
    public static CheckInTiming CheckInAt(Interval window, Instant now, Duration lead)
    {
        if (lead < Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(lead), lead, "The check-in lead time cannot be negative.");
        }

        return now < window.Start - lead ? CheckInTiming.TooEarly
            : now >= window.End ? CheckInTiming.Ended
            : CheckInTiming.Open;
    }

    /// <summary>
    /// The first instant of <paramref name="date"/> in <paramref name="zone"/>, like <see cref="DateTimeZone.AtStartOfDay"/>
    /// (the end of the gap when midnight is skipped), but without its exception for a day skipped whole (Pacific/Apia,
    /// 30 December 2011): then the instant the clocks jumped, when the next day begins.
    /// </summary>
    public static Instant StartOfDay(DateTimeZone zone, LocalDate date)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var mapping = zone.MapLocal(date.AtMidnight());
        return mapping.Count > 0 ? zone.AtStartOfDay(date).ToInstant() : mapping.LateInterval.Start;
    }

    private (Interval? Interval, IReadOnlyList<WindowProblem> Problems) Resolve(DateTimeZone zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var problems = new List<WindowProblem>();
        var start = FirstOccurrence(zone, LocalStart, "start", problems);
        var end = FirstOccurrence(zone, LocalEnd, "end", problems);
        if (start is { } s && end is { } e && e <= s)
        {
            // Only where the clocks go back by more than the window's length in one step; never in Berlin.
            problems.Add(new WindowProblem("end", $"falls before the start on {LocalEnd.Date:uuuu'-'MM'-'dd} in the site's time zone ({zone.Id}), whose clocks go back that night"));
        }
        else if (start is { } from && end is { } to && to - from > MaxLength)
        {
            // Only where the clocks go back by more than MaxClockSetBack within the window; no zone has since 2000.
            problems.Add(new WindowProblem("end", string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"makes the window last {(to - from).TotalHours:0.##} hours in the site's time zone ({zone.Id}), whose clocks go back that night; a visit lasts at most {MaxLength.TotalHours:0.##} hours: split it in two")));
        }

        return (problems.Count == 0 ? new Interval(start!.Value, end!.Value) : null, problems);
    }

    private static Instant? FirstOccurrence(DateTimeZone zone, LocalDateTime time, string field, List<WindowProblem> problems)
    {
        var mapping = zone.MapLocal(time);
        if (mapping.Count > 0)
        {
            return mapping.First().ToInstant();
        }

        var (from, to) = (mapping.EarlyInterval.IsoLocalEnd, mapping.LateInterval.IsoLocalStart);
        problems.Add(new WindowProblem(field,
            $"{Clock(time, time.Date)} does not exist on {time.Date:uuuu'-'MM'-'dd} in the site's time zone ({zone.Id}): the clocks go forward " +
            $"from {Clock(from, time.Date)} to {Clock(to, time.Date)} that night; choose a time before {Clock(from, time.Date)} or from {Clock(to, time.Date)}"));
        return null;
    }

    /// <summary>A wall-clock time as people write it, with its date when that is not <paramref name="day"/>.</summary>
    private static string Clock(LocalDateTime time, LocalDate day) =>
        (time.Date == day ? "" : $"{time.Date:uuuu'-'MM'-'dd} ") + (time.Second == 0 ? $"{time.TimeOfDay:HH':'mm}" : $"{time.TimeOfDay:HH':'mm':'ss}");

    /// <summary>The window as the API and the log write it: <c>2026-12-01 09:00-12:00</c>.</summary>
    public override string ToString() =>
        $"{Date:uuuu'-'MM'-'dd} {Start:HH':'mm}-{End:HH':'mm}";
}

/// <summary>Why a visit window's start or end cannot be used in a zone: the field (<c>start</c> or <c>end</c>) and what to tell the person who typed it.</summary>
public sealed record WindowProblem(string Field, string Message);

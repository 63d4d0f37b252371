using NodaTime;
using NodaTime.TimeZones;

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
/// changes between the request and the visit. They become instants only when needed, with the site's zone and
/// NodaTime's lenient resolver: a time that does not exist (skipped by a spring-forward change) moves forward by the
/// length of the gap (02:30 on a Berlin spring night is 03:30 CEST), and an ambiguous time (repeated by a fall-back
/// change) is its earlier occurrence. So a visit 01:00-04:00 on a fall-back night lasts four hours of real time, and
/// on a spring-forward night two.
/// </remarks>
public sealed record VisitWindow(LocalDate Date, LocalTime Start, LocalTime End)
{
    /// <summary>The default time before the start from which the front desk may check a visitor in.</summary>
    public static Duration DefaultCheckInLead { get; } = Duration.FromMinutes(30);

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

    /// <summary>The window as instants [start, end) in the given zone (see the remarks for DST nights).</summary>
    public Interval ToInterval(DateTimeZone zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        if (!IsValid)
        {
            throw new InvalidOperationException("A visit window needs different start and end times.");
        }

        var start = zone.ResolveLocal(LocalStart, Resolvers.LenientResolver).ToInstant();
        var end = zone.ResolveLocal(LocalEnd, Resolvers.LenientResolver).ToInstant();
        return new Interval(start, end);
    }

    /// <summary>From when the front desk may check a visitor in: the start minus <paramref name="lead"/>.</summary>
    public Instant CheckInOpensAt(DateTimeZone zone, Duration lead) => ToInterval(zone).Start - lead;

    /// <summary>Whether a check-in at <paramref name="now"/> is too early, allowed, or too late.</summary>
    public CheckInTiming CheckInAt(Instant now, DateTimeZone zone, Duration lead)
    {
        if (lead < Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(lead), lead, "The check-in lead time cannot be negative.");
        }

        var interval = ToInterval(zone);
        return now < interval.Start - lead ? CheckInTiming.TooEarly
            : now >= interval.End ? CheckInTiming.Ended
            : CheckInTiming.Open;
    }

    /// <summary>The window as the API and the log write it: <c>2026-12-01 09:00-12:00</c>.</summary>
    public override string ToString() =>
        $"{Date:uuuu'-'MM'-'dd} {Start:HH':'mm}-{End:HH':'mm}";
}

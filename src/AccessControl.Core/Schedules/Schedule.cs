using System.Collections.Immutable;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Schedules;

/// <summary>
/// A half-open range of local time of day, [Start, End). A null <see cref="End"/> means up to midnight at the end of the day.
/// </summary>
public readonly record struct TimeOfDayRange(LocalTime Start, LocalTime? End)
{
    public bool Contains(LocalTime time) => time >= Start && (End is null || time < End.Value);

    public override string ToString() => $"{Start:HH':'mm}-{(End is null ? "24:00" : End.Value.ToString("HH':'mm", null))}";
}

/// <summary>One weekly interval: a day of the week and a local time range on it.</summary>
public readonly record struct WeeklyInterval(IsoDayOfWeek Day, TimeOfDayRange Range);

/// <summary>
/// When an access level applies: weekly intervals in the site's local time, with holidays. A schedule belongs to one
/// site (<see cref="Site"/>): an access level names a schedule by id, and the id is read at the site of the door.
/// </summary>
/// <remarks>
/// Evaluated on the local date and time the instant maps to in the site's zone, so that "07:00-19:00" means
/// 07:00 on the wall clock on both sides of a daylight-saving change. Local times that do not exist
/// (the spring gap) are never produced by that mapping; times that occur twice (the autumn overlap) are
/// inside an interval both times, which is what a person at the door expects.
/// On a holiday, only <see cref="HolidayIntervals"/> apply (none: closed all day).
/// </remarks>
public sealed record Schedule(
    ScheduleId Id,
    string Name,
    ImmutableArray<WeeklyInterval> Intervals,
    ImmutableHashSet<LocalDate> Holidays,
    ImmutableArray<TimeOfDayRange> HolidayIntervals)
{
    /// <summary>
    /// The site that declares the schedule; its hours and holidays are that site's. Two sites may each have a
    /// <c>business-hours</c> of their own. Null only for the built-in <see cref="Always"/>, which every site shares.
    /// </summary>
    public SiteId? Site { get; init; }

    /// <summary>The built-in schedule that is active at all times, holidays included.</summary>
    public static Schedule Always { get; } = new(
        ScheduleId.Always,
        "Always",
        [.. Enum.GetValues<IsoDayOfWeek>().Where(d => d != IsoDayOfWeek.None).Select(d => new WeeklyInterval(d, new TimeOfDayRange(LocalTime.Midnight, null)))],
        [],
        [new TimeOfDayRange(LocalTime.Midnight, null)]);

    /// <summary>Whether the schedule is active at <paramref name="instant"/> in the given site time zone.</summary>
    public bool IsActive(Instant instant, DateTimeZone zone) => IsActive(instant.InZone(zone).LocalDateTime);

    /// <summary>Whether the schedule is active at a local date and time.</summary>
    public bool IsActive(LocalDateTime local)
    {
        var time = local.TimeOfDay;
        if (Holidays.Contains(local.Date))
        {
            foreach (var range in HolidayIntervals)
            {
                if (range.Contains(time))
                {
                    return true;
                }
            }

            return false;
        }

        var day = local.DayOfWeek;
        foreach (var interval in Intervals)
        {
            if (interval.Day == day && interval.Range.Contains(time))
            {
                return true;
            }
        }

        return false;
    }
}

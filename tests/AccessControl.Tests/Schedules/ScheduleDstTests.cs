using System.Globalization;
using AccessControl.Schedules;
using AccessControl.Sites;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.Schedules;

/// <summary>
/// Schedules are wall-clock rules: "07:00-19:00" must mean 07:00 on the site's clock on both sides of a
/// daylight-saving change. Every test here would fail if the schedule compared UTC times.
/// </summary>
public class ScheduleDstTests
{
    private static readonly IsoDayOfWeek[] Weekdays =
        [IsoDayOfWeek.Monday, IsoDayOfWeek.Tuesday, IsoDayOfWeek.Wednesday, IsoDayOfWeek.Thursday, IsoDayOfWeek.Friday];

    private static readonly Schedule OfficeHours = new(
        new ScheduleId("office-hours"),
        "Mon-Fri 07:00-19:00",
        [.. Weekdays.Select(d => new WeeklyInterval(d, Range(7, 0, 19, 0)))],
        [],
        []);

    /// <summary>The four changes of 2026: zone, the Sunday of the change, UTC offset (hours) before and after.</summary>
    public static TheoryData<string, LocalDate, int, int> Changes => new()
    {
        { "Europe/Berlin", new LocalDate(2026, 3, 29), 1, 2 },
        { "Europe/Berlin", new LocalDate(2026, 10, 25), 2, 1 },
        { "America/New_York", new LocalDate(2026, 3, 8), -5, -4 },
        { "America/New_York", new LocalDate(2026, 11, 1), -4, -5 },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_MondayAfterChange_OpensAt0700LocalNotAt0659(string zoneId, LocalDate changeSunday, int offsetBefore, int offsetAfter)
    {
        var zone = DateTimeZoneProviders.Tzdb[zoneId];
        var mondayAfter = changeSunday.PlusDays(1);
        var sevenAfter = zone.AtStrictly(mondayAfter.At(new LocalTime(7, 0))).ToInstant();
        var sevenBefore = zone.AtStrictly(mondayAfter.PlusDays(-7).At(new LocalTime(7, 0))).ToInstant();

        // The offset really moved: 07:00 local is a different UTC time of day on the two Mondays.
        Assert.Equal(Offset.FromHours(offsetBefore), zone.GetUtcOffset(sevenBefore));
        Assert.Equal(Offset.FromHours(offsetAfter), zone.GetUtcOffset(sevenAfter));
        Assert.Equal(Duration.FromDays(7) - Duration.FromHours(offsetAfter - offsetBefore), sevenAfter - sevenBefore);
        Assert.NotEqual(sevenBefore.InUtc().TimeOfDay, sevenAfter.InUtc().TimeOfDay);

        var clock = new FakeClock(sevenBefore - Duration.FromMinutes(1));
        Assert.False(OfficeHours.IsActive(clock.GetCurrentInstant(), zone));
        clock.AdvanceMinutes(1);
        Assert.True(OfficeHours.IsActive(clock.GetCurrentInstant(), zone));

        // Exactly one week later by the UTC clock the wall clock shows 08:00 (spring) or 06:00 (autumn).
        clock.AdvanceHours(7 * 24);
        var sameUtcNextWeek = clock.GetCurrentInstant().InZone(zone);
        Assert.Equal(new LocalTime(7 + offsetAfter - offsetBefore, 0), sameUtcNextWeek.TimeOfDay);
        Assert.Equal(offsetAfter > offsetBefore, OfficeHours.IsActive(clock.GetCurrentInstant(), zone));

        // Walk to the real 07:00 local of the Monday after the change.
        clock.Reset(sevenAfter - Duration.FromMinutes(1));
        Assert.Equal(new LocalTime(6, 59), clock.GetCurrentInstant().InZone(zone).TimeOfDay);
        Assert.False(OfficeHours.IsActive(clock.GetCurrentInstant(), zone));
        clock.AdvanceMinutes(1);
        Assert.True(OfficeHours.IsActive(clock.GetCurrentInstant(), zone));
        clock.AdvanceHours(12);
        Assert.False(OfficeHours.IsActive(clock.GetCurrentInstant(), zone)); // 19:00, end exclusive
        clock.AdvanceMinutes(-1);
        Assert.True(OfficeHours.IsActive(clock.GetCurrentInstant(), zone));
    }

    [Theory]
    [MemberData(nameof(Changes))]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_OfficeHoursWalkedHourlyOverChangeWeekend_OpenExactlyOnWeekdayWallClockHours(string zoneId, LocalDate changeSunday, int offsetBefore, int offsetAfter)
    {
        var zone = DateTimeZoneProviders.Tzdb[zoneId];
        var fridayNoon = zone.AtStrictly(changeSunday.PlusDays(-2).At(new LocalTime(12, 0))).ToInstant();
        var mondayNoon = zone.AtStrictly(changeSunday.PlusDays(1).At(new LocalTime(12, 0))).ToInstant();
        var clock = new FakeClock(fridayNoon);

        var active = new List<string>();
        while (clock.GetCurrentInstant() <= mondayNoon)
        {
            if (OfficeHours.IsActive(clock.GetCurrentInstant(), zone))
            {
                active.Add(Describe(clock.GetCurrentInstant().InZone(zone)));
            }

            clock.AdvanceHours(1);
        }

        var before = Offset.FromHours(offsetBefore).ToString("+HH", CultureInfo.InvariantCulture);
        var after = Offset.FromHours(offsetAfter).ToString("+HH", CultureInfo.InvariantCulture);
        string[] expected =
        [
            $"Fri 12:00{before}", $"Fri 13:00{before}", $"Fri 14:00{before}", $"Fri 15:00{before}", $"Fri 16:00{before}",
            $"Fri 17:00{before}", $"Fri 18:00{before}",
            $"Mon 07:00{after}", $"Mon 08:00{after}", $"Mon 09:00{after}", $"Mon 10:00{after}", $"Mon 11:00{after}",
            $"Mon 12:00{after}",
        ];
        Assert.Equal(expected, active);
    }

    public static TheoryData<string, LocalDate, string[], string[]> FallBackNights => new()
    {
        {
            // 03:00 CEST becomes 02:00 CET: 02:00-02:59 happens twice.
            "Europe/Berlin", new LocalDate(2026, 10, 25),
            ["00:00+02", "00:30+02", "01:00+02", "01:30+02", "02:00+02", "02:30+02", "02:00+01", "02:30+01", "03:00+01", "03:30+01", "04:00+01"],
            ["01:00+02", "01:30+02", "02:00+02", "02:30+02", "02:00+01", "02:30+01"]
        },
        {
            // 02:00 EDT becomes 01:00 EST: 01:00-01:59 happens twice.
            "America/New_York", new LocalDate(2026, 11, 1),
            ["00:00-04", "00:30-04", "01:00-04", "01:30-04", "01:00-05", "01:30-05", "02:00-05", "02:30-05", "03:00-05", "03:30-05", "04:00-05"],
            ["01:00-04", "01:30-04", "01:00-05", "01:30-05", "02:00-05", "02:30-05"]
        },
    };

    [Theory]
    [MemberData(nameof(FallBackNights))]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_IntervalOverFallBackOverlap_ActiveForBothOccurrences(string zoneId, LocalDate sunday, string[] expectedWalk, string[] expectedActive)
    {
        var zone = DateTimeZoneProviders.Tzdb[zoneId];
        var schedule = SundayOnly(Range(1, 0, 3, 0));
        var clock = new FakeClock(zone.AtStrictly(sunday.AtMidnight()).ToInstant());

        var walk = new List<string>();
        var active = new List<string>();
        for (var i = 0; i < expectedWalk.Length; i++)
        {
            var local = clock.GetCurrentInstant().InZone(zone);
            walk.Add(Clock(local));
            if (schedule.IsActive(clock.GetCurrentInstant(), zone))
            {
                active.Add(Clock(local));
            }

            clock.AdvanceMinutes(30);
        }

        Assert.Equal(expectedWalk, walk);
        Assert.Equal(expectedActive, active);

        // Three real hours of access for a two-hour wall-clock interval: both occurrences count.
        Assert.Equal(6, active.Count);
    }

    [Theory]
    [InlineData("Europe/Berlin", 2026, 10, 25, 2, 30)]
    [InlineData("America/New_York", 2026, 11, 1, 1, 30)]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_AmbiguousLocalTime_BothMappingsActive(string zoneId, int year, int month, int day, int hour, int minute)
    {
        var zone = DateTimeZoneProviders.Tzdb[zoneId];
        var mapping = zone.MapLocal(new LocalDateTime(year, month, day, hour, minute));
        Assert.Equal(2, mapping.Count);

        var schedule = SundayOnly(Range(1, 0, 3, 0));

        Assert.True(schedule.IsActive(mapping.First().ToInstant(), zone));
        Assert.True(schedule.IsActive(mapping.Last().ToInstant(), zone));
        Assert.Equal(Duration.FromHours(1), mapping.Last().ToInstant() - mapping.First().ToInstant());
    }

    public static TheoryData<string, LocalDate, string[], string[]> SpringForwardNights => new()
    {
        {
            "Europe/Berlin", new LocalDate(2026, 3, 29),
            ["00:00+01", "00:30+01", "01:00+01", "01:30+01", "03:00+02", "03:30+02", "04:00+02", "04:30+02"],
            ["03:00+02", "03:30+02"]
        },
        {
            "America/New_York", new LocalDate(2026, 3, 8),
            ["00:00-05", "00:30-05", "01:00-05", "01:30-05", "03:00-04", "03:30-04", "04:00-04", "04:30-04"],
            ["03:00-04", "03:30-04"]
        },
    };

    [Theory]
    [MemberData(nameof(SpringForwardNights))]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_IntervalOverSpringGap_ActiveFromTheJumpUntilEnd(string zoneId, LocalDate sunday, string[] expectedWalk, string[] expectedActive)
    {
        var zone = DateTimeZoneProviders.Tzdb[zoneId];
        var schedule = SundayOnly(Range(2, 0, 4, 0));
        var clock = new FakeClock(zone.AtStrictly(sunday.AtMidnight()).ToInstant());

        var walk = new List<string>();
        var active = new List<string>();
        for (var i = 0; i < expectedWalk.Length; i++)
        {
            var local = clock.GetCurrentInstant().InZone(zone);
            walk.Add(Clock(local));
            if (schedule.IsActive(clock.GetCurrentInstant(), zone))
            {
                active.Add(Clock(local));
            }

            clock.AdvanceMinutes(30);
        }

        Assert.Equal(expectedWalk, walk);
        Assert.Equal(expectedActive, active);
    }

    [Theory]
    [InlineData("Europe/Berlin", 2026, 3, 29)]
    [InlineData("America/New_York", 2026, 3, 8)]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_SpringGapInterval_ActiveAt0330AndAtTheJumpNotAt0400(string zoneId, int year, int month, int day)
    {
        var zone = DateTimeZoneProviders.Tzdb[zoneId];
        var sunday = new LocalDate(year, month, day);
        var schedule = SundayOnly(Range(2, 0, 4, 0));
        var halfPastThree = zone.AtStrictly(sunday.At(new LocalTime(3, 30))).ToInstant();

        var clock = new FakeClock(halfPastThree);
        Assert.True(schedule.IsActive(clock.GetCurrentInstant(), zone));
        clock.AdvanceMinutes(30);
        Assert.Equal(new LocalTime(4, 0), clock.GetCurrentInstant().InZone(zone).TimeOfDay);
        Assert.False(schedule.IsActive(clock.GetCurrentInstant(), zone));

        // One tick before the jump the wall clock reads 01:59:59.999999999; at the jump it reads 03:00.
        clock.Reset(zone.AtStrictly(sunday.At(new LocalTime(3, 0))).ToInstant());
        Assert.True(schedule.IsActive(clock.GetCurrentInstant(), zone));
        clock.Advance(-Duration.Epsilon);
        Assert.Equal(1, clock.GetCurrentInstant().InZone(zone).Hour);
        Assert.False(schedule.IsActive(clock.GetCurrentInstant(), zone));
    }

    private static Schedule SundayOnly(TimeOfDayRange range) =>
        new(new ScheduleId("sunday-night"), "Sunday night", [new WeeklyInterval(IsoDayOfWeek.Sunday, range)], [], []);

    private static TimeOfDayRange Range(int startHour, int startMinute, int endHour, int endMinute) =>
        new(new LocalTime(startHour, startMinute), new LocalTime(endHour, endMinute));

    private static string Clock(ZonedDateTime local) =>
        local.TimeOfDay.ToString("HH':'mm", CultureInfo.InvariantCulture) + local.Offset.ToString("+HH", CultureInfo.InvariantCulture);

    private static string Describe(ZonedDateTime local) =>
        local.DayOfWeek.ToString()[..3] + " " + Clock(local);
}

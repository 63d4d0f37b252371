using AccessControl.Schedules;
using AccessControl.Sites;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.Schedules;

public class ScheduleTests
{
    private static readonly DateTimeZone Berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
    private static readonly LocalDate ChristmasEve = new(2026, 12, 24); // a Thursday
    private static readonly LocalDate BoxingDay = new(2026, 12, 26); // a Saturday

    private static readonly TimeOfDayRange Office = new(new LocalTime(7, 0), new LocalTime(19, 0));

    private static readonly Schedule WeekdaysWithHolidays = new(
        new ScheduleId("office-with-holidays"),
        "Mon-Fri 07:00-19:00, holidays 09:00-12:00",
        [.. new[] { IsoDayOfWeek.Monday, IsoDayOfWeek.Tuesday, IsoDayOfWeek.Wednesday, IsoDayOfWeek.Thursday, IsoDayOfWeek.Friday }
            .Select(d => new WeeklyInterval(d, Office))],
        [ChristmasEve, BoxingDay],
        [new TimeOfDayRange(new LocalTime(9, 0), new LocalTime(12, 0))]);

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_EndOfDayRange_CoversLastSecondBeforeMidnight()
    {
        var lateShift = new Schedule(
            new ScheduleId("late"),
            "Fri 22:00-24:00",
            [new WeeklyInterval(IsoDayOfWeek.Friday, new TimeOfDayRange(new LocalTime(22, 0), null))],
            [],
            []);
        var friday = new LocalDate(2026, 11, 27);
        var clock = new FakeClock(Berlin.AtStrictly(friday.At(new LocalTime(23, 59, 59))).ToInstant());

        Assert.True(lateShift.IsActive(clock.GetCurrentInstant(), Berlin));
        clock.Advance(Duration.FromSeconds(1) - Duration.Epsilon);
        Assert.True(lateShift.IsActive(clock.GetCurrentInstant(), Berlin));
        clock.Advance(Duration.Epsilon);
        Assert.Equal(LocalTime.Midnight, clock.GetCurrentInstant().InZone(Berlin).TimeOfDay);
        Assert.False(lateShift.IsActive(clock.GetCurrentInstant(), Berlin)); // Saturday 00:00
    }

    [Fact]
    public void TimeOfDayRange_NullEnd_ContainsEverythingFromStartAndPrintsAs2400()
    {
        var range = new TimeOfDayRange(new LocalTime(22, 0), null);

        Assert.False(range.Contains(new LocalTime(21, 59, 59)));
        Assert.True(range.Contains(new LocalTime(22, 0)));
        Assert.True(range.Contains(new LocalTime(23, 59, 59)));
        Assert.True(range.Contains(LocalTime.MaxValue));
        Assert.Equal("22:00-24:00", range.ToString());
        Assert.Equal("07:00-19:00", Office.ToString());
    }

    [Fact]
    public void TimeOfDayRange_IsHalfOpen()
    {
        Assert.True(Office.Contains(new LocalTime(7, 0)));
        Assert.False(Office.Contains(new LocalTime(6, 59, 59)));
        Assert.True(Office.Contains(new LocalTime(18, 59, 59)));
        Assert.False(Office.Contains(new LocalTime(19, 0)));
    }

    [Theory]
    [Trait("control", "NIST-PE-3")]
    [InlineData(8, 0, false)] // a weekday interval would be open; the holiday overrides it
    [InlineData(9, 0, true)]
    [InlineData(11, 59, true)]
    [InlineData(12, 0, false)]
    [InlineData(15, 0, false)]
    public void IsActive_HolidayOnWeekday_OnlyHolidayIntervalsApply(int hour, int minute, bool expected)
    {
        Assert.Equal(expected, WeekdaysWithHolidays.IsActive(ChristmasEve.At(new LocalTime(hour, minute))));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_HolidayOnWeekend_HolidayIntervalsOpenTheDay()
    {
        Assert.True(WeekdaysWithHolidays.IsActive(BoxingDay.At(new LocalTime(10, 0))));
        Assert.False(WeekdaysWithHolidays.IsActive(BoxingDay.PlusDays(1).At(new LocalTime(10, 0)))); // ordinary Sunday
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_DayAfterHoliday_WeeklyIntervalsApplyAgain()
    {
        var friday = ChristmasEve.PlusDays(1);

        Assert.True(WeekdaysWithHolidays.IsActive(friday.At(new LocalTime(8, 0))));
        Assert.False(WeekdaysWithHolidays.IsActive(friday.At(new LocalTime(19, 0))));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_HolidayWithoutHolidayIntervals_ClosedAllDay()
    {
        var closedOnHolidays = WeekdaysWithHolidays with { HolidayIntervals = [] };
        var clock = new FakeClock(Berlin.AtStartOfDay(ChristmasEve).ToInstant());

        for (var hour = 0; hour < 24; hour++)
        {
            Assert.False(closedOnHolidays.IsActive(clock.GetCurrentInstant(), Berlin), $"hour {hour}");
            clock.AdvanceHours(1);
        }

        Assert.True(closedOnHolidays.IsActive(ChristmasEve.PlusDays(-1).At(new LocalTime(10, 0))));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void IsActive_HolidayDateIsLocalDateOfSite_NotUtcDate()
    {
        // 23:30 UTC on 23 December is already 00:30 on Christmas Eve in Berlin: holiday rules apply.
        var schedule = WeekdaysWithHolidays with
        {
            Intervals = [new WeeklyInterval(IsoDayOfWeek.Thursday, new TimeOfDayRange(LocalTime.Midnight, null)),
                new WeeklyInterval(IsoDayOfWeek.Wednesday, new TimeOfDayRange(LocalTime.Midnight, null))],
        };
        var instant = Instant.FromUtc(2026, 12, 23, 23, 30);

        Assert.False(schedule.IsActive(instant, Berlin));
        Assert.True(schedule.IsActive(instant, DateTimeZone.Utc));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Always_IsActiveEveryHourOfAYearIncludingDstChanges()
    {
        var zone = DateTimeZoneProviders.Tzdb["America/New_York"];
        var clock = new FakeClock(Instant.FromUtc(2026, 1, 1, 0, 0));
        var end = Instant.FromUtc(2027, 1, 1, 0, 0);

        while (clock.GetCurrentInstant() < end)
        {
            Assert.True(Schedule.Always.IsActive(clock.GetCurrentInstant(), zone));
            clock.AdvanceMinutes(59);
        }

        Assert.True(Schedule.Always.IsActive(new LocalDateTime(2026, 12, 31, 23, 59, 59).PlusNanoseconds(999_999_999)));
        Assert.True(Schedule.Always.IsActive(new LocalDate(2026, 12, 25).AtMidnight()));
        Assert.Equal(ScheduleId.Always, Schedule.Always.Id);
        Assert.Equal(7, Schedule.Always.Intervals.Length);
    }

    [Fact]
    public void IsActive_EmptySchedule_NeverActive()
    {
        var never = new Schedule(new ScheduleId("never"), "Never", [], [], []);
        var clock = new FakeClock(Instant.FromUtc(2026, 11, 23, 0, 0));

        for (var hour = 0; hour < 7 * 24; hour++)
        {
            Assert.False(never.IsActive(clock.GetCurrentInstant(), Berlin));
            clock.AdvanceHours(1);
        }
    }
}

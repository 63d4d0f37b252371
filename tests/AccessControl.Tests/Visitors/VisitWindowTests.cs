using AccessControl.Visitors;
using NodaTime;

namespace AccessControl.Tests.Visitors;

[Trait("control", "PCI-9.3.2")]
[Trait("control", "NIST-PE-8")]
public class VisitWindowTests
{
    private static readonly DateTimeZone Berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];
    private static readonly DateTimeZone NewYork = DateTimeZoneProviders.Tzdb["America/New_York"];

    [Fact]
    public void ToInterval_OrdinaryWinterDay_UsesTheWinterOffset()
    {
        var window = new VisitWindow(new LocalDate(2026, 12, 1), new LocalTime(9, 0), new LocalTime(12, 0));

        var interval = window.ToInterval(Berlin);

        Assert.Equal(Instant.FromUtc(2026, 12, 1, 8, 0), interval.Start);
        Assert.Equal(Instant.FromUtc(2026, 12, 1, 11, 0), interval.End);
        Assert.False(window.SpansMidnight);
    }

    [Fact]
    public void ToInterval_NightVisit_EndsOnTheNextDay()
    {
        var window = new VisitWindow(new LocalDate(2026, 12, 1), new LocalTime(22, 0), new LocalTime(6, 0));

        var interval = window.ToInterval(Berlin);

        Assert.True(window.SpansMidnight);
        Assert.Equal(Instant.FromUtc(2026, 12, 1, 21, 0), interval.Start);
        Assert.Equal(Instant.FromUtc(2026, 12, 2, 5, 0), interval.End);
        Assert.Equal(Duration.FromHours(8), interval.Duration);
    }

    [Fact]
    public void ToInterval_BerlinSpringForwardNight_IsAnHourShorter()
    {
        // 29 March 2026: 02:00 CET jumps to 03:00 CEST.
        var window = new VisitWindow(new LocalDate(2026, 3, 28), new LocalTime(22, 0), new LocalTime(6, 0));

        var interval = window.ToInterval(Berlin);

        Assert.Equal(Instant.FromUtc(2026, 3, 28, 21, 0), interval.Start);
        Assert.Equal(Instant.FromUtc(2026, 3, 29, 4, 0), interval.End);
        Assert.Equal(Duration.FromHours(7), interval.Duration);
    }

    [Fact]
    public void ToInterval_BerlinFallBackNight_IsAnHourLonger()
    {
        // 25 October 2026: 03:00 CEST goes back to 02:00 CET.
        var window = new VisitWindow(new LocalDate(2026, 10, 24), new LocalTime(22, 0), new LocalTime(6, 0));

        var interval = window.ToInterval(Berlin);

        Assert.Equal(Instant.FromUtc(2026, 10, 24, 20, 0), interval.Start);
        Assert.Equal(Instant.FromUtc(2026, 10, 25, 5, 0), interval.End);
        Assert.Equal(Duration.FromHours(9), interval.Duration);
    }

    [Fact]
    public void ProblemsIn_StartInsideTheSpringGap_NamesStart_AndToIntervalRefusesIt()
    {
        // 02:30 does not exist in Berlin on 29 March 2026 (02:00 CET jumps to 03:00 CEST); moved on, it would be 03:30.
        var window = new VisitWindow(new LocalDate(2026, 3, 29), new LocalTime(2, 30), new LocalTime(5, 0));

        var problem = Assert.Single(window.ProblemsIn(Berlin));

        Assert.Equal("start", problem.Field);
        Assert.Equal(
            "02:30 does not exist on 2026-03-29 in the site's time zone (Europe/Berlin): the clocks go forward from 02:00 to 03:00 that night; choose a time before 02:00 or from 03:00",
            problem.Message);
        Assert.Throws<InvalidOperationException>(() => window.ToInterval(Berlin));
    }

    [Fact]
    public void ProblemsIn_NightVisitEndingInTheSpringGap_NamesEndAndItsDay()
    {
        var window = new VisitWindow(new LocalDate(2026, 3, 28), new LocalTime(22, 0), new LocalTime(2, 0));

        var problem = Assert.Single(window.ProblemsIn(Berlin));

        Assert.Equal("end", problem.Field);
        Assert.StartsWith("02:00 does not exist on 2026-03-29", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ProblemsIn_AroundTheSpringGap_IsEmpty()
    {
        Assert.Empty(new VisitWindow(new LocalDate(2026, 3, 29), new LocalTime(1, 59), new LocalTime(3, 0)).ProblemsIn(Berlin));
        Assert.Equal(Duration.FromMinutes(1), new VisitWindow(new LocalDate(2026, 3, 29), new LocalTime(1, 59), new LocalTime(3, 0)).ToInterval(Berlin).Duration);
    }

    [Fact]
    public void StartOfDay_OfADaySkippedWhole_IsWhenTheClocksJumped_NotAnException()
    {
        // Samoa skipped 30 December 2011: 29 December 23:59:59 (-10) was followed by 31 December 00:00 (+14).
        var apia = DateTimeZoneProviders.Tzdb["Pacific/Apia"];

        Assert.Equal(Instant.FromUtc(2011, 12, 30, 10, 0), VisitWindow.StartOfDay(apia, new LocalDate(2011, 12, 30)));
        Assert.Equal(Instant.FromUtc(2026, 3, 28, 23, 0), VisitWindow.StartOfDay(Berlin, new LocalDate(2026, 3, 29)));
    }

    [Fact]
    public void ToInterval_AmbiguousFallBackTimes_TakeTheEarlierOccurrence()
    {
        // 02:30 happens twice in Berlin on 25 October 2026; the earlier is 02:30 CEST = 00:30 UTC.
        var window = new VisitWindow(new LocalDate(2026, 10, 25), new LocalTime(1, 0), new LocalTime(2, 30));

        var interval = window.ToInterval(Berlin);

        Assert.Equal(Instant.FromUtc(2026, 10, 24, 23, 0), interval.Start);
        Assert.Equal(Instant.FromUtc(2026, 10, 25, 0, 30), interval.End);
    }

    [Fact]
    public void ToInterval_StartAndEndBothInTheFallBackOverlap_TakeTheFirstOccurrenceOfEach()
    {
        // 02:15-02:45 on 25 October 2026 lasts half an hour, as written: both in CEST.
        var interval = new VisitWindow(new LocalDate(2026, 10, 25), new LocalTime(2, 15), new LocalTime(2, 45)).ToInterval(Berlin);

        Assert.Equal(new Interval(Instant.FromUtc(2026, 10, 25, 0, 15), Instant.FromUtc(2026, 10, 25, 0, 45)), interval);
    }

    [Fact]
    public void ToInterval_NewYorkSpringForward_NightVisitIsAnHourShorter()
    {
        // 8 March 2026: 02:00 EST jumps to 03:00 EDT.
        var window = new VisitWindow(new LocalDate(2026, 3, 7), new LocalTime(23, 0), new LocalTime(7, 0));

        var interval = window.ToInterval(NewYork);

        Assert.Equal(Instant.FromUtc(2026, 3, 8, 4, 0), interval.Start);   // 23:00 EST
        Assert.Equal(Instant.FromUtc(2026, 3, 8, 11, 0), interval.End);    // 07:00 EDT
        Assert.Equal(Duration.FromHours(7), interval.Duration);
    }

    [Fact]
    public void ToInterval_NewYorkFallBack_NightVisitIsAnHourLonger()
    {
        // 1 November 2026: 02:00 EDT goes back to 01:00 EST.
        var window = new VisitWindow(new LocalDate(2026, 10, 31), new LocalTime(23, 0), new LocalTime(7, 0));

        var interval = window.ToInterval(NewYork);

        Assert.Equal(Instant.FromUtc(2026, 11, 1, 3, 0), interval.Start);  // 23:00 EDT
        Assert.Equal(Instant.FromUtc(2026, 11, 1, 12, 0), interval.End);   // 07:00 EST
        Assert.Equal(Duration.FromHours(9), interval.Duration);
    }

    [Fact]
    public void CheckInAt_DefaultLead_OpensThirtyMinutesBeforeTheStart()
    {
        var start = Instant.FromUtc(2026, 12, 1, 8, 0);
        var window = new Interval(start, start + Duration.FromHours(3));
        var lead = VisitWindow.DefaultCheckInLead;

        Assert.Equal(CheckInTiming.TooEarly, VisitWindow.CheckInAt(window, start - Duration.FromMinutes(30) - Duration.FromMilliseconds(1), lead));
        Assert.Equal(CheckInTiming.Open, VisitWindow.CheckInAt(window, start - Duration.FromMinutes(30), lead));
        Assert.Equal(CheckInTiming.Open, VisitWindow.CheckInAt(window, start + Duration.FromHours(2), lead));
        Assert.Equal(CheckInTiming.Ended, VisitWindow.CheckInAt(window, start + Duration.FromHours(3), lead));
    }

    [Fact]
    public void CheckInAt_LeadAcrossTheSpringGap_CountsRealTime()
    {
        // Visit 03:15-05:00 local on the spring-forward night: 03:15 CEST = 01:15 UTC; 45 minutes before is 00:30 UTC (01:30 CET).
        var window = new VisitWindow(new LocalDate(2026, 3, 29), new LocalTime(3, 15), new LocalTime(5, 0)).ToInterval(Berlin);
        var lead = Duration.FromMinutes(45);

        Assert.Equal(CheckInTiming.TooEarly, VisitWindow.CheckInAt(window, Instant.FromUtc(2026, 3, 29, 0, 29), lead));
        Assert.Equal(CheckInTiming.Open, VisitWindow.CheckInAt(window, Instant.FromUtc(2026, 3, 29, 0, 30), lead));
    }

    [Fact]
    public void ToInterval_SameStartAndEnd_IsInvalid()
    {
        var window = new VisitWindow(new LocalDate(2026, 12, 1), new LocalTime(9, 0), new LocalTime(9, 0));

        Assert.False(window.IsValid);
        Assert.Throws<InvalidOperationException>(() => window.ToInterval(Berlin));
    }

    /// <summary>
    /// A zone that goes back four hours in one night (none has since 2000; this one is made up): a window holding the
    /// whole repeated stretch would last its wall-clock length plus four hours. Up to <see cref="VisitWindow.MaxLength"/>
    /// it is a window; a minute over, <c>end</c> is refused, so no stored visit lasts longer, which the day list relies on.
    /// </summary>
    [Theory]
    [InlineData(0, true)]
    [InlineData(59, false)]
    public void ProblemsIn_AWindowLongerThanMaxLength_NamesEnd_SoNoVisitLastsLonger(int endMinute, bool exists)
    {
        var zone = new NodaTime.Testing.TimeZones.SingleTransitionDateTimeZone(Instant.FromUtc(2026, 10, 25, 0, 0), Offset.FromHours(4), Offset.Zero);
        var window = new VisitWindow(new LocalDate(2026, 10, 24), new LocalTime(22, 0), new LocalTime(21, endMinute)); // 22:00-21:xx

        var problems = window.ProblemsIn(zone);

        if (exists)
        {
            Assert.Empty(problems);
            Assert.Equal(VisitWindow.MaxLength, window.ToInterval(zone).Duration);
        }
        else
        {
            var problem = Assert.Single(problems);
            Assert.Equal("end", problem.Field);
            Assert.Contains("last 27.98 hours", problem.Message, StringComparison.Ordinal);
            Assert.Throws<InvalidOperationException>(() => window.ToInterval(zone));
        }
    }

    /// <summary>
    /// <see cref="VisitWindow.MaxClockSetBack"/> covers every zone's steps back in the time zone data from 2000 to 2040,
    /// so that no real window there is refused for its length.
    /// </summary>
    [Fact]
    public void MaxClockSetBack_CoversEveryZonesStepBack_From2000To2040()
    {
        var (from, to) = (Instant.FromUtc(2000, 1, 1, 0, 0), Instant.FromUtc(2040, 1, 1, 0, 0));
        var largest = DateTimeZoneProviders.Tzdb.Ids
            .Select(id => DateTimeZoneProviders.Tzdb[id].GetZoneIntervals(from, to).ToList())
            .SelectMany(intervals => intervals.Zip(intervals.Skip(1), (a, b) => a.WallOffset.ToTimeSpan() - b.WallOffset.ToTimeSpan()))
            .Max();

        Assert.True(largest <= VisitWindow.MaxClockSetBack.ToTimeSpan(), $"a zone goes back {largest}");
        Assert.Equal(Duration.FromDays(1) + VisitWindow.MaxClockSetBack, VisitWindow.MaxLength);
    }

    [Fact]
    public void ToString_IsTheApiSpelling()
    {
        Assert.Equal("2026-12-01 22:00-06:00", new VisitWindow(new LocalDate(2026, 12, 1), new LocalTime(22, 0), new LocalTime(6, 0)).ToString());
    }
}

using System.Net;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Tests.EndToEnd;
using AccessControl.Visitors;
using NodaTime;

namespace AccessControl.Tests.Visitors;

/// <summary>
/// The front desk's day listing (<c>GET /api/v1/visits?date=</c>) holds every visit running on that day at its site
/// (Europe/Berlin for the demo site), night visits begun the day before included, over HTTP against the running
/// service (real SQLite, Kestrel, broker; a fake clock).
/// </summary>
public sealed class VisitDayListTests
{
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task List_NightVisit_IsOnTheListOfItsDayAndOfTheNextDay_NotOfTheDayAfter()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var night = await desk.RequestAsync(VisitDesk.Request(date: "2026-12-01", start: "22:00", end: "06:00"));
        var morning = await desk.RequestAsync(VisitDesk.Request(date: "2026-12-02", start: "07:00", end: "09:00"));
        await desk.ApproveAsync(night.Id);

        Assert.Equal([night.Id], await IdsAsync(desk.Frontdesk, "date=2026-12-01"));
        Assert.Equal([night.Id, morning.Id], await IdsAsync(desk.Frontdesk, "date=2026-12-02")); // in start order
        Assert.Equal([morning.Id], await IdsAsync(desk.Frontdesk, "date=2026-12-02&status=requested"));
        Assert.Equal([night.Id], await IdsAsync(desk.Frontdesk, "date=2026-12-02&status=approved&site=demo"));
        Assert.Empty(await IdsAsync(desk.Frontdesk, "date=2026-12-03"));
        Assert.Empty(await IdsAsync(desk.Frontdesk, "date=2026-11-30"));

        // A client tells a visit begun the day before by its own day and instants.
        var listed = await ListAsync(desk.Frontdesk, "date=2026-12-02");
        Assert.Equal(("2026-12-01", "22:00", "06:00"), (listed[0].Window.Date, listed[0].Window.Start, listed[0].Window.End));
        Assert.Equal((Instant.FromUtc(2026, 12, 1, 21, 0), Instant.FromUtc(2026, 12, 2, 5, 0)), (listed[0].Window.StartsAt, listed[0].Window.EndsAt));
    }

    /// <summary>A window is half-open: one ending at midnight is over when the next day begins, one ending a minute later is not.</summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task List_NextDay_HasAVisitEndingAfterMidnight_NotOneEndingAtMidnight()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var toMidnight = await desk.RequestAsync(VisitDesk.Request(date: "2026-12-01", start: "22:00", end: "00:00"));
        var pastMidnight = await desk.RequestAsync(VisitDesk.Request(date: "2026-12-01", start: "22:30", end: "00:01"));

        Assert.Equal([toMidnight.Id, pastMidnight.Id], await IdsAsync(desk.Frontdesk, "date=2026-12-01"));
        Assert.Equal([pastMidnight.Id], await IdsAsync(desk.Frontdesk, "date=2026-12-02"));
    }

    /// <summary>
    /// Across a Berlin DST night (fall-back 25 October 2026: a 25-hour day; spring-forward 28 March 2027: 23 hours),
    /// the night visit before it and the one of the DST day itself are each on their own day and the next, by the
    /// site's start of day.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    [InlineData("2026-10-20T08:00:00Z", "2026-10-24", 9)]
    [InlineData("2026-12-01T09:00:00Z", "2027-03-27", 7)]
    public async Task List_AcrossABerlinDstNight_HasEachNightVisitOnItsDayAndTheNext(string now, string day, int nightHours)
    {
        await using var edge = await EdgeHarness.StartAsync(now: NodaTime.Text.InstantPattern.General.Parse(now).Value);
        using var desk = VisitDesk.For(edge);
        var d = NodaTime.Text.LocalDatePattern.Iso.Parse(day).Value;
        string Day(int plus) => NodaTime.Text.LocalDatePattern.Iso.Format(d.PlusDays(plus));
        var beforeDst = await desk.RequestAsync(VisitDesk.Request(date: Day(0), start: "22:00", end: "06:00"));
        var onDstDay = await desk.RequestAsync(VisitDesk.Request(date: Day(1), start: "22:00", end: "06:00"));

        Assert.Equal(Duration.FromHours(nightHours), beforeDst.Window.EndsAt - beforeDst.Window.StartsAt);
        Assert.Equal([beforeDst.Id], await IdsAsync(desk.Frontdesk, "date=" + Day(0)));
        Assert.Equal([beforeDst.Id, onDstDay.Id], await IdsAsync(desk.Frontdesk, "date=" + Day(1)));
        Assert.Equal([onDstDay.Id], await IdsAsync(desk.Frontdesk, "date=" + Day(2)));
        Assert.Empty(await IdsAsync(desk.Frontdesk, "date=" + Day(3)));
    }

    /// <summary>The next day's list of a site-limited token has its site's night visit, and still nothing of another site's.</summary>
    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.2")]
    public async Task List_NextDay_OfASiteLimitedToken_HasItsSitesNightVisit_AndKeepsItsLimits()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var night = await desk.RequestAsync(VisitDesk.Request(date: "2026-12-01", start: "22:00", end: "06:00"));
        using var other = desk.As("desk-par1", OperatorRole.Frontdesk, "p-desk-par1", site: "par1");
        using var here = desk.As("desk-demo", OperatorRole.Frontdesk, "p-desk-demo", site: "demo");

        var refused = await other.GetAsync("api/v1/visits?date=2026-12-02&site=demo");

        Assert.Equal([night.Id], await IdsAsync(here, "date=2026-12-02"));
        Assert.Equal([night.Id], await IdsAsync(here, "date=2026-12-02&site=demo"));
        Assert.Empty(await IdsAsync(other, "date=2026-12-02"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(VisitRefusals.NotForThisSite, await VisitDesk.RefusalCodeAsync(refused));
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.list.refused" }));
        Assert.Equal(("desk-par1", "demo"), (row.Actor, row.SiteId));
    }

    /// <summary>
    /// At 02:00 the clerk finds the night visit begun at 22:00 on today's list (no date: today at the site), checks the
    /// late visitor in, and checks them out before 06:00: both go by the visit's window, not by its date.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task Desk_AfterMidnight_FindsTheNightVisitOnTodaysList_AndChecksInAndOutByItsWindow()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        await desk.AddBadgeAsync();
        var night = await desk.RequestAsync(VisitDesk.Request(date: "2026-12-01", start: "22:00", end: "06:00"));
        await desk.ApproveAsync(night.Id);

        edge.Clock.Reset(Instant.FromUtc(2026, 12, 2, 1, 0)); // 02:00 in Berlin, 2 December
        var today = await IdsAsync(desk.Frontdesk, null);
        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{night.Id}/check-in", VisitDesk.CheckIn());
        edge.Clock.Reset(Instant.FromUtc(2026, 12, 2, 4, 45)); // 05:45
        var checkOut = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{night.Id}/check-out", new { visitor = 1 });

        Assert.Equal([night.Id], today);
        Assert.True(checkIn.StatusCode == HttpStatusCode.OK, await checkIn.Content.ReadAsStringAsync());
        Assert.True(checkOut.StatusCode == HttpStatusCode.OK, await checkOut.Content.ReadAsStringAsync());
        var visitor = Assert.Single((await checkOut.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!.Visitors);
        Assert.Equal(("left", Instant.FromUtc(2026, 12, 2, 1, 0), Instant.FromUtc(2026, 12, 2, 4, 45)),
            (visitor.Status, visitor.CheckedInAt!.Value, visitor.CheckedOutAt!.Value));
        Assert.Equal([night.Id], await IdsAsync(desk.Frontdesk, null)); // still today's, until the day is over
    }

    private static async Task<VisitView[]> ListAsync(HttpClient client, string? query) =>
        (await client.GetFromJsonAsync<VisitView[]>("api/v1/visits" + (query is null ? "" : "?" + query), AdminJson.Options))!;

    private static async Task<long[]> IdsAsync(HttpClient client, string? query) => [.. (await ListAsync(client, query)).Select(v => v.Id)];
}

using System.Net;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Tests.EndToEnd;
using AccessControl.Visitors;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Tests.Visitors;

/// <summary>
/// Visit windows on the nights the demo site's clocks change (Europe/Berlin: back from 03:00 to 02:00 on 25 October
/// 2026, forward from 02:00 to 03:00 on 28 March 2027), from the request to the badge, over HTTP against the running
/// service (real SQLite, Kestrel, broker; a fake clock).
/// </summary>
public sealed class VisitDstTests
{
    private static readonly Instant BeforeFallBack = Instant.FromUtc(2026, 10, 20, 8, 0);

    /// <summary>
    /// 02:30 does not exist that night: the request is refused naming <c>start</c> (not answered 500 because 03:30 would
    /// be after the end, nor moved to 03:30 unasked), and nothing is recorded.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    [InlineData("03:00")]
    [InlineData("05:00")]
    public async Task Request_StartInTheSpringForwardGap_Is400NamingStart_AndRecordsNothing(string end)
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);

        var response = await desk.Host.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(date: "2027-03-28", start: "02:30", end: end));

        var error = await SingleErrorAsync(response);
        Assert.Equal("start", error.Field);
        Assert.Contains("02:30 does not exist on 2027-03-28 in the site's time zone (Europe/Berlin)", error.Message, StringComparison.Ordinal);
        Assert.Contains("from 02:00 to 03:00", error.Message, StringComparison.Ordinal);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
        Assert.Empty((await desk.Frontdesk.GetFromJsonAsync<VisitView[]>("api/v1/visits?date=2027-03-28", AdminJson.Options))!);
    }

    /// <summary>
    /// An end that does not exist is refused too, naming <c>end</c> and the day it falls on (the next day for a night
    /// visit), rather than moved an hour on: the host said when the visitor leaves, and the desk should not guess.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    [InlineData("2027-03-28", "01:00", "02:30", "02:30 does not exist on 2027-03-28")]
    [InlineData("2027-03-27", "22:00", "02:15", "02:15 does not exist on 2027-03-28")]
    public async Task Request_EndInTheSpringForwardGap_Is400NamingEnd_AndRecordsNothing(string date, string start, string end, string says)
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);

        var response = await desk.Host.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(date: date, start: start, end: end));

        var error = await SingleErrorAsync(response);
        Assert.Equal("end", error.Field);
        Assert.Contains(says, error.Message, StringComparison.Ordinal);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
    }

    /// <summary>
    /// 02:15 and 02:45 happen twice on the fall-back night; each means the first time the wall clock shows it (CEST),
    /// so 02:15-02:45 is half an hour, as written. Approval, check-in, the badge and the overdue list all go by those
    /// instants: at the second 02:20 (CET) the visit is over and its badge overdue.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task Visit_InTheFallBackOverlap_TakesTheFirstOccurrenceOfStartAndEnd_FromRequestToOverdueBadge()
    {
        await using var edge = await EdgeHarness.StartAsync(now: BeforeFallBack);
        using var desk = VisitDesk.For(edge);
        await desk.AddBadgeAsync();
        await desk.AddBadgeAsync(VisitDesk.Badge2);
        var firstStart = Instant.FromUtc(2026, 10, 25, 0, 15);  // 02:15 CEST
        var firstEnd = Instant.FromUtc(2026, 10, 25, 0, 45);    // 02:45 CEST

        var visit = await desk.RequestAsync(VisitDesk.Request(date: "2026-10-25", start: "02:15", end: "02:45"));
        var late = await desk.RequestAsync(VisitDesk.Request(date: "2026-10-25", start: "02:15", end: "02:45"));
        var approved = await desk.ApproveAsync(visit.Id);
        await desk.ApproveAsync(late.Id);
        edge.Clock.Reset(firstStart + Duration.FromMinutes(5));
        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(badge: VisitDesk.Badge1));
        var credential = edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1];
        edge.Clock.Reset(Instant.FromUtc(2026, 10, 25, 1, 20)); // 02:20 CET, the second time
        var tooLate = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{late.Id}/check-in", VisitDesk.CheckIn(badge: VisitDesk.Badge2));
        var overdue = await OverdueAsync(desk);

        Assert.Equal((firstStart, firstEnd), (visit.Window.StartsAt, visit.Window.EndsAt));
        Assert.Equal((firstStart, firstEnd), (approved.Approved!.Window.StartsAt, approved.Approved.Window.EndsAt));
        Assert.True(checkIn.StatusCode == HttpStatusCode.OK, await checkIn.Content.ReadAsStringAsync());
        Assert.Equal(firstEnd, credential.ValidUntil);
        Assert.Equal(VisitRefusals.OutsideWindow, await VisitDesk.RefusalCodeAsync(tooLate));
        Assert.Equal((visit.Id, firstEnd), Assert.Single(overdue) is var o ? (o.Visit, o.WindowEndedAt) : default);
    }

    /// <summary>
    /// A 22:00-06:00 night visit across the spring-forward change lasts 7 hours of real time, across the fall-back
    /// change 9, and the desk checks it in, the badge opens until 06:00 and the badge is overdue from then on.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    [InlineData("2026-10-20T08:00:00Z", "2026-10-24", "2026-10-24T20:00:00Z", 9)]
    [InlineData("2026-12-01T09:00:00Z", "2027-03-27", "2027-03-27T21:00:00Z", 7)]
    public async Task NightVisit_AcrossAClockChange_LastsItsRealHours_ForCheckInAndBadge(string now, string date, string startsAt, int hours)
    {
        await using var edge = await EdgeHarness.StartAsync(now: InstantPattern.General.Parse(now).Value);
        using var desk = VisitDesk.For(edge);
        var start = InstantPattern.General.Parse(startsAt).Value;
        var end = start + Duration.FromHours(hours);
        await desk.AddBadgeAsync();

        var visit = await desk.RequestAsync(VisitDesk.Request(date: date, start: "22:00", end: "06:00"));
        await desk.ApproveAsync(visit.Id);
        edge.Clock.Reset(end - Duration.FromMinutes(1)); // 05:59 the next morning
        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());
        var credential = edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1];
        var overdueBefore = await OverdueAsync(desk);
        edge.Clock.Reset(end);
        var overdueAt = await OverdueAsync(desk);

        Assert.Equal((start, end), (visit.Window.StartsAt, visit.Window.EndsAt));
        Assert.True(checkIn.StatusCode == HttpStatusCode.OK, await checkIn.Content.ReadAsStringAsync());
        Assert.Equal(end, credential.ValidUntil);
        Assert.Empty(overdueBefore);
        Assert.Equal(end, Assert.Single(overdueAt).WindowEndedAt);
    }

    /// <summary>
    /// A visit stored before start times in the gap were refused (02:30-05:00 on the spring-forward night, kept as
    /// 03:30-05:00 CEST) is still listed, approved and checked in by its stored instants, never a 500.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task StoredVisit_WithAStartInTheGap_IsListedApprovedAndCheckedInByItsStoredInstants()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        await desk.AddBadgeAsync();
        var request = await desk.RequestAsync(VisitDesk.Request(date: "2027-03-28", start: "04:00", end: "05:00"));
        var stored = edge.Host.Services.GetRequiredService<VisitorStore>();
        var old = stored.Get(request.Id)! with
        {
            Id = stored.NextVisitId(),
            Window = new VisitWindow(new LocalDate(2027, 3, 28), new LocalTime(2, 30), new LocalTime(5, 0)),
            Interval = new Interval(Instant.FromUtc(2027, 3, 28, 1, 30), Instant.FromUtc(2027, 3, 28, 3, 0)),
        };
        stored.InsertVisit(old);

        var listed = await desk.Frontdesk.GetFromJsonAsync<VisitView[]>("api/v1/visits?date=2027-03-28", AdminJson.Options);
        await desk.ApproveAsync(old.Id);
        edge.Clock.Reset(Instant.FromUtc(2027, 3, 28, 1, 0)); // 03:00 CEST: 30 minutes before the stored start
        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{old.Id}/check-in", VisitDesk.CheckIn());

        Assert.Contains(old.Id, listed!.Select(v => v.Id));
        Assert.True(checkIn.StatusCode == HttpStatusCode.OK, await checkIn.Content.ReadAsStringAsync());
        Assert.Equal(old.Interval.End, edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1].ValidUntil);
    }

    private static async Task<OverdueBadgeView[]> OverdueAsync(VisitDesk desk) =>
        (await desk.Frontdesk.GetFromJsonAsync<OverdueBadgeView[]>("api/v1/visits/overdue-badges", AdminJson.Options))!;

    private static async Task<FieldError> SingleErrorAsync(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var problem = (await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
        return Assert.Single(problem.Errors!);
    }
}

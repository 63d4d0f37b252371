using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Tests.EndToEnd;
using AccessControl.Visitors;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace AccessControl.Tests.Visitors;

/// <summary>The rules of the visitor lifecycle, over HTTP against the running service (real SQLite, Kestrel, broker).</summary>
public sealed class VisitApiTests : IAsyncLifetime
{
    private EdgeHarness edge = null!;
    private VisitDesk desk = null!;

    public async Task InitializeAsync()
    {
        edge = await EdgeHarness.StartAsync();
        desk = VisitDesk.For(edge);
    }

    public async Task DisposeAsync()
    {
        desk.Dispose();
        await edge.DisposeAsync();
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task Request_RecordsTheRequestAndItsAuditRow()
    {
        var visit = await desk.RequestAsync();

        Assert.Equal(("requested", "p-jweber", "jweber"), (visit.Status, visit.Host, visit.RequestedBy));
        Assert.Equal((VisitDesk.At(10, 15), VisitDesk.At(12, 0)), (visit.Window.StartsAt, visit.Window.EndsAt));
        Assert.Equal(["p-mkoch"], visit.Escorts);
        var audit = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
        Assert.Equal(("jweber", "p-jweber", "demo"), (audit.Actor, audit.PersonId, audit.SiteId));
        Assert.Contains($"\"visit\":{visit.Id}", audit.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task Request_Invalid_NamesEveryBadField()
    {
        var response = await desk.Host.PostAsJsonAsync("api/v1/visits", new
        {
            site = "demo",
            purpose = "",
            date = "2026-12-01",
            start = "09:00",   // already started
            end = "xx",
            zones = new[] { "demo-sr1", "nowhere" },
            visitors = Array.Empty<object>(),
            escorts = new[] { "p-lromano" }, // a contractor cannot escort
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
        Assert.Equal(["end", "escorts[0]", "purpose", "visitors", "zones[1]"], problem.Errors!.Select(e => e.Field).Order(StringComparer.Ordinal));
    }

    /// <summary>The front desk matches a visitor by the name it reads: a bidi override would make one name pass for another.</summary>
    [Fact]
    [Trait("control", "NIST-SI-10")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Request_WithABidiOrInvisibleCharacterInAVisitorsNameOrOrganizationOrThePurpose_Is400NamingEachField()
    {
        var rowsBefore = edge.Rows(new LogFilter { Kind = LogKinds.Admin }).Count;
        var request = VisitDesk.Request(visitors:
        [
            new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" },
            new { name = "Alice\u202Egpj.exe", organization = "Rhein\u200BMain" },
        ]);
        var json = System.Text.Json.JsonSerializer.SerializeToNode(request)!;
        json["purpose"] = "Replace a PSU\u2067 in A-07\u2069";

        var response = await desk.Host.PostAsJsonAsync("api/v1/visits", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
        Assert.Equal(["purpose", "visitors[1].name", "visitors[1].organization"], problem.Errors!.Select(e => e.Field).Order(StringComparer.Ordinal));
        Assert.Contains("U+202E (right-to-left override) at character 6", problem.Errors!.Single(e => e.Field == "visitors[1].name").Message, StringComparison.Ordinal);
        Assert.Equal(rowsBefore, edge.Rows(new LogFilter { Kind = LogKinds.Admin }).Count);
    }

    /// <summary>
    /// A window past midnight on the calendar's last day ends on a day NodaTime has not got: the request was a 500. Neither
    /// end's day can hold a visit, so both are refused as the date, and nothing is recorded.
    /// </summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("9999-12-31", "22:00", "06:00")]
    [InlineData("9999-12-31", "10:00", "12:00")]
    public async Task Request_OnTheCalendarsLastDay_Is400NamingTheDate_AndRecordsNothing(string date, string start, string end)
    {
        var response = await desk.Host.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(date: date, start: start, end: end));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
        Assert.Equal("date", Assert.Single(problem.Errors!).Field);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
    }

    /// <summary>
    /// The retention purge counts from a visit's end: a visit booked years ahead kept its visitors' names that long.
    /// A start further ahead than MaxLeadTime (180 days by default) is refused, naming the date and the limit.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.3.4")]
    [Trait("control", "NIST-SI-10")]
    [InlineData("3000-12-31")]
    [InlineData("2027-06-30")]
    public async Task Request_FurtherAheadThanTheMaxLeadTime_Is400NamingTheDateAndTheLimit_AndRecordsNothing(string date)
    {
        var response = await desk.Host.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(date: date));
        var withinTheLimit = await desk.Host.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(date: "2027-05-01"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single((await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!.Errors!);
        Assert.Equal("date", error.Field);
        Assert.Contains("180 days", error.Message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, withinTheLimit.StatusCode);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
    }

    /// <summary>The visitor log answered a range with from after to with an empty 200, which reads as "nobody came"; /log refuses it.</summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z")]
    [InlineData("2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z")]
    [InlineData("2026-12-01T01:00:00%2B01:00", "2026-12-01T00:00:00Z")] // the same instant
    public async Task VisitorLog_FromNotBeforeTo_Is400NamingTo_AsTheEntryLogs(string from, string to)
    {
        await desk.CheckedInVisitAsync();

        var visitors = await desk.Auditor.GetAsync($"api/v1/visits/log?from={from}&to={to}");
        var log = await desk.Auditor.GetAsync($"api/v1/log?from={from}&to={to}");

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (visitors.StatusCode, log.StatusCode));
        var problem = (await visitors.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
        var expected = (await log.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
        Assert.Equal(("to", "must be after from (the range is [from, to))"), (Assert.Single(problem.Errors!).Field, problem.Errors![0].Message));
        Assert.Equal(expected.Errors, problem.Errors);
    }

    /// <summary>The visitor log took only times ending in Z; /log takes any RFC 3339 offset, and so does it now.</summary>
    [Fact]
    [Trait("control", "NIST-SI-10")]
    public async Task VisitorLog_TimesWithAnOffset_AreRead_AsTheEntryLogReadsThem()
    {
        await desk.CheckedInVisitAsync();

        var inUtc = await desk.Auditor.GetStringAsync("api/v1/visits/log?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z");
        var withOffsets = await desk.Auditor.GetAsync("api/v1/visits/log?from=2026-12-01T01:00:00%2B01:00&to=2026-12-01T19:00:00-05:00");

        Assert.Equal(HttpStatusCode.OK, withOffsets.StatusCode);
        Assert.Single((await withOffsets.Content.ReadFromJsonAsync<Page<VisitorLogRow>>(AdminJson.Options))!.Items);
        Assert.Equal(inUtc, await withOffsets.Content.ReadAsStringAsync());
    }

    /// <summary>The day's listing reads 14 hours either side of the day (every zone's offset): at the calendar's ends that was a 500.</summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("9999-12-31")]
    [InlineData("-9998-01-01")]
    public async Task List_DateAtTheCalendarsEnds_Is400NamingIt(string date)
    {
        var response = await desk.Auditor.GetAsync($"api/v1/visits?date={date}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = (await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!;
        Assert.Equal("date", Assert.Single(problem.Errors!).Field);
    }

    /// <summary>
    /// A host's token is an employee's own: it reads the visits they host, requested or escort, and not other hosts'
    /// visitors (names, organisations, who vouched for them). The list leaves the others out; asked by id, they are not
    /// found, as another site's visit. The roles that run visits (approver, front desk, security, auditor) read them all.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "PCI-7.2")]
    public async Task AHostsToken_ReadsTheVisitsTheyHostRequestOrEscort_NotOtherHostsVisitors()
    {
        var own = await desk.RequestAsync();                                                          // jweber hosts, mkoch escorts
        var forAnna = await desk.RequestAsync(VisitDesk.Request(host: "p-aschulz", escorts: ["p-aschulz"]));   // jweber requests for Anna, who escorts
        using var anna = desk.As("aschulz", OperatorRole.Host, "p-aschulz");
        using var martina = desk.As("mkoch", OperatorRole.Host, "p-mkoch");

        async Task<long[]> ListedAsync(HttpClient client) =>
            [.. (await client.GetFromJsonAsync<VisitView[]>("api/v1/visits?date=2026-12-01", AdminJson.Options))!.Select(v => v.Id).Order()];

        Assert.Equal([own.Id, forAnna.Id], await ListedAsync(desk.Host));
        Assert.Equal([forAnna.Id], await ListedAsync(anna));
        Assert.Equal([own.Id], await ListedAsync(martina));
        Assert.Equal([own.Id, forAnna.Id], await ListedAsync(desk.Approver));
        Assert.Equal(HttpStatusCode.NotFound, (await anna.GetAsync($"api/v1/visits/{own.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await martina.GetAsync($"api/v1/visits/{forAnna.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await martina.GetAsync($"api/v1/visits/{own.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anna.GetAsync($"api/v1/visits/{forAnna.Id}")).StatusCode);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task Approve_RecordsWhoWhenAndExactlyWhat()
    {
        var visit = await desk.RequestAsync();

        var approved = await desk.ApproveAsync(visit.Id);

        Assert.Equal("approved", approved.Status);
        Assert.Equal(("approver-1", "p-approver-1", edge.Clock.GetCurrentInstant(), "ok, escorted by Martina"),
            (approved.Decision!.By, approved.Decision.ByPerson, approved.Decision.At, approved.Decision.Note));
        Assert.Equal(["demo-campus", "demo-bldg-a", "demo-dh1"], approved.Approved!.Zones);
        Assert.Equal("José María Pérez-García", Assert.Single(approved.Approved.Visitors).Name);
        var audit = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.approve" }));
        Assert.Equal("approver-1", audit.Actor);
        Assert.Contains("Replace a failed PSU", audit.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Approve_ByTheRequester_IsRefused_EvenFromASecondAccount()
    {
        var visit = await desk.RequestAsync(VisitDesk.Request(host: "p-aschulz"));   // jweber requests for Anna Schulz
        using var sameAccount = desk.As("jweber", OperatorRole.Approver, "p-jweber");
        using var samePerson = desk.As("jonas.weber", OperatorRole.Approver, "p-jweber");

        var first = await sameAccount.PostAsync($"api/v1/visits/{visit.Id}/approve", null);
        var second = await samePerson.PostAsync($"api/v1/visits/{visit.Id}/approve", null);

        Assert.Equal(HttpStatusCode.Forbidden, first.StatusCode);
        Assert.Equal(VisitRefusals.SegregationOfDuties, await VisitDesk.RefusalCodeAsync(first));
        Assert.Equal(HttpStatusCode.Forbidden, second.StatusCode);
        Assert.Equal("requested", desk.Get(edge, visit.Id).Status);
        var refusals = edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.approve.refused" });
        Assert.Equal(["jonas.weber", "jweber"], refusals.Select(r => r.Actor).Order(StringComparer.Ordinal));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.approve" }));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-AC-3")]
    public async Task Approve_ByAnApproverForAnotherSite_IsRefused_AndForThisSiteAccepted()
    {
        var visit = await desk.RequestAsync();
        using var elsewhere = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        elsewhere.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Bearer", desk.Tokens.CreateToken("lfaure", OperatorRole.Approver, "test", "p-aschulz", site: "par1"));
        using var here = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        here.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "Bearer", desk.Tokens.CreateToken("aschulz", OperatorRole.Approver, "test", "p-aschulz", site: "demo"));

        var refused = await elsewhere.PostAsync($"api/v1/visits/{visit.Id}/approve", null);
        var accepted = await here.PostAsync($"api/v1/visits/{visit.Id}/approve", null);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal(VisitRefusals.NotForThisSite, await VisitDesk.RefusalCodeAsync(refused));
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        Assert.Equal("approved", desk.Get(edge, visit.Id).Status);
        Assert.Contains(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.approve.refused" }), r => r.Actor == "lfaure");
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Approve_OrReject_ByTheHost_IsRefused()
    {
        var visit = await desk.RequestAsync(VisitDesk.Request(host: "p-aschulz"));
        using var hostAsApprover = desk.As("aschulz", OperatorRole.Approver, "p-aschulz");

        var approve = await hostAsApprover.PostAsync($"api/v1/visits/{visit.Id}/approve", null);
        var reject = await hostAsApprover.PostAsync($"api/v1/visits/{visit.Id}/reject", null);
        var byOther = await desk.Approver.PostAsync($"api/v1/visits/{visit.Id}/approve", null);

        Assert.Equal(HttpStatusCode.Forbidden, approve.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, reject.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byOther.StatusCode);
    }

    /// <summary>
    /// The escort answers for the visitor in the server room: approving the visit they escort is approving their own
    /// duty. Refused like the host's and the requester's decision, a co-escort and a second account of theirs too.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Approve_OrReject_ByAnEscort_IsRefused_EvenAsCoEscortFromASecondAccount()
    {
        var visit = await desk.RequestAsync(VisitDesk.Request(escorts: ["p-aschulz", "p-mkoch"]));
        using var escort = desk.As("mkoch", OperatorRole.Approver, "p-mkoch");
        using var secondAccount = desk.As("martina.koch", OperatorRole.Approver, "p-mkoch");

        var approve = await escort.PostAsync($"api/v1/visits/{visit.Id}/approve", null);
        var reject = await secondAccount.PostAsync($"api/v1/visits/{visit.Id}/reject", null);
        var stillRequested = desk.Get(edge, visit.Id).Status;
        var byOther = await desk.Approver.PostAsync($"api/v1/visits/{visit.Id}/approve", null);

        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (approve.StatusCode, reject.StatusCode));
        Assert.Equal(VisitRefusals.SegregationOfDuties, await VisitDesk.RefusalCodeAsync(approve));
        Assert.Equal(VisitRefusals.SegregationOfDuties, await VisitDesk.RefusalCodeAsync(reject));
        Assert.Equal("requested", stillRequested);
        Assert.Equal(("mkoch", "demo"), Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.approve.refused" })) is var a ? (a.Actor, a.SiteId) : default);
        Assert.Equal("martina.koch", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.reject.refused" })).Actor);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.reject" }));
        Assert.Equal(HttpStatusCode.OK, byOther.StatusCode);
    }

    /// <summary>
    /// The front desk's check of the visitor's identity document is the independent check of who comes in: the host or
    /// an escort, who vouch for the visitor, do not make it, even through a front-desk token of theirs. Checking a visitor
    /// out only takes access away, so they may.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "PCI-9.3.2")]
    public async Task CheckIn_ByTheHostOrAnEscort_ThroughAFrontdeskToken_IsRefused_AnotherDeskChecksIn()
    {
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();   // jweber (p-jweber) hosts, p-mkoch escorts
        await desk.ApproveAsync(visit.Id);
        using var hostAtTheDesk = desk.As("jonas.desk", OperatorRole.Frontdesk, "p-jweber");
        using var escortAtTheDesk = desk.As("martina.desk", OperatorRole.Frontdesk, "p-mkoch");

        var byHost = await hostAtTheDesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());
        var byEscort = await escortAtTheDesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());
        var stillExpected = desk.Get(edge, visit.Id).Visitors[0].Status;
        var byDesk = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());
        var outByHost = await hostAtTheDesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-out", new { visitor = 1 });

        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (byHost.StatusCode, byEscort.StatusCode));
        Assert.Equal(VisitRefusals.SegregationOfDuties, await VisitDesk.RefusalCodeAsync(byHost));
        Assert.Equal(VisitRefusals.SegregationOfDuties, await VisitDesk.RefusalCodeAsync(byEscort));
        Assert.Equal("expected", stillExpected);
        var refusals = edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.check_in.refused" });
        Assert.Equal(["jonas.desk", "martina.desk"], refusals.Select(r => r.Actor).Order(StringComparer.Ordinal));
        Assert.All(refusals, r => Assert.Contains("\"code\":\"segregation_of_duties\"", r.Detail, StringComparison.Ordinal));
        Assert.Equal("desk-1", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.check_in" })).Actor);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (byDesk.StatusCode, outByHost.StatusCode));
    }

    /// <summary>
    /// A pooled visitor badge is the front desk's to bind, at check-in. An administrator binding it to an employee through
    /// the credentials API would hand that employee's levels to whoever holds the badge: here, a visitor on site.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "PCI-9.3.2")]
    public async Task ABadgeOfThePool_IsNotBoundToSomeoneThroughTheCredentialsApi_EvenWhileAVisitorHoldsIt()
    {
        var visit = await desk.CheckedInVisitAsync();
        var visitorPerson = visit.Visitors[0].PersonId!;

        var rebound = await desk.Admin.PutAsJsonAsync($"api/v1/credentials/{VisitDesk.Badge1}", new { technology = "desfire-ev3", personId = "p-aschulz" });
        var reissued = await desk.Admin.PostAsJsonAsync($"api/v1/credentials/{VisitDesk.Badge1}/reissue", new { technology = "desfire-ev3", personId = "p-aschulz", reason = "spare card" });

        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict), (rebound.StatusCode, reissued.StatusCode));
        Assert.Contains("visitor badge of site demo's pool", await VisitDesk.ProblemDetailAsync(rebound), StringComparison.Ordinal);
        Assert.Equal(visitorPerson, edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1].Person.Value);
    }

    [Theory]
    [Trait("control", "NIST-AC-5")]
    [InlineData("mkoch", "p-mkoch", "jweber", "p-jweber", "p-jweber", true)]
    [InlineData("jweber", "p-mkoch", "jweber", "p-jweber", "p-jweber", false)]  // same account
    [InlineData("other", "p-jweber", "jweber", "p-jweber", "p-aschulz", false)] // same person as the requester
    [InlineData("other", "p-aschulz", "jweber", "p-jweber", "p-aschulz", false)] // the host
    [InlineData("other", null, "jweber", "p-jweber", "p-aschulz", false)]       // an approver without a person
    public void MayDecide_ComparesAccountsAndPeople(string approver, string? approverPerson, string requester, string requesterPerson, string host, bool expected)
    {
        var visit = new Visit(1, new Sites.SiteId("demo"), new Sites.PersonId(host), requester, requesterPerson, Instant.MinValue, "p",
            new VisitWindow(new LocalDate(2026, 12, 1), new LocalTime(9, 0), new LocalTime(10, 0)), new Interval(Instant.MinValue, Instant.MaxValue), [], [],
            VisitStatus.Requested, null, null, null, null, []);

        Assert.Equal(expected, VisitorService.MayDecide(new OperatorIdentity(approver, OperatorRole.Approver, approverPerson), visit));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task Approve_AfterTheWindowStarted_IsRefused()
    {
        var visit = await desk.RequestAsync();
        edge.Clock.Reset(VisitDesk.At(10, 15));

        var response = await desk.Approver.PostAsync($"api/v1/visits/{visit.Id}/approve", null);

        Assert.Equal(VisitRefusals.WindowStarted, await VisitDesk.RefusalCodeAsync(response));
    }

    [Theory]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-3")]
    [InlineData(new[] { "p-mkoch" },
        "None of the visit's escorts can escort now: p-mkoch (suspended). The visitor will be refused at demo-sr1 (escort_required) whoever goes in front. Ask an approver to withdraw visit")]
    [InlineData(new[] { "p-mkoch", "p-jweber" }, "p-mkoch (suspended) cannot escort now: the visitor enters demo-sr1 only behind p-jweber.")]
    // p-aschulz is active but holds no escort level for the server room: she was never an escort to count on there.
    [InlineData(new[] { "p-mkoch", "p-aschulz" },
        "None of the visit's escorts can escort into demo-sr1: p-mkoch (suspended), p-aschulz (no escort level there). The visitor will be refused at demo-sr1 (escort_required) whoever goes in front. Ask an approver to withdraw visit")]
    public async Task CheckIn_WhenADesignatedEscortCannotEscortNow_TellsTheDeskWhatTheServerRoomDoorWillDo(string[] escorts, string warning)
    {
        await desk.AddBadgeAsync();
        await GiveLevelsAsync("p-jweber", "lobby-24x7", "serverroom-operators");
        var visit = await desk.RequestAsync(VisitDesk.Request(zones: ["demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1"], escorts: escorts));
        await desk.ApproveAsync(visit.Id);
        Assert.Equal(HttpStatusCode.OK, (await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "suspended" })).StatusCode);

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
        Assert.Equal("on_site", view.Visitors[0].Status);
        Assert.StartsWith(warning, Assert.Single(view.Warnings!), StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-3")]
    [InlineData("lobby-24x7", "p-aschulz (no escort level there) cannot escort into demo-sr1: the visitor enters demo-sr1 only behind p-mkoch.")]
    // An escort level now, but her only card is a MIFARE Classic badge, which the server room's readers refuse.
    [InlineData("serverroom-operators", "p-aschulz (no active card accepted there during the visit) cannot escort into demo-sr1: the visitor enters demo-sr1 only behind p-mkoch.")]
    public async Task CheckIn_WhenADesignatedEscortCanNeverEscortIntoTheServerRoom_TellsTheDeskWhoTheVisitorMustFollow(string schulzLevel, string warning)
    {
        await desk.AddBadgeAsync();
        await GiveLevelsAsync("p-aschulz", "lobby-24x7", schulzLevel);
        var visit = await desk.RequestAsync(VisitDesk.Request(zones: ["demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1"], escorts: ["p-mkoch", "p-aschulz"]));
        var approved = await desk.ApproveAsync(visit.Id);
        Assert.Equal(warning, Assert.Single(visit.Warnings!)); // the host was told when asking

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var view = (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
        Assert.Equal("on_site", view.Visitors[0].Status);
        Assert.Equal(warning, Assert.Single(view.Warnings!));
        Assert.Equal(warning, Assert.Single(approved.Warnings!)); // the approver was told the same
    }

    private async Task GiveLevelsAsync(string person, params string[] levels) =>
        Assert.Equal(HttpStatusCode.OK, (await desk.Admin.PutAsJsonAsync($"api/v1/people/{person}/access-levels", levels)).StatusCode);

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-3")]
    public async Task Approve_WhenNoDesignatedEscortCanEscortNow_ApprovesAndTellsTheApproverWhatToDo()
    {
        var visit = await desk.RequestAsync(VisitDesk.Request(zones: ["demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1"]));
        Assert.Equal(HttpStatusCode.OK, (await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "suspended" })).StatusCode);

        var approved = await desk.ApproveAsync(visit.Id);

        Assert.Equal("approved", approved.Status); // a suspension may end before the visit: said, not refused
        var warning = Assert.Single(approved.Warnings!);
        Assert.StartsWith("None of the visit's escorts can escort now: p-mkoch (suspended). The visitor will be refused at demo-sr1", warning, StringComparison.Ordinal);
        Assert.EndsWith($"Unless they can escort by the visit, withdraw visit {visit.Id} (visit withdraw {visit.Id}); the host requests it again with another escort.", warning, StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "PCI-9.3.3")]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CheckIn_WithItsEscortsAble_OrNoZoneThatNeedsOne_SaysNothingMore(bool suspendedButNoEscortZone)
    {
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync(VisitDesk.Request(zones: suspendedButNoEscortZone ? null : ["demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1"]));
        await desk.ApproveAsync(visit.Id);
        if (suspendedButNoEscortZone)
        {
            Assert.Equal(HttpStatusCode.OK, (await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "suspended" })).StatusCode);
        }

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("\"warnings\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task CheckIn_OfAnUnapprovedVisit_IsRefused()
    {
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal(VisitRefusals.NotApproved, await VisitDesk.RefusalCodeAsync(response));
        Assert.Equal("expected", desk.Get(edge, visit.Id).Visitors[0].Status);
        Assert.False(edge.Edge.Configuration.Cardholders.Credentials.ContainsKey(VisitDesk.Badge1));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.check_in.refused" }));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task CheckIn_AfterTheApprovalWasWithdrawn_IsRefused_AndWithdrawingAfterCheckInIsAConflict()
    {
        await desk.AddBadgeAsync();
        var withdrawn = await desk.RequestAsync();
        await desk.ApproveAsync(withdrawn.Id);
        var withdraw = await desk.Approver.PostAsJsonAsync($"api/v1/visits/{withdrawn.Id}/withdraw", new { note = "host is ill" });
        var refused = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{withdrawn.Id}/check-in", VisitDesk.CheckIn());

        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);
        await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());
        var late = await desk.Approver.PostAsync($"api/v1/visits/{visit.Id}/withdraw", null);

        Assert.Equal(HttpStatusCode.OK, withdraw.StatusCode);
        Assert.Equal(VisitRefusals.NotApproved, await VisitDesk.RefusalCodeAsync(refused));
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
    }

    [Theory]
    [Trait("control", "PCI-9.3.2")]
    [InlineData(9, 44, VisitRefusals.OutsideWindow)]   // check-in opens 30 minutes before 10:15
    [InlineData(9, 45, null)]
    [InlineData(12, 0, VisitRefusals.OutsideWindow)]   // the window has ended
    public async Task CheckIn_OnlyFromTheLeadTimeUntilTheWindowEnds(int hour, int minute, string? code)
    {
        edge.Clock.Reset(VisitDesk.At(9, 0));
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);
        edge.Clock.Reset(VisitDesk.At(hour, minute));

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(code, response.IsSuccessStatusCode ? null : await VisitDesk.RefusalCodeAsync(response));
    }

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-8")]
    public async Task CheckIn_WithAnExpiredDocument_IsRefused()
    {
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(expiry: "2026-11-30"));

        Assert.Equal(VisitRefusals.DocumentExpired, await VisitDesk.RefusalCodeAsync(response));
        Assert.Equal("expected", desk.Get(edge, visit.Id).Visitors[0].Status);
    }

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    public async Task CheckIn_WithAMalformedDocument_NamesTheFields_WithoutEchoingTheNumber()
    {
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", new
        {
            visitor = 1,
            name = "Jose Maria Perez Garcia",
            document = new { type = "visa", country = "XYZ", number = "AB/99887766", expiry = "2030-01-01" },
        });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("99887766", text, StringComparison.Ordinal);
        var problem = System.Text.Json.JsonSerializer.Deserialize<AdminApi.ApiProblem>(text, AdminJson.Options)!;
        Assert.Equal(["document.country", "document.number", "document.type"], problem.Errors!.Select(e => e.Field).Order(StringComparer.Ordinal));
    }

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-8")]
    public async Task CheckIn_WhenTheDocumentNameDiffers_IsRefused()
    {
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);

        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(name: "JOSE PEREZ GARCIA"));

        Assert.Equal(VisitRefusals.NameMismatch, await VisitDesk.RefusalCodeAsync(response));
    }

    [Fact]
    [Trait("control", "NIST-PE-8")]
    [Trait("control", "PCI-9.3.2")]
    public async Task AWatchListedVisitor_IsRefusedAtRequest_AndAtCheckIn()
    {
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);
        var added = await desk.Security.PostAsJsonAsync("api/v1/watchlist", new { kind = "person", value = "PEREZ GARCIA, Jose Maria", note = "banned 2025" });

        var request = await desk.Host.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(start: "14:00", end: "15:00"));
        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());
        var organization = await desk.Security.PostAsJsonAsync("api/v1/watchlist", new { kind = "organization", value = "Shady Ltd" });
        var byOrganization = await desk.Host.PostAsJsonAsync("api/v1/visits",
            VisitDesk.Request(visitors: [new { name = "Erika Mustermann", organization = "SHADY LTD" }]));

        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Equal(HttpStatusCode.Created, organization.StatusCode);
        Assert.Equal(VisitRefusals.Watchlisted, await VisitDesk.RefusalCodeAsync(request));
        Assert.Equal(VisitRefusals.Watchlisted, await VisitDesk.RefusalCodeAsync(checkIn));
        Assert.Equal(VisitRefusals.Watchlisted, await VisitDesk.RefusalCodeAsync(byOrganization));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "watchlist.add" }).Count);
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.request.refused" }).Count);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task APooledBadge_IsNeverIssuedWhileItsPreviousVisitIsOpen()
    {
        var visit = await desk.CheckedInVisitAsync(VisitDesk.Request(visitors:
        [
            new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" },
            new { name = "Jürgen Müller", organization = "Kältetechnik Rhein-Main GmbH" },
        ]));

        var second = VisitDesk.CheckIn(visitor: 2, name: "MUELLER JUERGEN", number: "L01X00T47");
        var busy = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", second);
        await desk.Frontdesk.PostAsync($"api/v1/visits/badges/{VisitDesk.Badge1}/check-out", null);
        var freed = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", second);

        Assert.Equal(VisitRefusals.NoBadgeAvailable, await VisitDesk.RefusalCodeAsync(busy));
        Assert.Equal(HttpStatusCode.OK, freed.StatusCode);
        var after = desk.Get(edge, visit.Id);
        Assert.Equal(("left", "on_site", VisitDesk.Badge1), (after.Visitors[0].Status, after.Visitors[1].Status, after.Visitors[1].Badge));
        Assert.Equal("visitor-" + visit.Id + "-2", edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1].Person.Value);
        Assert.Equal(CredentialStatus.Active, edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1].Status);

        // The check-out revoked the badge; binding it to the next visitor is an explicit re-issue, with its reason.
        var reissues = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "credential.reissue" });
        Assert.Equal(2, reissues.Count);
        Assert.Contains($"check-in of visitor 2 of visit {visit.Id}", reissues[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckIn_OfAVisitorOnSiteOrCheckedOut_SaysSinceWhenAndWhatTheDeskDoes_NotTheStatusCode()
    {
        var visit = await desk.CheckedInVisitAsync();
        var again = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());
        edge.Clock.Reset(VisitDesk.At(11, 30));
        await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-out", new { visitor = 1 });
        edge.Clock.Reset(VisitDesk.At(11, 40));

        // Back after lunch, within the window: the visitor came and went on this visit.
        var afterLunch = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains($"Visitor 1 of visit {visit.Id} is already checked in, with badge {VisitDesk.Badge1}, since 2026-12-01T10:00:00+01:00 Europe/Berlin",
            await VisitDesk.ProblemDetailAsync(again), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, afterLunch.StatusCode);
        var detail = await VisitDesk.ProblemDetailAsync(afterLunch);
        Assert.Contains($"Visitor 1 of visit {visit.Id} was checked out at 2026-12-01T11:30:00+01:00 Europe/Berlin", detail, StringComparison.Ordinal);
        Assert.Contains("the host requests a new visit", detail, StringComparison.Ordinal);
        Assert.Equal("left", desk.Get(edge, visit.Id).Visitors[0].Status);
    }

    [Fact]
    public async Task CheckIn_WithAChosenBadgeThatIsOutOrNotInThePool_SaysWhichAndWhoHoldsIt()
    {
        var visit = await desk.CheckedInVisitAsync(VisitDesk.Request(visitors:
        [
            new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" },
            new { name = "Anna Schmidt", organization = "B GmbH" },
        ]));

        // The clerk picks up the badge handed to the first visitor a minute ago, then one from another drawer.
        var second = (string badge) => VisitDesk.CheckIn(visitor: 2, name: "SCHMIDT ANNA", number: "Y1234567", badge: badge);
        var stillOut = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", second(VisitDesk.Badge1));
        var notPooled = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", second("04BADE0000FFFF"));

        Assert.Equal(VisitRefusals.NoBadgeAvailable, await VisitDesk.RefusalCodeAsync(stillOut));
        var detail = await VisitDesk.ProblemDetailAsync(stillOut);
        Assert.Contains($"Badge {VisitDesk.Badge1} is still out, with visitor 1 of visit {visit.Id}", detail, StringComparison.Ordinal);
        Assert.Contains($"visit return {VisitDesk.Badge1}", detail, StringComparison.Ordinal);
        Assert.Equal(VisitRefusals.NoBadgeAvailable, await VisitDesk.RefusalCodeAsync(notPooled));
        Assert.Contains("Badge 04BADE0000FFFF is not in the badge pool of site 'demo'", await VisitDesk.ProblemDetailAsync(notPooled), StringComparison.Ordinal);
        Assert.Equal("expected", desk.Get(edge, visit.Id).Visitors[1].Status);
    }

    [Fact]
    [Trait("control", "PCI-9.3.4")]
    [Trait("control", "NIST-PE-8")]
    public async Task TheVisitorLog_HoldsNameOrganizationHostPurposeAuthorizerBadgeAndTimes()
    {
        var visit = await desk.CheckedInVisitAsync();
        var checkedInAt = edge.Clock.GetCurrentInstant();
        edge.Clock.AdvanceMinutes(75);
        await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-out", new { visitor = 1 });

        var rows = (await desk.Auditor.GetFromJsonAsync<Page<VisitorLogRow>>(
            "api/v1/visits/log?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z", AdminJson.Options))!.Items;
        var denied = await desk.Host.GetAsync("api/v1/visits/log?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z");

        var row = Assert.Single(rows!);
        Assert.Equal(("José María Pérez-García", "Kältetechnik Rhein-Main GmbH", "p-jweber", "Jonas Weber"), (row.Name, row.Organization, row.Host, row.HostName));
        Assert.Equal(("Replace a failed PSU in rack A-07", "approver-1", "p-approver-1", VisitDesk.Badge1), (row.Purpose, row.AuthorizedBy, row.AuthorizedByPerson, row.Badge));
        Assert.Equal((checkedInAt, checkedInAt + Duration.FromMinutes(75), "left"), (row.CheckedInAt!.Value, row.CheckedOutAt!.Value, row.Status));
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
    }

    [Fact]
    [Trait("control", "PCI-9.3.4")]
    [Trait("control", "NIST-AU-6")]
    public async Task TheVisitorLog_PastItsLimit_GivesTheNextCursor_AndTheNextPageHasTheRest()
    {
        // Two visitors checked in at the same instant: a limit of one used to return the first and say nothing more.
        await desk.AddBadgeAsync(VisitDesk.Badge2);
        var visit = await desk.CheckedInVisitAsync(VisitDesk.Request(visitors:
        [
            new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" },
            new { name = "Jürgen Müller", organization = "Kältetechnik Rhein-Main GmbH" },
        ]));
        var second = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn(visitor: 2, name: "MUELLER JUERGEN", number: "L01X00T47", badge: VisitDesk.Badge2));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        const string Range = "api/v1/visits/log?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z&limit=1";

        var first = (await desk.Auditor.GetFromJsonAsync<Page<VisitorLogRow>>(Range, AdminJson.Options))!;
        var rest = (await desk.Auditor.GetFromJsonAsync<Page<VisitorLogRow>>(Range + "&after=" + first.Next, AdminJson.Options))!;
        var whole = (await desk.Auditor.GetFromJsonAsync<Page<VisitorLogRow>>(Range.Replace("limit=1", "limit=2", StringComparison.Ordinal), AdminJson.Options))!;
        var badCursor = await desk.Auditor.GetAsync(Range + "&after=yesterday");

        Assert.Equal([1], first.Items.Select(r => r.Visitor));
        Assert.NotNull(first.Next);
        Assert.Equal([2], rest.Items.Select(r => r.Visitor));
        Assert.Null(rest.Next); // nothing is left: no empty page to fetch
        Assert.Equal([1, 2], whole.Items.Select(r => r.Visitor));
        Assert.Null(whole.Next);
        Assert.Equal(HttpStatusCode.BadRequest, badCursor.StatusCode);
    }

    [Fact]
    [Trait("control", "PCI-9.3.4")]
    public async Task Purge_DeletesOnlyVisitsOlderThanTheRetention_AndLogsWhatItPurged()
    {
        var old = await desk.CheckedInVisitAsync();
        await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{old.Id}/check-out", new { visitor = 1 });
        edge.Clock.Reset(VisitDesk.At(9, 0) + Duration.FromDays(300));
        var recent = await desk.RequestAsync(VisitDesk.Request(date: "2027-09-28"));
        var retention = edge.Host.Services.GetRequiredService<VisitorOptions>().Retention;

        var early = await desk.Admin.PostAsync("api/v1/visits/purge", null);
        edge.Clock.Reset(VisitDesk.At(12, 0) + Duration.FromTimeSpan(retention) + Duration.FromMinutes(1));
        var purge = await desk.Admin.PostAsync("api/v1/visits/purge", null);

        Assert.Empty((await early.Content.ReadFromJsonAsync<PurgeSummary>(AdminJson.Options))!.Visits);
        Assert.Equal([old.Id], (await purge.Content.ReadFromJsonAsync<PurgeSummary>(AdminJson.Options))!.Visits);
        Assert.Null(edge.Host.Services.GetRequiredService<VisitorService>().Get(old.Id));
        Assert.NotNull(edge.Host.Services.GetRequiredService<VisitorService>().Get(recent.Id));
        var audit = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.purge" })[^1]; // the early one has its row too
        Assert.Contains($"\"visits\":[{old.Id}]", audit.Detail, StringComparison.Ordinal);
        var person = edge.Edge.Configuration.Cardholders.People[new Sites.PersonId($"visitor-{old.Id}-1")];
        Assert.Equal(("purged visitor", People.PersonStatus.Terminated), (person.Name, person.Status));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }), r => r.Detail!.Contains($"\"visit\":{old.Id},", StringComparison.Ordinal)); // the entry log keeps its rows
    }

    [Fact]
    [Trait("control", "PCI-9.3.4")]
    [Trait("control", "PCI-10.2")]
    public async Task Purge_ThatFindsNothingToPurge_IsRecordedAnyway_WithWhoWhenAndTheCutOff()
    {
        var response = await desk.Admin.PostAsync("api/v1/visits/purge", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var summary = (await response.Content.ReadFromJsonAsync<PurgeSummary>(AdminJson.Options))!;
        Assert.Equal((0, 0), (summary.Visits.Count, summary.Visitors));
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.purge" }));
        Assert.Equal(("admin-1", edge.Clock.GetCurrentInstant()), (row.Actor, row.At));
        using var detail = System.Text.Json.JsonDocument.Parse(row.Detail!);
        Assert.Equal(summary.Cutoff, NodaTime.Text.InstantPattern.ExtendedIso.Parse(detail.RootElement.GetProperty("cutoff").GetString()!).Value);
        Assert.Equal((0, 0), (detail.RootElement.GetProperty("visits").GetArrayLength(), detail.RootElement.GetProperty("visitors").GetInt32()));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.3.4")]
    public async Task Purge_TerminatesEachVisitorAsAnyLeaver_RevokingEveryCardOfTheirs_SoAReactivationBringsNoneBack()
    {
        const string Bound = "04C0FFEE000002";
        var old = await desk.CheckedInVisitAsync();
        await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{old.Id}/check-out", new { visitor = 1 });
        var visitor = new Sites.PersonId($"visitor-{old.Id}-1");
        // A card an operator bound to the visitor's cardholder, besides the desk's badge (which the check-out revoked).
        var bound = await desk.Admin.PutAsJsonAsync($"api/v1/credentials/{Bound}", new { technology = "desfire-ev3", personId = visitor.Value });
        Assert.Equal(HttpStatusCode.OK, bound.StatusCode);
        edge.Clock.Reset(VisitDesk.At(12, 0) + Duration.FromTimeSpan(edge.Host.Services.GetRequiredService<VisitorOptions>().Retention) + Duration.FromMinutes(1));

        var purge = await desk.Admin.PostAsync("api/v1/visits/purge", null);
        var reactivated = await edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("ops"), visitor.Value, "active");

        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        Assert.True(reactivated.IsOk);
        var cards = edge.Edge.Configuration.Cardholders.CredentialsOf(visitor);
        Assert.Equal([VisitDesk.Badge1, Bound], cards.Select(c => c.CardUid).Order(StringComparer.Ordinal));
        Assert.All(cards, c => Assert.Equal(CredentialStatus.Revoked, c.Status));
        // A termination's rows, by whoever ran the purge and naming its row, then the purge's stripping of name and access.
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Admin, PersonId = visitor.Value, Limit = 10_000 })
            .Where(r => r.Actor == "admin-1" && r.Reason is "person.terminate" or "credential.revoke" or "person.upsert").ToList();
        Assert.Equal([("person.terminate", null), ("credential.revoke", Bound), ("person.upsert", null)], rows.Select(r => (r.Reason, r.Card)));
        var purgeRow = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.purge" }));
        Assert.Contains($"visit.purge row {purgeRow.Seq}", rows[1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task EachRole_DoesOnlyItsOwnPart()
    {
        var visit = await desk.RequestAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await desk.Host.PostAsync($"api/v1/visits/{visit.Id}/approve", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await desk.Frontdesk.PostAsJsonAsync("api/v1/visits", VisitDesk.Request())).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await desk.Approver.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn())).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await desk.Frontdesk.PostAsJsonAsync("api/v1/watchlist", new { kind = "person", value = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await desk.Frontdesk.PutAsJsonAsync($"api/v1/badge-pool/{VisitDesk.Badge1}", new { site = "demo", technology = "desfire-ev3" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await desk.Host.GetAsync("api/v1/people")).StatusCode);    // the new roles do not read cardholders
        Assert.Equal(HttpStatusCode.Forbidden, (await desk.Frontdesk.GetAsync("api/v1/log")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await desk.Auditor.GetAsync($"api/v1/visits/{visit.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await new HttpClient { BaseAddress = edge.Host.HttpAddress }.GetAsync("api/v1/visits")).StatusCode);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task ABadgePoolCard_ThatIsAnEmployeesCredential_IsRefused()
    {
        var response = await desk.Admin.PutAsJsonAsync($"api/v1/badge-pool/{DemoCards.Operator}", new { site = "demo", technology = "desfire-ev3" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("GET", "visits/{0}")]
    [InlineData("POST", "visits/{0}/approve")]
    [InlineData("POST", "visits/{0}/reject")]
    [InlineData("POST", "visits/{0}/withdraw")]
    [InlineData("POST", "visits/{0}/check-in")]
    [InlineData("POST", "visits/{0}/check-out")]
    [InlineData("DELETE", "watchlist/{0}")]
    public async Task RouteId_ThatIsNotAnId_IsA400ProblemNamingIt_NotABare404(string method, string route)
    {
        var client = route.StartsWith("watchlist", StringComparison.Ordinal) ? desk.Security
            : route.EndsWith("check-in", StringComparison.Ordinal) || route.EndsWith("check-out", StringComparison.Ordinal) ? desk.Frontdesk
            : method == "GET" ? desk.Auditor : desk.Approver;
        foreach (var id in new[] { "abc", "99999999999999999999", "-1" })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), "api/v1/" + string.Format(CultureInfo.InvariantCulture, route, id));
            if (method == "POST")
            {
                request.Content = JsonContent.Create(new { });
            }

            var answer = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
            var errors = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("errors");
            Assert.Equal("id", Assert.Single(errors.EnumerateArray()).GetProperty("field").GetString());
        }
    }

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    public async Task ARequestWithAMisspeltField_IsRefusedNamingIt_NotMadeWithoutIt()
    {
        // "escort" for "escorts": ignored, the visit would name no escort and any escort could bring the visitor in.
        var misspelt = new
        {
            site = "demo", purpose = "Replace a failed PSU", date = "2026-12-01", start = "10:15", end = "12:00",
            zones = new[] { "demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1" },
            visitors = new[] { new { name = "Eva Wagner", organization = "Audit GmbH" } },
            escort = new[] { "p-mkoch" },
        };

        var answer = await desk.Host.PostAsJsonAsync("api/v1/visits", misspelt);
        var credential = await desk.Admin.PutAsJsonAsync($"api/v1/credentials/04AA00000000F1",
            new { technology = "desfire-ev3", personId = "p-jweber", validUntill = "2027-01-01T00:00:00Z" });

        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        var error = Assert.Single(JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("errors").EnumerateArray());
        Assert.Equal(("escort", "is not a field of this request (check its spelling)"), (error.GetProperty("field").GetString(), error.GetProperty("message").GetString()));
        Assert.Empty(edge.Rows(new LogFilter { Reason = "visit.request" }));
        Assert.Equal(HttpStatusCode.BadRequest, credential.StatusCode);
        var credentialAnswer = await credential.Content.ReadAsStringAsync();
        Assert.True(credentialAnswer.Contains("\"field\":\"validUntill\"", StringComparison.Ordinal), credentialAnswer);
        Assert.DoesNotContain(edge.Edge.Configuration.Cardholders.Credentials.Keys, k => k == "04AA00000000F1");
    }

    [Fact]
    public void Tokens_OfHostsAndApprovers_MustNameTheirPerson()
    {
        Assert.Throws<ArgumentException>(() => desk.Tokens.CreateToken("someone", OperatorRole.Host, "test", personId: null!));
        Assert.Throws<ArgumentException>(() => desk.Tokens.CreateToken("someone", OperatorRole.Approver, "test", personId: null!));
        Assert.Equal("p-jweber", desk.Tokens.Authenticate(desk.HostToken)!.PersonId);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Request_ByAHostForAnotherSite_IsRefused_AndNothingIsStored()
    {
        var (otherHost, thisHost) = SiteLimited("jweber", OperatorRole.Host, "p-jweber");

        var refused = await otherHost.PostAsJsonAsync("api/v1/visits", VisitDesk.Request());
        var accepted = await thisHost.PostAsJsonAsync("api/v1/visits", VisitDesk.Request());

        await AssertNotForThisSiteAsync(refused, "visit.request.refused", "jweber-par1");
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.request" }));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Request_ForAnotherSite_WithBadReferences_IsRefusedBySiteLimit_BeforeDescribingThatSite()
    {
        var (otherHost, _) = SiteLimited("jweber", OperatorRole.Host, "p-jweber");

        var refused = await otherHost.PostAsJsonAsync("api/v1/visits",
            VisitDesk.Request(zones: ["demo-dh1", "no-such-zone"], host: "p-nobody", escorts: ["p-mkoch", "p-nobody-either"], start: "25:00"));

        var body = await refused.Content.ReadAsStringAsync();
        await AssertNotForThisSiteAsync(refused, "visit.request.refused", "jweber-par1");
        Assert.DoesNotContain("zone", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("p-", body, StringComparison.Ordinal);
        Assert.DoesNotContain("errors", body, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task Request_OfASiteLimitedToken_NamingAnotherSitesZones_ReadsAsNoSuchZone()
    {
        var (par1Host, _) = SiteLimited("jweber", OperatorRole.Host, "p-jweber");
        var request = JsonSerializer.SerializeToNode(VisitDesk.Request(zones: ["demo-dh1", "no-such-zone"]))!.AsObject();
        request["site"] = "par1";

        var answer = await par1Host.PostAsJsonAsync("api/v1/visits", request);

        Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
        var errors = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")
            .EnumerateArray().Select(e => e.GetProperty("message").GetString()).ToList();
        Assert.Contains("no zone 'demo-dh1'", errors);
        Assert.Contains("no zone 'no-such-zone'", errors);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Withdraw_ByAnApproverForAnotherSite_IsRefused_AndTheApprovalStands()
    {
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);
        using var elsewhere = desk.As("lfaure", OperatorRole.Approver, "p-aschulz", site: "par1");

        var withdraw = await elsewhere.PostAsync($"api/v1/visits/{visit.Id}/withdraw", null);

        await AssertNotForThisSiteAsync(withdraw, "visit.withdraw.refused", "lfaure");
        Assert.Equal("approved", desk.Get(edge, visit.Id).Status);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.withdraw" }));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task Withdraw_ByAnApproverWhoHostsTheVisit_IsAccepted_BecauseItOnlyTakesAccessAway()
    {
        var visit = await desk.RequestAsync(VisitDesk.Request(host: "p-aschulz"));
        await desk.ApproveAsync(visit.Id);
        using var hostAsApprover = desk.As("aschulz", OperatorRole.Approver, "p-aschulz", site: "demo");

        var withdraw = await hostAsApprover.PostAsync($"api/v1/visits/{visit.Id}/withdraw", null);

        Assert.Equal(HttpStatusCode.OK, withdraw.StatusCode);
        Assert.Equal("withdrawn", desk.Get(edge, visit.Id).Status);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.3.2")]
    public async Task CheckIn_ByAFrontDeskForAnotherSite_IsRefused_AndNoBadgeIsIssued()
    {
        await desk.AddBadgeAsync();
        var visit = await desk.RequestAsync();
        await desk.ApproveAsync(visit.Id);
        using var otherDesk = desk.As("desk-par1", OperatorRole.Frontdesk, "p-desk-par1", site: "par1");

        var checkIn = await otherDesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", VisitDesk.CheckIn());

        await AssertNotForThisSiteAsync(checkIn, "visit.check_in.refused", "desk-par1");
        Assert.Equal("expected", Assert.Single(desk.Get(edge, visit.Id).Visitors).Status);
        Assert.False(edge.Edge.Configuration.Cardholders.Credentials.ContainsKey(VisitDesk.Badge1));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.2")]
    public async Task CheckOut_AndBadgeReturn_ByAFrontDeskForAnotherSite_AreRefused_AndTheVisitorStaysCheckedIn()
    {
        var visit = await desk.CheckedInVisitAsync();
        var (otherDesk, thisDesk) = SiteLimited("desk", OperatorRole.Frontdesk);

        var checkOut = await otherDesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-out", new { visitor = 1 });
        var returned = await otherDesk.PostAsync($"api/v1/visits/badges/{VisitDesk.Badge1}/check-out", null);

        await AssertNotForThisSiteAsync(checkOut, "visit.check_out.refused", "desk-par1");
        await AssertNotForThisSiteAsync(returned, "visit.check_out.refused", "desk-par1");
        Assert.Equal("on_site", Assert.Single(desk.Get(edge, visit.Id).Visitors).Status);
        Assert.Equal(CredentialStatus.Active, edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1].Status);
        Assert.Equal(HttpStatusCode.OK, (await thisDesk.PostAsync($"api/v1/visits/badges/{VisitDesk.Badge1}/check-out", null)).StatusCode);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.4")]
    public async Task Listings_AndReads_OfASiteLimitedToken_ShowOnlyItsSite()
    {
        var visit = await desk.CheckedInVisitAsync();
        var (other, here) = SiteLimited("audit", OperatorRole.Auditor);
        const string Log = "api/v1/visits/log?from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z";

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"api/v1/visits/{visit.Id}")).StatusCode);
        Assert.Empty((await other.GetFromJsonAsync<VisitView[]>("api/v1/visits?date=2026-12-01", AdminJson.Options))!);
        await AssertNotForThisSiteAsync(await other.GetAsync("api/v1/visits?date=2026-12-01&site=demo"), "visit.list.refused", "audit-par1");
        Assert.Empty((await other.GetFromJsonAsync<OnSiteView[]>("api/v1/visits/on-site", AdminJson.Options))!);
        Assert.Empty((await other.GetFromJsonAsync<Page<VisitorLogRow>>(Log, AdminJson.Options))!.Items);
        await AssertNotForThisSiteAsync(await other.GetAsync(Log + "&site=demo"), "visit.log.refused", "audit-par1"); // not "no visitor at demo"

        Assert.Equal(HttpStatusCode.OK, (await here.GetAsync($"api/v1/visits/{visit.Id}")).StatusCode);
        Assert.Single((await here.GetFromJsonAsync<VisitView[]>("api/v1/visits?date=2026-12-01", AdminJson.Options))!);
        Assert.Single((await here.GetFromJsonAsync<OnSiteView[]>("api/v1/visits/on-site", AdminJson.Options))!);
        Assert.Single((await here.GetFromJsonAsync<Page<VisitorLogRow>>(Log, AdminJson.Options))!.Items);
    }

    /// <summary>
    /// A front desk limited to par1 asking who is at demo got an empty list, read as "nobody there"; it is refused, as
    /// <c>/log</c> and <c>/visits/log</c> refuse it, and the token's own site, named or not, is still listed.
    /// </summary>
    [Theory]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-PE-8")]
    [InlineData("api/v1/visits?date=2026-12-01", "visit.list.refused")]
    [InlineData("api/v1/visits/on-site", "visit.on_site.refused")]
    [InlineData("api/v1/visits/overdue-badges", "visit.overdue_badges.refused")]
    [InlineData("api/v1/badge-pool", "badge_pool.list.refused")]
    public async Task Listing_OfAnotherSite_AskedByASiteLimitedToken_IsRefusedWithASecurityRow_NotAnEmptyList(string listing, string reason)
    {
        await desk.CheckedInVisitAsync();
        var (other, here) = SiteLimited("desk", OperatorRole.Frontdesk);
        var separator = listing.Contains('?', StringComparison.Ordinal) ? "&" : "?";

        var refused = await other.GetAsync(listing + separator + "site=demo");
        var own = await here.GetAsync(listing);
        var ownNamed = await here.GetAsync(listing + separator + "site=demo");

        await AssertNotForThisSiteAsync(refused, reason, "desk-par1");
        Assert.Contains("\"tokenSite\":\"par1\"", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = reason })).Detail, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (own.StatusCode, ownNamed.StatusCode));
        Assert.Equal(await own.Content.ReadAsStringAsync(), await ownNamed.Content.ReadAsStringAsync());
    }

    /// <summary>The overdue badges ignored <c>site=</c> and listed every site's: a desk asking for its site read another's missing badges.</summary>
    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task OverdueBadges_AskedForASite_ListOnlyThatSitesBadges()
    {
        await desk.CheckedInVisitAsync();
        edge.Clock.Reset(VisitDesk.At(12, 0));   // the visit's window has ended, its badge is still out
        var (_, here) = SiteLimited("desk", OperatorRole.Frontdesk);

        var atDemo = await desk.Frontdesk.GetFromJsonAsync<OverdueBadgeView[]>("api/v1/visits/overdue-badges?site=demo", AdminJson.Options);
        var atPar1 = await desk.Frontdesk.GetFromJsonAsync<OverdueBadgeView[]>("api/v1/visits/overdue-badges?site=par1", AdminJson.Options);
        var ownSite = await here.GetFromJsonAsync<OverdueBadgeView[]>("api/v1/visits/overdue-badges?site=demo", AdminJson.Options);

        Assert.Equal(VisitDesk.Badge1, Assert.Single(atDemo!).Badge);
        Assert.Empty(atPar1!);
        Assert.Equal(VisitDesk.Badge1, Assert.Single(ownSite!).Badge);
    }

    /// <summary>A misspelt parameter was ignored: <c>on-site?sit=B</c> listed every site's visitors, read as site B's.</summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("api/v1/visits/on-site?sit=demo")]
    [InlineData("api/v1/visits/overdue-badges?sit=demo")]
    [InlineData("api/v1/badge-pool?sit=demo")]
    [InlineData("api/v1/visits?sit=demo")]   // as this listing already did
    public async Task Listing_WithAnUnknownParameter_Is400NamingIt(string listing)
    {
        await desk.CheckedInVisitAsync();

        var response = await desk.Frontdesk.GetAsync(listing);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single((await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!.Errors!);
        Assert.Equal("sit", error.Field);
        Assert.StartsWith("is not a parameter of this route (known: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("site", error.Message, StringComparison.Ordinal);
    }

    /// <summary><c>site=A&amp;site=B</c> was read as A alone; refused as the entry log's query refuses it.</summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("api/v1/visits/on-site?site=demo&site=other")]
    [InlineData("api/v1/visits/overdue-badges?site=demo&site=other")]
    [InlineData("api/v1/badge-pool?site=demo&site=other")]
    [InlineData("api/v1/visits?site=demo&site=other")]
    public async Task Listing_WithASiteGivenTwice_Is400(string listing)
    {
        await desk.CheckedInVisitAsync();

        var response = await desk.Frontdesk.GetAsync(listing);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single((await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!.Errors!);
        Assert.Equal(("site", "must be given once"), (error.Field, error.Message));
    }

    [Fact]
    [Trait("control", "NIST-AU-3")]
    [Trait("control", "ISO27001-A.8.15")]
    public async Task BadgePool_ABadgeChanged_IsRecordedWithWhatItWasBefore_NotOnlyWhatItBecame()
    {
        await desk.AddBadgeAsync();
        var first = Assert.Single(edge.Rows(new LogFilter { Reason = "badge_pool.add" }));
        edge.Clock.Advance(Duration.FromDays(3));

        var changed = await desk.Admin.PutAsJsonAsync($"api/v1/badge-pool/{VisitDesk.Badge1}", new { site = "demo", technology = "mifare-classic" });

        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var row = edge.Rows(new LogFilter { Reason = "badge_pool.add" }).Last();
        Assert.NotEqual(first.Seq, row.Seq);
        using var detail = System.Text.Json.JsonDocument.Parse(row.Detail!);
        // The pool keeps only the badge as it is now (its adder and time replaced): the row is where its past is.
        Assert.True(detail.RootElement.TryGetProperty("before", out var before), row.Detail);
        Assert.Equal(("demo", "desfire-ev3", first.Actor), (before.GetProperty("site").GetString(), before.GetProperty("technology").GetString(), before.GetProperty("addedBy").GetString()));
        Assert.Equal("mifare-classic", detail.RootElement.GetProperty("technology").GetString());
        Assert.DoesNotContain("\"before\":{", first.Detail, StringComparison.Ordinal); // a new badge had none
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "PCI-9.3.2")]
    public async Task BadgePool_AndPurge_ByAnAdminForAnotherSite_AreRefused_AndThePoolIsUnchanged()
    {
        await desk.AddBadgeAsync();
        var (otherAdmin, thisAdmin) = SiteLimited("admin", OperatorRole.Admin);

        var add = await otherAdmin.PutAsJsonAsync($"api/v1/badge-pool/{VisitDesk.Badge2}", new { site = "demo", technology = "desfire-ev3" });
        var remove = await otherAdmin.DeleteAsync($"api/v1/badge-pool/{VisitDesk.Badge1}");
        var purge = await thisAdmin.PostAsync("api/v1/visits/purge", null);

        await AssertNotForThisSiteAsync(add, "badge_pool.add.refused", "admin-par1");
        await AssertNotForThisSiteAsync(remove, "badge_pool.remove.refused", "admin-par1");
        Assert.Equal(HttpStatusCode.Forbidden, purge.StatusCode);
        var purgeRow = Assert.Single(edge.Rows(new LogFilter { Reason = "visit.purge.refused" }));
        Assert.Equal(("admin-demo", null), (purgeRow.Actor, purgeRow.SiteId));
        // The action names the one endpoint, and the service refuses it itself, the same whoever passes the request on
        // (no method and path, unlike a refusal of everything under one code such as cardholders.refused), and the address
        // the request came from.
        using (var detail = System.Text.Json.JsonDocument.Parse(purgeRow.Detail!))
        {
            Assert.Equal(["remote", "code", "role", "person", "tokenSite"], detail.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal(("not_approver_for_site", "admin", "demo"), (detail.RootElement.GetProperty("code").GetString(), detail.RootElement.GetProperty("role").GetString(), detail.RootElement.GetProperty("tokenSite").GetString()));
        }
        var pool = await desk.Admin.GetFromJsonAsync<PooledBadgeView[]>("api/v1/badge-pool", AdminJson.Options);
        Assert.Equal([VisitDesk.Badge1], pool!.Select(b => b.Card));
        Assert.Equal(HttpStatusCode.OK, (await thisAdmin.DeleteAsync($"api/v1/badge-pool/{VisitDesk.Badge1}")).StatusCode);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task Purge_ThroughTheServiceItself_ByASiteLimitedIdentity_IsRefused_AsOverTheApi_AndNothingIsPurged()
    {
        var old = await desk.CheckedInVisitAsync();
        await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{old.Id}/check-out", new { visitor = 1 });
        edge.Clock.Reset(VisitDesk.At(12, 0) + Duration.FromTimeSpan(edge.Host.Services.GetRequiredService<VisitorOptions>().Retention) + Duration.FromMinutes(1));
        var visitors = edge.Host.Services.GetRequiredService<VisitorService>();
        var limited = new OperatorIdentity("admin-demo", OperatorRole.Admin, "p-admin", "demo");

        var purge = await visitors.PurgeAsync(AdminActor.Of(limited));

        Assert.Equal(VisitRefusals.NotForThisSite, purge.Code);
        Assert.NotNull(visitors.Get(old.Id));
        Assert.NotEqual("purged visitor", edge.Edge.Configuration.Cardholders.People[new Sites.PersonId($"visitor-{old.Id}-1")].Name);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.purge" }));
        var refused = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.purge.refused" }));
        Assert.Equal(("admin-demo", null), (refused.Actor, refused.SiteId));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task EndInvolvement_ThroughTheServiceItself_ByASiteLimitedIdentity_IsRefused_AndTheHostsVisitStands()
    {
        var visit = await desk.RequestAsync();
        var visitors = edge.Host.Services.GetRequiredService<VisitorService>();
        var limited = new OperatorIdentity("admin-demo", OperatorRole.Admin, "p-admin", "demo");

        var ended = await visitors.EndInvolvementAsync(AdminActor.Of(limited), new Sites.PersonId(visit.Host), "hr-test");

        Assert.Equal(VisitRefusals.NotForThisSite, ended.Code);
        Assert.Equal("requested", visitors.Get(visit.Id)!.Status);
        var refused = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.cancel.refused" }));
        Assert.Equal(("admin-demo", null), (refused.Actor, refused.SiteId));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task Watchlist_ChangedThroughTheServiceItself_ByASiteLimitedIdentity_IsRefused_AsOverTheApi()
    {
        var entry = await AddToWatchlistAsync(desk.Security, "Shady Ltd");
        var visitors = edge.Host.Services.GetRequiredService<VisitorService>();
        var limited = new OperatorIdentity("guard-demo", OperatorRole.Security, "p-guard", "demo");

        var add = await visitors.AddToWatchlistAsync(limited, new WatchlistInput("organization", "Acme Ltd"));
        var remove = await visitors.RemoveFromWatchlistAsync(limited, entry.Id);

        Assert.Equal((VisitRefusals.NotForThisSite, VisitRefusals.NotForThisSite), (add.Code, remove.Code));
        Assert.Equal(["Shady Ltd"], visitors.Watchlist().Select(e => e.Value));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "watchlist.add.refused" }));
        var removed = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "watchlist.remove.refused" }));
        Assert.Equal(("guard-demo", null), (removed.Actor, removed.SiteId));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "PCI-9.3.2")]
    public async Task Watchlist_AddAndRemove_ByASiteLimitedSecurityToken_AreRefused_AndTheListIsUnchanged()
    {
        var entry = await AddToWatchlistAsync(desk.Security, "Shady Ltd");
        var (otherGuard, thisGuard) = SiteLimited("guard", OperatorRole.Security);

        var add = await thisGuard.PostAsJsonAsync("api/v1/watchlist", new { kind = "organization", value = "Acme Ltd" });
        var remove = await thisGuard.DeleteAsync($"api/v1/watchlist/{entry.Id}");
        var removeElsewhere = await otherGuard.DeleteAsync($"api/v1/watchlist/{entry.Id}");
        var read = await thisGuard.GetFromJsonAsync<WatchlistView[]>("api/v1/watchlist", AdminJson.Options);

        foreach (var refused in new[] { add, remove, removeElsewhere })
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal(VisitRefusals.NotForThisSite, await VisitDesk.RefusalCodeAsync(refused));
        }

        // The watch list serves every site: the rows name none, and the token's own site in their detail.
        var addRow = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "watchlist.add.refused" }));
        Assert.Equal(("guard-demo", null), (addRow.Actor, addRow.SiteId));
        Assert.Contains("\"tokenSite\":\"demo\"", addRow.Detail, StringComparison.Ordinal);
        var removeRows = edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "watchlist.remove.refused" });
        Assert.Equal(["guard-demo", "guard-par1"], removeRows.Select(r => r.Actor).Order(StringComparer.Ordinal));
        Assert.All(removeRows, r => Assert.Null(r.SiteId));

        Assert.Equal([entry.Id], read!.Select(e => e.Id));     // reading stays allowed
        var list = await desk.Security.GetFromJsonAsync<WatchlistView[]>("api/v1/watchlist", AdminJson.Options);
        Assert.Equal(["Shady Ltd"], list!.Select(e => e.Value));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "watchlist.add" }));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "watchlist.remove" }));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task Watchlist_AddAndRemove_ByASecurityTokenForEverySite_AreAcceptedAndAudited()
    {
        var entry = await AddToWatchlistAsync(desk.Security, "Shady Ltd");

        var remove = await desk.Security.DeleteAsync($"api/v1/watchlist/{entry.Id}");

        Assert.Equal(HttpStatusCode.OK, remove.StatusCode);
        Assert.Empty((await desk.Security.GetFromJsonAsync<WatchlistView[]>("api/v1/watchlist", AdminJson.Options))!);
        Assert.Equal("sec-1", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "watchlist.add" })).Actor);
        Assert.Equal("sec-1", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "watchlist.remove" })).Actor);
    }

    private static async Task<WatchlistView> AddToWatchlistAsync(HttpClient security, string organization)
    {
        var response = await security.PostAsJsonAsync("api/v1/watchlist", new { kind = "organization", value = organization });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<WatchlistView>(AdminJson.Options))!;
    }

    /// <summary>Clients of tokens limited to site par1 (not the demo site) and to site demo, named NAME-par1 and NAME-demo.</summary>
    [Fact]
    [Trait("control", "PCI-9.3.4")]
    public async Task List_WithoutADate_IsTodayWhereTheSiteIs_EvenWhenUtcIsStillYesterday()
    {
        // 00:30 on Wednesday 2 December in Berlin is still Tuesday 1 December in UTC: the night desk asks for today's visits.
        edge.Clock.Reset(Instant.FromUtc(2026, 12, 1, 23, 30));
        var visit = await desk.RequestAsync(VisitDesk.Request(date: "2026-12-02", start: "08:00", end: "10:00"));

        var today = await desk.Frontdesk.GetFromJsonAsync<VisitView[]>("api/v1/visits", AdminJson.Options);
        var demoToday = await desk.Frontdesk.GetFromJsonAsync<VisitView[]>("api/v1/visits?site=demo", AdminJson.Options);

        Assert.Equal([visit.Id], demoToday!.Select(v => v.Id));
        Assert.Equal([visit.Id], today!.Select(v => v.Id));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PS-4")]
    public async Task AVisit_WhoseHostIsNoLongerActive_IsNeitherApprovedNorCheckedIn_AndTheDeskIsToldWhy()
    {
        await desk.AddBadgeAsync();
        var approved = await desk.RequestAsync();
        var pending = await desk.RequestAsync();
        await desk.ApproveAsync(approved.Id);
        // The host is suspended by an administrator (not through the HR feed, which would cancel the visits).
        var admin = edge.Host.Services.GetRequiredService<AdminService>();
        Assert.True((await admin.SetPersonStatusAsync(AdminActor.EverySite("admin-1"), "p-jweber", "suspended")).IsOk);

        var approve = await desk.Approver.PostAsJsonAsync($"api/v1/visits/{pending.Id}/approve", new { note = "ok" });
        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{approved.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(HttpStatusCode.UnprocessableEntity, approve.StatusCode);
        Assert.Equal(VisitRefusals.HostNotActive, await VisitDesk.RefusalCodeAsync(approve));
        Assert.Equal("requested", desk.Get(edge, pending.Id).Status);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, checkIn.StatusCode);
        Assert.Equal(VisitRefusals.HostNotActive, await VisitDesk.RefusalCodeAsync(checkIn));
        Assert.Contains("p-jweber", await checkIn.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("expected", desk.Get(edge, approved.Id).Visitors[0].Status);
        Assert.False(edge.Edge.Configuration.Cardholders.Credentials.ContainsKey(VisitDesk.Badge1));
        Assert.Contains(edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "visit.check_in.refused" }),
            r => r.Actor == "desk-1" && r.Detail!.Contains(VisitRefusals.HostNotActive, StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task TheSameDocument_IsNotCheckedInTwice_WhileItsFirstBadgeIsOut_HoweverTheNumberIsTyped()
    {
        await desk.AddBadgeAsync(VisitDesk.Badge1);
        await desk.AddBadgeAsync(VisitDesk.Badge2);
        var morning = await desk.RequestAsync(VisitDesk.Request(start: "10:15", end: "12:00"));
        var noon = await desk.RequestAsync(VisitDesk.Request(start: "11:00", end: "13:00"));
        await desk.ApproveAsync(morning.Id);
        await desk.ApproveAsync(noon.Id);
        var first = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{morning.Id}/check-in", VisitDesk.CheckIn());
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        edge.Clock.AdvanceMinutes(45); // 10:45: the noon visit's check-in has opened

        var again = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{noon.Id}/check-in", VisitDesk.CheckIn(number: "c01x 00-t47"));
        var body = await again.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.UnprocessableEntity, again.StatusCode);
        Assert.Equal(VisitRefusals.AlreadyOnSite, await VisitDesk.RefusalCodeAsync(again));
        Assert.Contains($"visit {morning.Id}", body, StringComparison.Ordinal);
        Assert.Equal("expected", desk.Get(edge, noon.Id).Visitors[0].Status);
        Assert.False(edge.Edge.Configuration.Cardholders.Credentials.ContainsKey(VisitDesk.Badge2));

        // Once the first badge is back, the same visitor checks in for the second visit.
        Assert.Equal(HttpStatusCode.OK, (await desk.Frontdesk.PostAsync($"api/v1/visits/badges/{VisitDesk.Badge1}/check-out", null)).StatusCode);
        var afterReturn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{noon.Id}/check-in", VisitDesk.CheckIn());
        Assert.True(afterReturn.StatusCode == HttpStatusCode.OK, await afterReturn.Content.ReadAsStringAsync());
    }

    private (HttpClient Par1, HttpClient Demo) SiteLimited(string name, OperatorRole role, string? person = null) =>
        (desk.As(name + "-par1", role, person ?? "p-" + name + "-par1", site: "par1"), desk.As(name + "-demo", role, person ?? "p-" + name + "-demo", site: "demo"));

    /// <summary>403 <c>not_approver_for_site</c>, and <c>security</c> rows naming the token's operator and the demo site.</summary>
    private async Task AssertNotForThisSiteAsync(HttpResponseMessage response, string reason, string actor)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(VisitRefusals.NotForThisSite, await VisitDesk.RefusalCodeAsync(response));
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = reason });
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal((actor, "demo"), (r.Actor, r.SiteId)));
    }
}

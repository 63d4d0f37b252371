using System.Net;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.Hr;
using AccessControl.Sites;
using AccessControl.Tests.EndToEnd;
using AccessControl.Visitors;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Visitors;

/// <summary>The front desk's badge works at the doors of the approved zones only, until it is returned.</summary>
public class VisitsOverMqttTests
{
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NIST-PE-8")]
    public async Task CheckIn_BindsAPooledBadge_GrantedAtAnApprovedZone_DeniedElsewhere()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var dataHall = await edge.ReaderAsync("rdr-dh1-in");
        var serverRoom = await edge.ReaderAsync("rdr-sr1-in");
        Assert.Equal("unknown_credential", (await dataHall.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);

        var visit = await desk.CheckedInVisitAsync();

        var visitor = Assert.Single(visit.Visitors);
        Assert.Equal(("on_site", VisitDesk.Badge1), (visitor.Status, visitor.Badge));
        Assert.Equal(("passport", "ESP", "0T47"), (visitor.Document!.Type, visitor.Document.Country, visitor.Document.LastFour));
        var granted = await dataHall.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout);
        var denied = await serverRoom.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout);
        Assert.True(granted.Grant, granted.Reason);
        Assert.Equal("visitor_zone_not_approved", denied.Reason);

        // The badge's credential: a visitor, valid from the check-in instant until the window's end (12:00 Berlin).
        var credential = edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1];
        var person = edge.Edge.Configuration.Cardholders.People[credential.Person];
        Assert.Equal((People.PersonKind.Visitor, "José María Pérez-García"), (person.Kind, person.Name));
        Assert.Equal((edge.Clock.GetCurrentInstant(), VisitDesk.At(12, 0)), (credential.ValidFrom!.Value, credential.ValidUntil!.Value));
        var level = edge.Edge.Configuration.Cardholders.AccessLevels[Assert.Single(person.AccessLevels)];
        Assert.Equal(["demo-bldg-a", "demo-campus", "demo-dh1"], level.Zones.Select(z => z.Value).Order(StringComparer.Ordinal));

        // Where the visitor was last let in, for the front desk.
        var onSite = await desk.Frontdesk.GetFromJsonAsync<List<OnSiteView>>("api/v1/visits/on-site", AdminJson.Options);
        var here = Assert.Single(onSite!);
        Assert.Equal(("door-dh1", "p-jweber", VisitDesk.Badge1), (here.LastSeen?.Door, here.Host, here.Badge));
        Assert.Equal(["p-mkoch"], here.Escorts);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-3")]
    public async Task CheckOut_DeniesTheBadgeASecondLater_AndReturnsItToThePool()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        var visit = await desk.CheckedInVisitAsync();
        Assert.True((await lobby.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        edge.Clock.AdvanceMinutes(90);
        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-out", new { visitor = 1 });
        var checkedOutAt = edge.Clock.GetCurrentInstant();
        edge.Clock.AdvanceSeconds(1);
        var after = await lobby.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(after.Grant);
        Assert.Equal("badge_returned", after.Reason);
        var closedVisit = (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
        var closed = closedVisit.Visitors[0];
        Assert.Equal(("left", checkedOutAt, "desk-1"), (closed.Status, closed.CheckedOutAt, closed.CheckedOutBy));
        Assert.Equal(checkedOutAt, closedVisit.ClosedAt);   // the visit closes with its out-time
        var pool = await desk.Admin.GetFromJsonAsync<List<PooledBadgeView>>("api/v1/badge-pool", AdminJson.Options);
        Assert.Null(Assert.Single(pool!).HeldByVisit);

        // The audit trail: check-out, then the credential revoked by the same desk, both before the denied swipe.
        var checkOut = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.check_out" }));
        var revoke = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "credential.revoke" }), r => r.PersonId != "p-tfischer"); // (his, at the first start)
        var swipe = edge.Rows(new LogFilter { Kind = LogKinds.Access, Decision = "deny" })[^1];
        Assert.Equal(("desk-1", "desk-1"), (checkOut.Actor, revoke.Actor));
        Assert.True(checkOut.Seq < revoke.Seq && revoke.Seq < swipe.Seq);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-3")]
    public async Task ABadgeNotReturned_ExpiresAtTheWindowEnd_AndRaisesOneAlarm()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        var visit = await desk.CheckedInVisitAsync();
        var visitors = edge.Host.Services.GetRequiredService<VisitorService>();
        var alarmsTopic = await edge.AlarmsAsync();
        await edge.TickAsync();
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = VisitorAlarms.BadgeNotReturned }));

        edge.Clock.Reset(VisitDesk.At(12, 0));
        var expired = await lobby.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout);
        await edge.TickAsync();   // supervision: the overdue badge is logged and published like any alarm
        await edge.TickAsync();
        AccessControl.Protocol.AlarmMessage published;
        do
        {
            // Readers silent since 10:00 are reported offline by the same tick; the badge alarm is among them.
            published = await alarmsTopic.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        }
        while (published.Type != VisitorAlarms.BadgeNotReturned);
        var alarms = edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = VisitorAlarms.BadgeNotReturned });
        var again = await visitors.CheckOverdueBadgesAsync();
        var overdue = await desk.Frontdesk.GetFromJsonAsync<List<OverdueBadgeView>>("api/v1/visits/overdue-badges", AdminJson.Options);

        Assert.Equal("visit_outside_window", expired.Reason);
        var alarm = Assert.Single(alarms);
        Assert.Equal((VisitorAlarms.BadgeNotReturned, "demo"), (alarm.Reason, alarm.SiteId));
        Assert.Equal(VisitorAlarms.BadgeNotReturned, published.Type);
        Assert.Contains(VisitDesk.Badge1, alarm.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Pérez", alarm.Detail, StringComparison.Ordinal);
        Assert.Empty(again);
        var late = Assert.Single(overdue!);
        Assert.Equal((VisitDesk.Badge1, visit.Id, (Instant?)VisitDesk.At(12, 0)), (late.Badge, late.Visit, late.AlarmRaisedAt));

        // Still out: the badge cannot be issued to anyone else until it is checked out.
        var next = await desk.RequestAsync(VisitDesk.Request(start: "14:00", end: "15:00"));
        await desk.ApproveAsync(next.Id);
        edge.Clock.Reset(VisitDesk.At(13, 45));
        var refused = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{next.Id}/check-in", VisitDesk.CheckIn(number: "C02Y11U58")); // another visitor's passport
        Assert.Equal(VisitRefusals.NoBadgeAvailable, await VisitDesk.RefusalCodeAsync(refused));
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task APooledBadgeNotBoundToAVisit_IsDeniedVisitNotCheckedIn()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        await desk.AddBadgeAsync();

        var decision = await lobby.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal("visit_not_checked_in", decision.Reason);
    }

    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task AVisitorPutOnTheWatchListWhileOnSite_IsRefusedAtTheNextDoor()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        await desk.CheckedInVisitAsync();
        Assert.True((await lobby.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var listed = await desk.Security.PostAsJsonAsync("api/v1/watchlist", new { kind = "organization", value = "Kältetechnik Rhein-Main GmbH", note = "contract terminated" });
        var after = await lobby.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(listed.IsSuccessStatusCode, await listed.Content.ReadAsStringAsync());
        Assert.False(after.Grant);
        Assert.Equal("watchlisted", after.Reason);
    }

    [Fact]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-3")]
    public async Task OnSite_ShowsWhereTheVisitorIsAndWhoEscortedThemIn()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var serverRoom = await edge.ReaderAsync("rdr-sr1-in");
        await desk.CheckedInVisitAsync(VisitDesk.Request(zones: ["demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1"]));

        Assert.True((await edge.PresentCardAndFingerAsync(serverRoom, Operator)).Grant);
        Assert.True((await serverRoom.PresentCardAsync(VisitDesk.Badge1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var onSite = await desk.Frontdesk.GetFromJsonAsync<List<OnSiteView>>("api/v1/visits/on-site", AdminJson.Options);

        var here = Assert.Single(onSite!).LastSeen!;
        Assert.Equal(("demo-sr1", "rdr-sr1-in", "p-mkoch"), (here.Zone, here.Reader, here.EscortedBy));
    }

    /// <summary>
    /// A visitor's last grant whose detail is not the JSON the service writes (a database changed outside it) must not
    /// take the whole on-site list down: it is the desk's roll call in an evacuation. The row is shown without an escort.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-AU-9")]
    public async Task OnSite_WithAVisitorsLastGrantWhoseDetailIsNotJson_StillListsEveryone()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        await desk.CheckedInVisitAsync();
        var visitor = edge.Edge.Configuration.Cardholders.Credentials[VisitDesk.Badge1].Person;
        await edge.Edge.Pipeline.AppendAsync(new LogEntry
        {
            At = edge.Clock.GetCurrentInstant(), Kind = LogKinds.Access, Decision = "grant", SiteId = "demo", ReaderId = "rdr-dh1-in", DoorId = "door-dh1",
            ZoneId = "demo-dh1", PersonId = visitor.Value, Reason = "granted", Detail = "{\"escort\": p-mkoch",
        }, CancellationToken.None);

        var response = await desk.Frontdesk.GetAsync("api/v1/visits/on-site");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var here = Assert.Single((await response.Content.ReadFromJsonAsync<List<OnSiteView>>(AdminJson.Options))!).LastSeen!;
        Assert.Equal(("door-dh1", null), (here.Door, here.EscortedBy));
    }

    /// <summary>The watch-list entry's audit row is already in the commit the swipe is decided in.</summary>
    [Fact]
    [Trait("control", "NIST-PE-8")]
    [Trait("control", "NIST-PE-3")]
    public async Task AVisitorOnSite_SwipingWhileTheirOrganizationIsBeingWatchListed_IsRefused()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var lobby = await RawReader.ConnectAsync(edge, "rdr-lobby-in");
        await desk.CheckedInVisitAsync();
        var visitors = edge.Host.Services.GetRequiredService<VisitorService>();

        var row = await BadgeSwipedWhileInFlightAsync(edge, lobby, "watchlist.add", async () =>
            (await visitors.AddToWatchlistAsync(new OperatorIdentity("sec-1", OperatorRole.Security, "p-sec-1"), new WatchlistInput("organization", "Kältetechnik Rhein-Main GmbH"))).IsOk);

        Assert.Equal(("deny", "watchlisted"), (row.Decision, row.Reason));
        Assert.Contains("\"changeInFlight\":\"true\"", row.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// A co-escort who leaves (HR: <c>visit.escort_remove</c>) had opened an escort window into server room 1: the visit's
    /// visitor on site must not follow them in on it once the removal's row is in the commit.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.3.3")]
    public async Task AVisitorFollowingACoEscortWhoseRemovalIsInFlight_IsDeniedEscortRequired()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var card = await RawReader.ConnectAsync(edge, "rdr-sr1-in");
        var finger = await RawReader.ConnectAsync(edge, EdgeHarness.DemoFingerprintReader);
        await desk.CheckedInVisitAsync(new
        {
            site = "demo",
            purpose = "Replace a failed PSU in rack A-07",
            date = "2026-12-01",
            start = "10:15",
            end = "12:00",
            zones = new[] { "demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1" },
            visitors = new[] { new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" } },
            escorts = new[] { "p-mkoch", "p-aschulz" },
        });
        await card.CardAsync(Operator);
        Assert.True((await card.NextDecisionAsync()).Pending);
        var verify = await finger.NextCommandAsync();
        await finger.FingerprintAsync(verify.RequestId, 95, verify.Templates[0].TemplateId);
        Assert.True((await card.NextDecisionAsync()).Grant);          // p-mkoch is in: her escort window is open
        var visitors = edge.Host.Services.GetRequiredService<VisitorService>();

        var row = await BadgeSwipedWhileInFlightAsync(edge, card, "visit.escort_remove", async () =>
            (await visitors.EndInvolvementAsync(AdminActor.EverySite("hr-feed"), new PersonId("p-mkoch"), "hr-test")).IsOk);

        Assert.Equal(("deny", "escort_required"), (row.Decision, row.Reason));
        Assert.Contains("\"changeInFlight\":\"true\"", row.Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// The desk checks the visitor out while their badge is at the lobby: the swipe, decided in the commit that makes the
    /// check-out's row durable, is refused. If the badge's revocation then cannot be stored, a <c>.failed</c> row says so,
    /// the visitor is still on site and the badge works again.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-3")]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AVisitorBadgeSwipedWhileTheCheckOutIsInFlight_IsDeniedBadgeReturned_AndARevocationNotStoredIsWithdrawn(bool storeRefuses)
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var lobby = await RawReader.ConnectAsync(edge, "rdr-lobby-in");
        var visit = await desk.CheckedInVisitAsync();
        var visitors = edge.Host.Services.GetRequiredService<VisitorService>();
        if (storeRefuses)
        {
            using var connection = edge.Edge.Database.Open();
            connection.Execute("CREATE TRIGGER refuse_revoke BEFORE UPDATE OF status ON credentials BEGIN SELECT RAISE(ABORT, 'test: disk I/O error'); END");
        }

        VisitResult<VisitView>? result = null;
        var row = await BadgeSwipedWhileInFlightAsync(edge, lobby, VisitActions.CheckOut, async () =>
        {
            result = await visitors.CheckOutAsync(new OperatorIdentity("desk-1", OperatorRole.Frontdesk, "p-desk-1"), visit.Id, 1);
            return true;
        });

        Assert.Equal(("deny", "badge_returned"), (row.Decision, row.Reason));
        Assert.Contains("\"changeInFlight\":\"true\"", row.Detail, StringComparison.Ordinal);
        if (!storeRefuses)
        {
            Assert.True(result!.IsOk, result.Message);
            return;
        }

        var checkOut = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = VisitActions.CheckOut }));
        var failed = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = LogReasons.Failed(VisitActions.CheckOut) }));
        var swipe = await lobby.CardAsync(VisitDesk.Badge1);
        var after = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == swipe);
        Assert.Equal(VisitOutcome.Unavailable, result!.Outcome);
        Assert.Contains($"\"failedSeq\":{checkOut.Seq}", failed.Detail, StringComparison.Ordinal);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = LogReasons.Failed(CardholderActions.CredentialRevoke) }));
        Assert.Equal("on_site", desk.Get(edge, visit.Id).Visitors[0].Status);
        Assert.Equal(("grant", "granted"), (after.Decision, after.Reason));
    }

    /// <summary>
    /// p-mkoch badged into server room 1 before she was terminated: the visitor must not follow her in on that window from
    /// the termination's row on (a swipe decided in its commit, then one after), whatever her part in the visit.
    /// </summary>
    [Theory]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-PE-2(3)")]
    [InlineData("sole escort")]
    [InlineData("co-escort")]
    [InlineData("host, no escorts named")]
    public async Task AVisitorFollowingAnEscortWhoseTerminationIsInFlight_IsDeniedEscortRequired_AndStaysDenied(string part)
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var card = await RawReader.ConnectAsync(edge, "rdr-sr1-in");
        var finger = await RawReader.ConnectAsync(edge, EdgeHarness.DemoFingerprintReader);
        var hosts = part.StartsWith("host", StringComparison.Ordinal);
        var request = VisitDesk.Request(
            zones: ["demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1"],
            host: hosts ? "p-mkoch" : null,
            escorts: hosts ? [] : part == "co-escort" ? ["p-mkoch", "p-aschulz"] : ["p-mkoch"]);
        await desk.CheckedInVisitAsync(request, hosts ? desk.As("aschulz", OperatorRole.Approver, "p-aschulz") : null);   // she may not approve what she hosts
        await card.CardAsync(Operator);
        Assert.True((await card.NextDecisionAsync()).Pending);
        var verify = await finger.NextCommandAsync();
        await finger.FingerprintAsync(verify.RequestId, 95, verify.Templates[0].TemplateId);
        Assert.True((await card.NextDecisionAsync()).Grant);          // p-mkoch is in: her escort window is open

        var during = await BadgeSwipedWhileInFlightAsync(edge, card, CardholderActions.PersonTerminate, async () =>
            (await edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite(HrFeedService.Actor), "p-mkoch", "terminated")).IsOk);
        var swipe = await card.CardAsync(VisitDesk.Badge1);
        var after = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == swipe);

        Assert.Equal(("deny", "escort_required"), (during.Decision, during.Reason));
        Assert.Contains("\"changeInFlight\":\"true\"", during.Detail, StringComparison.Ordinal);
        Assert.Equal(("deny", "escort_required"), (after.Decision, after.Reason));
    }

    /// <summary>
    /// Starts a change, presents the visitor's badge while the change's audit row waits in the held commit, and returns
    /// the swipe's row, logged after that audit row (asserted), once the change succeeded.
    /// </summary>
    private static async Task<LogEntry> BadgeSwipedWhileInFlightAsync(EdgeHarness edge, RawReader reader, string action, Func<Task<bool>> change)
    {
        Task<bool> changed;
        string swipe;
        await using (var held = await HeldPipeline.HoldAsync(edge))
        {
            changed = change();
            await held.WhenQueuedAsync(1);
            swipe = await reader.CardAsync(VisitDesk.Badge1);
            await held.WhenQueuedAsync(2);
            held.Release();
        }

        Assert.True(await changed.WaitAsync(EdgeHarness.Timeout), action);
        var row = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == swipe);
        var audit = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = action }));
        Assert.True(audit.Seq < row.Seq, $"the swipe is logged after the {action} row");
        return row;
    }
}

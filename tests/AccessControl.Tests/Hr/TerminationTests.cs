using System.Net;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Hr;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using AccessControl.Tests.Visitors;
using AccessControl.Visitors;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Hr;

/// <summary>
/// "A person who leaves loses access at once": the HR feed over HTTP against the whole service on the demo site with a
/// real broker. p-mkoch (card 04A1B2C3D4E5F6, right index enrolled) leaves.
/// </summary>
public class TerminationTests
{
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "ISO27001-A.7.3")]
    [Trait("control", "PCI-10.2.2")]
    public async Task Termination_DeniesTheNextSwipe_AndRevokesTemplatesTokensAndVisits_EachAudited()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        using var desk = VisitDesk.For(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var mkochApprover = desk.As("mkoch", OperatorRole.Approver, "p-mkoch");
        var mkochHost = desk.As("mkoch-host", OperatorRole.Host, "p-mkoch");
        var hosted = await RequestAsync(mkochHost, escorts: []);                               // she hosts: cancelled
        var escorted = await desk.RequestAsync();                                               // she is the only escort: cancelled
        await desk.ApproveAsync(escorted.Id);                                                   // (approved by another: she escorts it)
        var coEscorted = await RequestAsync(desk.Host, escorts: ["p-mkoch", "p-aschulz"]);      // she co-escorts: loses her
        Assert.Equal(HttpStatusCode.OK, (await mkochApprover.GetAsync($"api/v1/visits/{hosted.Id}")).StatusCode);

        var result = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000123")));
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(HrOutcomes.Applied, result.Outcome);
        Assert.False(swipe.Grant);
        Assert.Equal("credential_revoked", swipe.Reason);
        Assert.Equal([Operator], result.Changes!.CredentialsRevoked);
        Assert.Equal(1, result.Changes.FingerprintTemplatesRevoked);
        Assert.Equal(["mkoch", "mkoch-host"], result.Changes.OperatorsDisabled);

        // Fingerprints: every template revoked; nothing left for the review's reconciliation to find.
        Assert.All(edge.Edge.Fingerprints.List("p-mkoch").Value!, t => Assert.NotNull(t.RevokedAt));
        Assert.DoesNotContain(new PersonId("p-mkoch"), edge.Edge.Configuration.Cardholders.FingerprintEnrolled);
        Assert.DoesNotContain(edge.Edge.Fingerprints.Reconcile().Orphans, o => o.Template.PersonId == "p-mkoch");

        // Her operator tokens no longer authenticate.
        Assert.Equal(HttpStatusCode.Unauthorized, (await mkochApprover.GetAsync($"api/v1/visits/{hosted.Id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await mkochHost.GetAsync($"api/v1/visits/{hosted.Id}")).StatusCode);

        // Visits: the ones she hosts or alone escorts are cancelled; the co-escorted one goes on without her.
        Assert.Equal("withdrawn", desk.Get(edge, hosted.Id).Status);
        Assert.Equal("withdrawn", desk.Get(edge, escorted.Id).Status);
        var remaining = desk.Get(edge, coEscorted.Id);
        Assert.Equal("requested", remaining.Status);
        Assert.Equal(["p-aschulz"], remaining.Escorts);

        // One audited sequence, in order, every row by hr-feed and naming the HR event.
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 10_000 }).Where(r => r.Actor == HrFeedService.Actor).ToList();
        Assert.Equal(
            ["hr.event", "person.terminate", "credential.revoke", "fingerprint.revoke", "visit.cancel", "visit.cancel", "visit.escort_remove", "operator_token.revoke", "hr.applied"],
            rows.Select(r => r.Reason));
        Assert.All(rows, r => Assert.Contains("hr-2026-000123", r.Detail, StringComparison.Ordinal));
        Assert.All(rows, r => Assert.Contains("\"remote\":\"127.0.0.1\"", r.Detail, StringComparison.Ordinal)); // where the HR system sent it from (PCI 10.2.2)
        var access = edge.Rows(new LogFilter { Kind = LogKinds.Access, PersonId = "p-mkoch" });
        Assert.True(rows.Single(r => r.Reason == "person.terminate").Seq < access[^1].Seq);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    [Trait("control", "ISO-IEC-24745")]
    public async Task TerminationByAnOperatorThroughTheApi_RevokesCardsTemplatesAndVisitsAsTheHrFeedDoes_SoARehireGetsNoneBack()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        desk.As("mkoch", OperatorRole.Approver, "p-mkoch");
        var hosted = await RequestAsync(desk.As("mkoch-host", OperatorRole.Host, "p-mkoch"), escorts: []);

        // `accesscontrol person status p-mkoch terminated`: the CLI sends exactly this.
        var response = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });
        var rehire = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "active" });
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (response.StatusCode, rehire.StatusCode));
        Assert.Equal("credential_revoked", swipe.Reason);
        Assert.Equal(CredentialStatus.Revoked, edge.Edge.Configuration.Cardholders.Credentials[Operator].Status);
        Assert.All(edge.Edge.Fingerprints.List("p-mkoch").Value!, t => Assert.NotNull(t.RevokedAt));
        Assert.DoesNotContain(edge.Edge.Fingerprints.Reconcile().Orphans, o => o.Template.PersonId == "p-mkoch");
        Assert.Equal("withdrawn", desk.Get(edge, hosted.Id).Status);
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 10_000 }).Where(r => r.Actor == "admin-1").ToList();
        Assert.Equal(["person.terminate", "credential.revoke", "fingerprint.revoke", "visit.cancel", "operator_token.revoke", "person.activate"], rows.Select(r => r.Reason));
        Assert.All(rows, r => Assert.Equal(edge.Clock.GetCurrentInstant(), r.At));
        Assert.Contains("\"operators\":[\"mkoch\",\"mkoch-host\"]", rows.Single(r => r.Reason == "operator_token.revoke").Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    [Trait("control", "ISO-IEC-24745")]
    public async Task TerminationThroughAPersonPut_IsTheWholeTermination_ThenTheRestOfTheChange_SoARehireGetsNoneBack()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var hosted = await RequestAsync(desk.As("mkoch-host", OperatorRole.Host, "p-mkoch"), escorts: []);

        // `accesscontrol person set p-mkoch --name "Martina Berger" --kind employee --status terminated`: the CLI sends exactly this.
        var response = await desk.Admin.PutAsJsonAsync("api/v1/people/p-mkoch", new { name = "Martina Berger", kind = "employee", status = "terminated" });
        var rehire = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "active" });
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (response.StatusCode, rehire.StatusCode));
        Assert.Equal("credential_revoked", swipe.Reason);
        Assert.Equal(CredentialStatus.Revoked, edge.Edge.Configuration.Cardholders.Credentials[Operator].Status);
        Assert.Equal("Martina Berger", edge.Edge.Configuration.Cardholders.People[new PersonId("p-mkoch")].Name);
        Assert.All(edge.Edge.Fingerprints.List("p-mkoch").Value!, t => Assert.NotNull(t.RevokedAt));
        Assert.Equal("withdrawn", desk.Get(edge, hosted.Id).Status);
        // The termination first (no leaver is given anything while active), then the rest of the request.
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 10_000 }).Where(r => r.Actor == "admin-1").ToList();
        Assert.Equal(
            ["person.terminate", "credential.revoke", "fingerprint.revoke", "visit.cancel", "operator_token.revoke", "person.upsert", "person.activate"],
            rows.Select(r => r.Reason));
        Assert.All(rows, r => Assert.Equal(edge.Clock.GetCurrentInstant(), r.At));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task Termination_OfAnApprover_WithdrawsTheVisitsTheyApprovedThatNobodyCheckedInTo_SoTheirLastApprovalLetsNobodyIn()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        await desk.AddBadgeAsync();
        var leaver = desk.As("aschulz", OperatorRole.Approver, "p-aschulz");
        var approvedByLeaver = await desk.RequestAsync();
        await desk.ApproveAsync(approvedByLeaver.Id, leaver);
        var approvedByAnother = await desk.RequestAsync();
        await desk.ApproveAsync(approvedByAnother.Id);

        var terminated = await desk.Admin.PostAsJsonAsync("api/v1/people/p-aschulz/status", new { status = "terminated" });
        var checkIn = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{approvedByLeaver.Id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(HttpStatusCode.OK, terminated.StatusCode);
        Assert.Equal((HttpStatusCode.UnprocessableEntity, "visit_not_approved"), (checkIn.StatusCode, await VisitDesk.RefusalCodeAsync(checkIn)));
        Assert.Equal("withdrawn", desk.Get(edge, approvedByLeaver.Id).Status);
        Assert.Equal("approved", desk.Get(edge, approvedByAnother.Id).Status);
        var cancel = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.cancel" }));
        Assert.Equal("admin-1", cancel.Actor);
        Assert.Contains("\"why\":\"approver_left\"", cancel.Detail, StringComparison.Ordinal);
        Assert.Contains("\"person\":\"p-aschulz\"", cancel.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task Termination_OfARequester_WithdrawsTheRequestsTheyMadeForAnotherHostThatAwaitADecision_SoNobodyApprovesALeaversLastRequest()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        var leaver = desk.As("aschulz", OperatorRole.Host, "p-aschulz");
        var pending = await RequestAsync(leaver, host: "p-jweber");
        var alreadyApproved = await RequestAsync(leaver, host: "p-jweber");
        await desk.ApproveAsync(alreadyApproved.Id);
        var byTheHost = await desk.RequestAsync();

        var terminated = await desk.Admin.PostAsJsonAsync("api/v1/people/p-aschulz/status", new { status = "terminated" });
        var approve = await desk.Approver.PostAsJsonAsync($"api/v1/visits/{pending.Id}/approve", new { note = "looks fine" });

        Assert.Equal(HttpStatusCode.OK, terminated.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, approve.StatusCode);
        Assert.Equal("withdrawn", desk.Get(edge, pending.Id).Status);
        Assert.Equal("approved", desk.Get(edge, alreadyApproved.Id).Status); // vouched for by its approver, who stays
        Assert.Equal("requested", desk.Get(edge, byTheHost.Id).Status);
        var cancel = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "visit.cancel" }));
        Assert.Contains("\"why\":\"requester_left\"", cancel.Detail, StringComparison.Ordinal);
        Assert.Contains($"\"visit\":{pending.Id}", cancel.Detail, StringComparison.Ordinal);

        static async Task<VisitView> RequestAsync(HttpClient requester, string host)
        {
            var response = await requester.PostAsJsonAsync("api/v1/visits", VisitDesk.Request(host: host));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
        }
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task Termination_OfAnAdmin_RevokesTheirAdminToken_WhichIsRefusedFromThenOn()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var token = new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("mkoch-admin", OperatorRole.Admin, "test", "p-mkoch");
        edge.TreatAsSecret("an operator token", token);
        using var admin = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        admin.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("api/v1/people/p-mkoch")).StatusCode);

        var result = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000150")));
        var read = await admin.GetAsync("api/v1/people/p-mkoch");
        var reinstate = await admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "active" });

        Assert.Equal(HrOutcomes.Applied, result.Outcome);
        Assert.Equal(["mkoch-admin"], result.Changes!.OperatorsDisabled);
        Assert.Equal(HttpStatusCode.Unauthorized, read.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, reinstate.StatusCode);
        Assert.Equal("terminated", PersonView.From(edge.Edge.Configuration.Cardholders.People[new PersonId("p-mkoch")]).Status);
        var revoke = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "operator_token.revoke" }));
        Assert.Equal((HrFeedService.Actor, "p-mkoch"), (revoke.Actor, revoke.PersonId));
        Assert.Contains("\"operators\":[\"mkoch-admin\"]", revoke.Detail, StringComparison.Ordinal);
        Assert.Contains("hr-2026-000150", revoke.Detail, StringComparison.Ordinal);
        var listed = Assert.Single(new ApiTokens(edge.Edge.Database, edge.Clock).List(), t => t.Operator == "mkoch-admin");
        Assert.Equal((OperatorToken.Revoked, HrFeedService.Actor), (listed.State, listed.RevokedBy));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-5")]
    public async Task Termination_WhoseTokensRowCouldNotBeWritten_WritesItOnTheRetry_ExactlyOnce()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        edge.TreatAsSecret("an operator token", new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("mkoch-admin", OperatorRole.Admin, "test", "p-mkoch"));
        var termination = HrFeedClient.Termination("hr-2026-000151");

        // The log refuses the tokens' row (a full disk, an I/O error), then, on the retry, the last row.
        RefuseRows(edge, "operator_token.revoke");
        var first = Assert.Single(await hr.SendAsync(termination));
        RefuseRows(edge, "hr.applied");
        var second = Assert.Single(await hr.SendAsync(termination));
        RefuseRows(edge, null);
        var third = Assert.Single(await hr.SendAsync(termination));
        var fourth = Assert.Single(await hr.SendAsync(termination));

        Assert.Equal([HrOutcomes.Unavailable, HrOutcomes.Unavailable, HrOutcomes.Applied, HrOutcomes.AlreadyApplied],
            new[] { first, second, third, fourth }.Select(r => r.Outcome));
        Assert.Equal(["mkoch-admin"], third.Changes!.OperatorsDisabled);
        var revoke = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "operator_token.revoke" }));
        Assert.Equal((HrFeedService.Actor, "p-mkoch"), (revoke.Actor, revoke.PersonId));
        Assert.Equal($$"""{"remote":"127.0.0.1","operators":["mkoch-admin"],"ids":{{RevokedTokenIds(edge, "mkoch-admin")}},"reference":"hr-2026-000151"}""", revoke.Detail);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task Termination_WhoseStatusRowCouldNotBeWritten_StillDeniesHerCardFromItsInstant_UntilTheRetryFinishesIt()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var termination = HrFeedClient.Termination("hr-2026-000152");

        // The log refuses the status change's row: nothing of the termination is done, the person is still active.
        RefuseRows(edge, "person.terminate");
        var first = Assert.Single(await hr.SendAsync(termination));
        var status = edge.Edge.Configuration.Cardholders.People[new PersonId("p-mkoch")].Status;
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        RefuseRows(edge, null);
        var retry = Assert.Single(await hr.SendAsync(termination));

        Assert.Equal((HrOutcomes.Unavailable, PersonStatus.Active), (first.Outcome, status));
        Assert.Equal((false, "credential_revoked"), (swipe.Grant, swipe.Reason));
        Assert.Equal(HrOutcomes.Applied, retry.Outcome);
        Assert.Empty(edge.Edge.Configuration.Cardholders.Departures);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-5")]
    public async Task TerminationByAnOperator_ThatStoppedPartWay_NamesTheRevokedTokensWhenAskedAgain_ExactlyOnce()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        desk.As("mkoch", OperatorRole.Approver, "p-mkoch");
        edge.TreatAsSecret("an operator token", new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("mkoch-admin", OperatorRole.Admin, "test", "p-mkoch"));

        // The log refuses the templates' row: the status (and with it the tokens) and the cards are done, the rest is not.
        RefuseRows(edge, "fingerprint.revoke");
        var first = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });
        RefuseRows(edge, null);
        var second = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });
        var third = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK, HttpStatusCode.OK], new[] { first, second, third }.Select(r => r.StatusCode));
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 10_000 }).Where(r => r.Actor == "admin-1").ToList();
        Assert.Equal(["person.terminate", "credential.revoke", "fingerprint.revoke", "operator_token.revoke"], rows.Select(r => r.Reason));
        Assert.Equal($$"""{"remote":"127.0.0.1","operators":["mkoch","mkoch-admin"],"ids":{{RevokedTokenIds(edge, "mkoch", "mkoch-admin")}}}""", rows[^1].Detail);
    }

    /// <summary>
    /// The row naming the tokens is written by whoever finishes the termination, not only by the operator who began it
    /// (a colleague on the next shift): it says whose termination revoked them.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-5")]
    public async Task TerminationCutShortBeforeItsTokensRow_FinishedByAnotherOperator_NamesTheTokensOnce_AndWhoseTerminationRevokedThem()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        desk.As("mkoch", OperatorRole.Approver, "p-mkoch");
        var colleague = desk.As("admin-2", OperatorRole.Admin, "p-admin-2");
        edge.TreatAsSecret("an operator token", new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("mkoch-admin", OperatorRole.Admin, "test", "p-mkoch"));

        // Every step is done but the tokens' row, which the log refuses.
        RefuseRows(edge, "operator_token.revoke");
        var first = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });
        RefuseRows(edge, null);
        var second = await colleague.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });
        var third = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });

        Assert.Equal([HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK, HttpStatusCode.OK], new[] { first, second, third }.Select(r => r.StatusCode));
        var revoke = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "operator_token.revoke" }));
        Assert.Equal(("admin-2", "p-mkoch"), (revoke.Actor, revoke.PersonId));
        Assert.Equal($$"""{"remote":"127.0.0.1","operators":["mkoch","mkoch-admin"],"ids":{{RevokedTokenIds(edge, "mkoch", "mkoch-admin")}},"terminatedBy":"admin-1"}""", revoke.Detail);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task ACardBoundOrReissuedToATerminatedPerson_IsRefused_SoARehireFindsNoneActive()
    {
        const string Another = "04C0FFEE000003";
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        Assert.Equal(HttpStatusCode.OK, (await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" })).StatusCode);

        var bound = await desk.Admin.PutAsJsonAsync($"api/v1/credentials/{Another}", new { technology = "desfire-ev3", personId = "p-mkoch" });
        var reissued = await desk.Admin.PostAsJsonAsync($"api/v1/credentials/{Operator}/reissue", new { technology = "desfire-ev3", personId = "p-mkoch", reason = "found again" });
        var rehire = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "active" });

        Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.OK), (bound.StatusCode, reissued.StatusCode, rehire.StatusCode));
        Assert.False(edge.Edge.Configuration.Cardholders.Credentials.ContainsKey(Another));
        Assert.All(edge.Edge.Configuration.Cardholders.CredentialsOf(new PersonId("p-mkoch")), c => Assert.Equal(CredentialStatus.Revoked, c.Status));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-5")]
    public async Task SecondTermination_OfSomeoneAlreadyTerminated_NamesNoTokens_TheFirstOneRevoked()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        edge.TreatAsSecret("an operator token", new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("mkoch-admin", OperatorRole.Admin, "test", "p-mkoch"));

        // HR sends the leaver again under a new id (a correction, a second system): the first termination did it all.
        var first = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000160")));
        var second = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000161")));

        Assert.Equal([HrOutcomes.Applied, HrOutcomes.Applied], new[] { first, second }.Select(r => r.Outcome));
        Assert.Equal(["mkoch-admin"], first.Changes!.OperatorsDisabled);
        Assert.Empty(second.Changes!.OperatorsDisabled);
        var revoke = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "operator_token.revoke" }));
        Assert.Contains("hr-2026-000160", revoke.Detail, StringComparison.Ordinal);
    }

    /// <summary>Makes every insert of an entry-log row with this reason fail inside SQLite, as a full disk would; null: none.</summary>
    private static void RefuseRows(EdgeHarness edge, string? reason) => SiteFileTerminationTests.RefuseRows(edge.Edge.Database, reason);

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.2")]
    public async Task Termination_WhileTheBrokerIsDown_IsDurable_AcrossABrokerAndAServiceRestart(BrokerKind broker)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-hr-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            await using (var edge = await EdgeHarness.StartAsync(broker, directory: directory))
            {
                using var hr = new HrFeedClient(edge);
                var reader = await edge.ReaderAsync("rdr-lobby-in");
                Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
                await edge.StopBrokerAsync();
                await reader.WhenDisconnectedAsync().WaitAsync(EdgeHarness.Timeout);

                var result = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000200")));
                await edge.StartBrokerAgainAsync();
                await reader.WhenConnectedAsync().WaitAsync(EdgeHarness.Timeout);
                var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

                Assert.Equal(HrOutcomes.Applied, result.Outcome);
                Assert.Equal("credential_revoked", swipe.Reason);
            }

            // The same data folder, the same site file loaded again, an hour later (the readers' seq, taken from the
            // clock like firmware's, moves on): the termination holds.
            await using (var again = await EdgeHarness.StartAsync(broker, now: EdgeHarness.BusinessHours + NodaTime.Duration.FromHours(1), directory: directory))
            {
                using var hr = new HrFeedClient(again);
                var reader = await again.ReaderAsync("rdr-lobby-in");
                var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
                var resent = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000200")));

                Assert.False(swipe.Grant);
                Assert.Equal("credential_revoked", swipe.Reason);
                Assert.Equal("terminated", PersonView.From(again.Edge.Configuration.Cardholders.People[new PersonId("p-mkoch")]).Status);
                Assert.Equal(HrOutcomes.AlreadyApplied, resent.Outcome);
                Assert.Equal(0, again.Edge.Fingerprints.List("p-mkoch").Value!.Count(t => t.RevokedAt is null));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task FutureDatedTermination_IsScheduled_AndAppliedByThePeriodicJobWhenDue()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var hrService = edge.Host.Services.GetService(typeof(HrFeedService)) as HrFeedService;
        var due = edge.Clock.GetCurrentInstant() + Duration.FromHours(2);

        var result = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000300", effectiveAt: "2026-12-01T12:00:00+01:00")));
        var early = await hrService!.ApplyDueAsync().WaitAsync(EdgeHarness.Timeout);
        var before = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        edge.Clock.Advance(Duration.FromHours(2));
        var applied = Assert.Single(await hrService.ApplyDueAsync().WaitAsync(EdgeHarness.Timeout));
        var after = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(HrOutcomes.Scheduled, result.Outcome);
        Assert.Equal(due, result.EffectiveAt);
        Assert.Empty(early);
        Assert.True(before.Grant);
        Assert.Equal(HrOutcomes.Applied, applied.Outcome);
        Assert.Equal("credential_revoked", after.Reason);
        Assert.Empty(await hrService.ApplyDueAsync().WaitAsync(EdgeHarness.Timeout));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task FutureDatedTermination_RefusesHerCardAndTokenFromItsInstant_BeforeThePeriodicJobHasAppliedIt()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        using var desk = VisitDesk.For(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var hrService = (HrFeedService)edge.Host.Services.GetService(typeof(HrFeedService))!;
        var mkoch = desk.As("mkoch", OperatorRole.Approver, "p-mkoch");
        var due = edge.Clock.GetCurrentInstant() + Duration.FromHours(2);

        var scheduled = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000302", effectiveAt: "2026-12-01T12:00:00+01:00")));
        var before = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var tokenBefore = await mkoch.GetAsync("api/v1/visits");
        edge.Clock.Advance(Duration.FromHours(2) - Duration.FromMilliseconds(1));
        var lastMoment = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        edge.Clock.Advance(Duration.FromMilliseconds(1));
        // Due now; the job that applies it has not run (its next round is up to a minute away).
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var token = await mkoch.GetAsync("api/v1/visits");
        var tokenState = desk.Tokens.List().Single(t => t.Operator == "mkoch").State;
        var notYetApplied = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.applied" });
        var applied = Assert.Single(await hrService.ApplyDueAsync().WaitAsync(EdgeHarness.Timeout));

        Assert.Equal((HrOutcomes.Scheduled, due), (scheduled.Outcome, scheduled.EffectiveAt));
        Assert.True(before.Grant);
        Assert.Equal(HttpStatusCode.OK, tokenBefore.StatusCode);
        Assert.True(lastMoment.Grant);
        Assert.Equal((false, "credential_revoked"), (swipe.Grant, swipe.Reason));
        Assert.Equal(HttpStatusCode.Forbidden, token.StatusCode); // refused for her person, as a terminated person's token
        Assert.Contains("person_terminated", await token.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("person_terminated", tokenState);
        Assert.Empty(notYetApplied);
        Assert.Equal(HrOutcomes.Applied, applied.Outcome);
        Assert.DoesNotContain(new PersonId("p-mkoch"), edge.Edge.Configuration.Cardholders.Departures.Keys);
        Assert.Equal(PersonStatus.Terminated, edge.Edge.Configuration.Cardholders.People[new PersonId("p-mkoch")].Status);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task FutureDatedTermination_IsInForceFromItsInstant_AfterARestartBeforeItWasDue()
    {
        using var folder = new DataFolder();
        await using (var first = await EdgeHarness.StartAsync(directory: folder.Path))
        {
            using var hr = new HrFeedClient(first);
            var scheduled = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000303", effectiveAt: "2026-12-01T10:30:00+01:00")));
            Assert.Equal(HrOutcomes.Scheduled, scheduled.Outcome);
        }

        // Started again before she leaves: nothing is due at the start; the job's next round is a minute after it.
        await using var second = await EdgeHarness.StartAsync(directory: folder.Path);
        var reader = await second.ReaderAsync("rdr-lobby-in");
        var before = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        second.Clock.Advance(Duration.FromMinutes(30));
        var after = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(before.Grant);
        Assert.Equal((false, "credential_revoked"), (after.Grant, after.Reason));
        Assert.Empty(second.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.applied" }));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task FutureDatedTermination_ThatBecameDueWhileTheServiceWasDown_IsAppliedBeforeTheNextStartDecidesAnySwipe()
    {
        using var folder = new DataFolder();
        await using (var first = await EdgeHarness.StartAsync(directory: folder.Path))
        {
            using var hr = new HrFeedClient(first);
            var scheduled = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000301", effectiveAt: "2026-12-01T10:30:00+01:00")));
            Assert.Equal(HrOutcomes.Scheduled, scheduled.Outcome);
        }

        // Started again at 11:00, half an hour after she left; the periodic job's first round is a minute away.
        await using var second = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: folder.Path);
        var swipe = await (await second.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "credential_revoked"), (swipe.Grant, swipe.Reason));
        var applied = Assert.Single(second.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.applied" }));
        Assert.Contains("hr-2026-000301", applied.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "PCI-10.2")]
    public async Task BackDatedTermination_CountsTheGrantsItCameTooLateToRefuse_AndRaisesAccessAfterTerminationAtTheSite()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var alarms = await edge.AlarmsAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);       // 10:00, before she left
        edge.Clock.Advance(Duration.FromMinutes(30));
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);       // 10:30, after: nobody knew yet
        var late = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access, PersonId = "p-mkoch" }), r => r.At == edge.Clock.GetCurrentInstant());

        // HR tells at 10:30 that she left at 10:15.
        var result = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000160", effectiveAt: "2026-12-01T10:15:00+01:00")));
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        while (alarm.Type != AlarmTypes.AccessAfterTermination)
        {
            alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        }

        Assert.Equal(HrOutcomes.Applied, result.Outcome);
        Assert.Equal(1, result.Changes!.GrantsAfterEffective);
        Assert.Equal(("demo", late.DoorId), (alarm.SiteId, alarm.DoorId));
        Assert.StartsWith("p-mkoch was granted 1 time(s) at this site after their termination took effect at 2026-12-01T09:15:00Z (HR event hr-2026-000160", alarm.Detail, StringComparison.Ordinal);
        Assert.Contains($"(seq {late.Seq})", alarm.Detail, StringComparison.Ordinal);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.AccessAfterTermination }));
        Assert.Contains(alarm.AlarmId, row.Detail, StringComparison.Ordinal);
        Assert.Contains($"(seq {late.Seq})", row.Detail, StringComparison.Ordinal);
        Assert.Contains("\"grantsAfterEffective\":1", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.applied" })).Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-6")]
    public async Task BackDatedTermination_RetriedAfterItsSummaryRowFailed_RaisesAccessAfterTerminationOnce()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        edge.Clock.Advance(Duration.FromMinutes(30));
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var termination = HrFeedClient.Termination("hr-2026-000162", effectiveAt: "2026-12-01T10:15:00+01:00");

        RefuseRows(edge, "hr.applied");
        var first = Assert.Single(await hr.SendAsync(termination));
        var alarmsAfterFirst = edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.AccessAfterTermination });
        RefuseRows(edge, null);
        var second = Assert.Single(await hr.SendAsync(termination));
        var third = Assert.Single(await hr.SendAsync(termination));

        Assert.Equal([HrOutcomes.Unavailable, HrOutcomes.Applied, HrOutcomes.AlreadyApplied], new[] { first, second, third }.Select(r => r.Outcome));
        Assert.Empty(alarmsAfterFirst);
        Assert.Equal(1, second.Changes!.GrantsAfterEffective);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.AccessAfterTermination }));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    public async Task TerminationEffectiveWhenReceived_HasNoGrantsToReport_AndRaisesNothing()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var result = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000161")));

        Assert.Equal((HrOutcomes.Applied, 0), (result.Outcome, result.Changes!.GrantsAfterEffective));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.AccessAfterTermination }));
    }

    [Fact]
    [Trait("control", "NIST-PS-5")]
    public async Task FutureDatedTransfer_DecidesWithItsLevelsFromItsInstant_BeforeThePeriodicJobHasAppliedIt_AndAfterARestart()
    {
        using var folder = new DataFolder();
        await using (var first = await EdgeHarness.StartAsync(directory: folder.Path))
        {
            using var hr = new HrFeedClient(first);
            var scheduled = Assert.Single(await hr.SendAsync(new
            {
                eventId = "hr-2026-000410", type = "transfer", personId = "p-jweber", effectiveAt = "2026-12-01T10:30:00+01:00", accessLevels = new[] { "lobby-24x7" },
            }));
            Assert.Equal(HrOutcomes.Scheduled, scheduled.Outcome);
        }

        // Started again before the move: nothing is due at the start; the job's next round is a minute after it.
        await using var second = await EdgeHarness.StartAsync(directory: folder.Path);
        var hrService = (HrFeedService)second.Host.Services.GetService(typeof(HrFeedService))!;
        var dataHall = await second.ReaderAsync("rdr-dh1-in");
        var before = await dataHall.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout);
        second.Clock.Advance(Duration.FromMinutes(30));
        // Into the hall twice: the zone check comes before anti-passback, so only the transfer's levels say no_access_to_zone.
        var after = await dataHall.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout);
        var notYetApplied = second.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.applied" });
        var applied = Assert.Single(await hrService.ApplyDueAsync().WaitAsync(EdgeHarness.Timeout));

        Assert.True(before.Grant);
        Assert.Equal((false, "no_access_to_zone"), (after.Grant, after.Reason));
        Assert.Empty(notYetApplied);
        Assert.Equal(HrOutcomes.Applied, applied.Outcome);
        Assert.Empty(second.Edge.Configuration.Cardholders.Transfers);
        Assert.Equal(["lobby-24x7"], second.Edge.Configuration.Cardholders.People[new PersonId("p-jweber")].AccessLevels.Select(l => l.Value));
    }

    [Fact]
    [Trait("control", "NIST-PS-5")]
    public async Task Transfer_ReplacesTheAccessLevels_InOneAuditedChange()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var dataHall = await edge.ReaderAsync("rdr-dh1-in");
        Assert.True((await dataHall.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var results = await hr.SendAsync(
            HrFeedClient.Transfer("hr-2026-000400", "p-jweber", "lobby-24x7"),
            HrFeedClient.Transfer("hr-2026-000401", "p-jweber", "lobby-24x7", "no-such-level"),
            HrFeedClient.Transfer("hr-2026-000402", "p-nobody", "lobby-24x7"),
            new { eventId = "hr-2026-000403", type = "promotion", personId = "p-jweber" });
        var after = await dataHall.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal([HrOutcomes.Applied, HrOutcomes.Invalid, HrOutcomes.UnknownPerson, HrOutcomes.Invalid], results.Select(r => r.Outcome));
        Assert.Equal(["lobby-24x7"], results[0].Changes!.AccessLevels);
        Assert.Contains(results[1].Errors!, e => e.Field == "accessLevels[1]");
        Assert.Contains(results[3].Errors!, e => e.Field == "type");
        Assert.Equal("no_access_to_zone", after.Reason);
        var change = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, PersonId = "p-jweber", Reason = "person.access_levels" }));
        Assert.Equal(HrFeedService.Actor, change.Actor);
        Assert.Contains("hr-2026-000400", change.Detail, StringComparison.Ordinal);
        Assert.Equal(3, edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.rejected" }).Count);
    }

    /// <summary>A visit at the demo site this afternoon, asked for by <paramref name="host"/> (a host's client).</summary>
    internal static async Task<VisitView> RequestAsync(HttpClient host, string[] escorts)
    {
        var response = await host.PostAsJsonAsync("api/v1/visits", new
        {
            site = "demo",
            purpose = "Audit of the cooling plant",
            date = "2026-12-01",
            start = "14:00",
            end = "16:00",
            zones = new[] { "demo-campus", "demo-bldg-a", "demo-dh1" },
            visitors = new[] { new { name = "Anna Berg", organization = "Audit GmbH" } },
            escorts,
        });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
    }

    /// <summary>The ids, as the JSON array a termination's token row writes, of p-mkoch's revoked tokens of these operators.</summary>
    internal static string RevokedTokenIds(EdgeHarness edge, params string[] operators) =>
        System.Text.Json.JsonSerializer.Serialize(new ApiTokens(edge.Edge.Database, edge.Clock).List()
            .Where(t => t.Person == "p-mkoch" && t.RevokedAt is not null && operators.Contains(t.Operator)).Select(t => t.Id).Order(StringComparer.Ordinal));
}

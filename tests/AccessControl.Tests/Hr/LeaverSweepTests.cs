using System.Net;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.Hr;
using AccessControl.People;
using AccessControl.Sites;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using AccessControl.Tests.Visitors;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Hr;

/// <summary>
/// An operator's termination cut short (here a 503: the log refused the cards' row, so only the status was done) leaves
/// p-mkoch terminated, every card denied, but holding her card, her right index and the visit she hosts this afternoon,
/// which a reactivation would bring back. The next start finishes it (<see cref="LeaverSweep"/>).
/// </summary>
public sealed class LeaverSweepTests : IDisposable
{
    private readonly DataFolder folder = new();
    private int starts;

    public void Dispose() => folder.Dispose();

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    [Trait("control", "ISO-IEC-24745")]
    public async Task AnOperatorsTerminationCutShort_IsFinishedByTheNextStart_OnceAndAudited_SoAReactivationBringsNothingBack()
    {
        var visit = await TerminateCutShortAsync();

        LogEntry[] swept;
        await using (var second = await StartAsync())
        {
            SiteFileTerminationTests.AssertTakenAway(second, visit);
            swept = [.. SweepRows(second)];
        }

        await using var third = await StartAsync();
        Assert.True((await third.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("ops"), "p-mkoch", "active")).IsOk);
        var swipe = await (await third.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "credential_revoked"), (swipe.Grant, swipe.Reason));
        SiteFileTerminationTests.AssertTakenAway(third, visit);
        // The steps left, each a row by the sweep naming the start that did them; the status was done, so no row for it.
        // The row naming her host account's token, which the status change revoked, says whose termination that was.
        Assert.Equal(["credential.revoke", "fingerprint.revoke", "visit.cancel", "operator_token.revoke"], swept.Select(r => r.Reason));
        Assert.Equal($$"""{"operators":["mkoch-host"],"ids":{{TerminationTests.RevokedTokenIds(third, "mkoch-host")}},"reference":"start 2026-12-01T09:10:00Z","terminatedBy":"admin-1"}""", swept[^1].Detail);
        Assert.All(swept, r => Assert.Equal(EdgeHarness.BusinessHours + Duration.FromMinutes(10), r.At));
        Assert.All(swept.Where(r => r.Reason != "fingerprint.revoke"), r => Assert.Contains("\"reference\":\"start 2026-12-01T09:10:00Z\"", r.Detail, StringComparison.Ordinal));
        Assert.Contains("termination of p-mkoch by termination-sweep", swept[1].Detail, StringComparison.Ordinal);
        // The third start found nothing left to do, and wrote nothing.
        Assert.Equal(swept.Select(r => r.Seq), SweepRows(third).Select(r => r.Seq));
    }

    /// <summary>Before any start has finished it, a reactivation would bring back what the cut-short termination left.</summary>
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task Reactivation_OfSomeoneWhoseTerminationIsUnfinished_IsRefused_UntilTheyAreTerminatedAgain()
    {
        await TerminateCutShortAsync(async (edge, desk) =>
        {
            var byStatus = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "active" });
            var byPut = await desk.Admin.PutAsJsonAsync("api/v1/people/p-mkoch", new { name = "Martina Koch", kind = "employee", status = "suspended" });

            Assert.Equal((HttpStatusCode.Conflict, HttpStatusCode.Conflict), (byStatus.StatusCode, byPut.StatusCode));
            Assert.Contains($"card {Operator} not revoked", await byStatus.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(PersonStatus.Terminated, edge.Edge.Configuration.Cardholders.People[new PersonId("p-mkoch")].Status);

            // Terminated again: the steps are finished, and a rehire brings nothing back.
            Assert.Equal(HttpStatusCode.OK, (await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "active" })).StatusCode);
            Assert.Equal(CredentialStatus.Revoked, edge.Edge.Configuration.Cardholders.Credentials[Operator].Status);
        });
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-5")]
    public async Task ASweepStepThatCannotBeWritten_DoesNotRefuseTheStart_KeepsThePersonDenied_AndTheNextStartFinishesIt()
    {
        var logs = new CapturingLoggerProvider();
        var visit = await TerminateCutShortAsync();

        // The log still refuses the cards' rows at the next start.
        SiteFileTerminationTests.RefuseRows(new Database(new ServiceSettings { DataDirectory = folder.Path }.DatabasePath), "credential.revoke");
        await using (var second = await StartAsync(logs))
        {
            var swipe = await (await second.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

            Assert.Equal((false, "credential_revoked"), (swipe.Grant, swipe.Reason));
            Assert.Equal(CredentialStatus.Active, second.Edge.Configuration.Cardholders.Credentials[Operator].Status);
            Assert.Empty(SweepRows(second));
            Assert.Contains(logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal)
                && l.Contains("could not be finished at start for p-mkoch", StringComparison.Ordinal));
            SiteFileTerminationTests.RefuseRows(second.Edge.Database, null);
        }

        await using var third = await StartAsync();

        SiteFileTerminationTests.AssertTakenAway(third, visit);
        Assert.Equal(["credential.revoke", "fingerprint.revoke", "visit.cancel", "operator_token.revoke"], SweepRows(third).Select(r => r.Reason));
    }

    /// <summary>
    /// Every step done but the row naming the operator tokens the status change revoked (the log refused it): the next
    /// start writes it, once, saying whose termination revoked them; the HR feed's retry of its own event then writes none.
    /// </summary>
    [Theory]
    [InlineData("operator")]
    [InlineData("hr-feed")]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-AU-5")]
    public async Task ATerminationCutShortBeforeItsTokensRow_HasTheRowWrittenByTheNextStart_Once(string terminatedBy)
    {
        var termination = HrFeedClient.Termination("hr-2026-000170");
        await using (var first = await StartAsync())
        {
            using var desk = VisitDesk.For(first);
            using var hr = new HrFeedClient(first);
            first.TreatAsSecret("an operator token", new ApiTokens(first.Edge.Database, first.Clock).CreateToken("mkoch-admin", OperatorRole.Admin, "test", "p-mkoch"));
            SiteFileTerminationTests.RefuseRows(first.Edge.Database, "operator_token.revoke");
            if (terminatedBy == "operator")
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, (await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" })).StatusCode);
            }
            else
            {
                Assert.Equal(HrOutcomes.Unavailable, Assert.Single(await hr.SendAsync(termination)).Outcome);
            }

            SiteFileTerminationTests.RefuseRows(first.Edge.Database, null);
            Assert.Empty(first.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "operator_token.revoke" }));
        }

        LogEntry swept;
        await using (var second = await StartAsync())
        {
            swept = Assert.Single(second.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "operator_token.revoke" }));
            if (terminatedBy == "hr-feed")
            {
                // The start applied the event the failure left scheduled (after the sweep named the tokens): a resend changes nothing.
                using var hr = new HrFeedClient(second);
                Assert.Single(second.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.applied" }));
                Assert.Equal(HrOutcomes.AlreadyApplied, Assert.Single(await hr.SendAsync(termination)).Outcome);
            }
        }

        await using var third = await StartAsync();
        var author = terminatedBy == "operator" ? "admin-1" : HrFeedService.Actor;
        Assert.Equal((LeaverSweep.Actor, "p-mkoch"), (swept.Actor, swept.PersonId));
        Assert.Equal($$"""{"operators":["mkoch-admin"],"ids":{{TerminationTests.RevokedTokenIds(third, "mkoch-admin")}},"reference":"start 2026-12-01T09:10:00Z","terminatedBy":"{{author}}"}""", swept.Detail);
        Assert.Equal(swept.Seq, Assert.Single(third.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "operator_token.revoke" })).Seq);
        Assert.Equal([swept.Seq], SweepRows(third).Select(r => r.Seq));
    }

    /// <summary>An approver who holds no card: the visit they approved is all their termination has left to take away.</summary>
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task ATerminationCutShortBeforeTheVisitsItsLeaverApproved_IsFinishedByTheNextStart()
    {
        long visit;
        await using (var first = await StartAsync())
        {
            using var desk = VisitDesk.For(first);
            var added = await desk.Admin.PutAsJsonAsync("api/v1/people/p-leaving-approver", new { name = "Lena Vogt", kind = "employee", status = "active" });
            Assert.Equal(HttpStatusCode.OK, added.StatusCode);
            visit = (await desk.RequestAsync()).Id;
            await desk.ApproveAsync(visit, desk.As("leaving-approver", OperatorRole.Approver, "p-leaving-approver"));
            SiteFileTerminationTests.RefuseRows(first.Edge.Database, "visit.cancel");
            var response = await desk.Admin.PostAsJsonAsync("api/v1/people/p-leaving-approver/status", new { status = "terminated" });
            SiteFileTerminationTests.RefuseRows(first.Edge.Database, null);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("approved", desk.Get(first, visit).Status);
        }

        await using var second = await StartAsync();
        using var secondDesk = VisitDesk.For(second);

        Assert.Equal("withdrawn", secondDesk.Get(second, visit).Status);
        var swept = SweepRows(second);
        Assert.Equal(["visit.cancel", "operator_token.revoke"], swept.Select(r => r.Reason));
        Assert.Contains("\"why\":\"approver_left\"", swept[0].Detail, StringComparison.Ordinal);
    }

    /// <summary>
    /// A first start in which Martina Koch hosts a visit this afternoon and an administrator terminates her, answered 503:
    /// the log refused the first card's row.
    /// </summary>
    private async Task<long> TerminateCutShortAsync(Func<EdgeHarness, VisitDesk, Task>? then = null)
    {
        await using var first = await StartAsync();
        using var desk = VisitDesk.For(first);
        var visit = (await TerminationTests.RequestAsync(desk.As("mkoch-host", OperatorRole.Host, "p-mkoch"), escorts: [])).Id;
        SiteFileTerminationTests.RefuseRows(first.Edge.Database, "credential.revoke");
        var response = await desk.Admin.PostAsJsonAsync("api/v1/people/p-mkoch/status", new { status = "terminated" });
        SiteFileTerminationTests.RefuseRows(first.Edge.Database, null);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(PersonStatus.Terminated, first.Edge.Configuration.Cardholders.People[new PersonId("p-mkoch")].Status);
        Assert.Equal(CredentialStatus.Active, first.Edge.Configuration.Cardholders.Credentials[Operator].Status);
        if (then is not null)
        {
            await then(first, desk);
        }

        return visit;
    }

    private static IReadOnlyList<LogEntry> SweepRows(EdgeHarness edge) =>
        [.. edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 10_000 }).Where(r => r.Actor == LeaverSweep.Actor)];

    /// <summary>
    /// Each start ten minutes after the last (a reader's events of a new start are not taken for replays of the last
    /// one's). The first with the demo site file, the others with the stored one: a site file given again finishes the
    /// terminations of the people it declares itself (Termination.ImportSiteFileAsync), and most people are in none.
    /// </summary>
    private Task<EdgeHarness> StartAsync(CapturingLoggerProvider? logs = null)
    {
        var first = starts == 0;
        return EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromMinutes(10 * starts++), directory: folder.Path, logs: logs,
            configure: s => first ? s : s with { SiteFile = null });
    }
}

using System.Net;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Sites;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Tests.Admin;

public sealed class LogQueryTests : IAsyncLifetime
{
    private static readonly Instant T0 = AdminHost.Start;
    private AdminHost host = null!;

    public async Task InitializeAsync()
    {
        host = await AdminHost.StartAsync();
        await SeedAsync(host);
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    /// <summary>Five rows: three swipes, a door event and an admin change, one hour apart from <see cref="AdminHost.Start"/>.</summary>
    internal static async Task SeedAsync(AdminHost host)
    {
        LogEntry[] rows =
        [
            Access(T0, "door-hall-a", "rdr-hall-a-in", "p-1", "grant", "granted"),
            Access(T0 + Duration.FromHours(1), "door-hall-a", "rdr-hall-a-in", "p-2", "deny", "credential_revoked"),
            Access(T0 + Duration.FromHours(2), "door-b", "rdr-b-in", "p-1", "deny", "no_access_to_zone"),
            new LogEntry { At = T0 + Duration.FromHours(3), Kind = LogKinds.Door, SiteId = "dc1", DoorId = "door-hall-a", Reason = "opened" },
            new LogEntry { At = T0 + Duration.FromHours(4), Kind = LogKinds.Admin, Actor = "alice", Reason = "person.upsert", PersonId = "p-3" },
        ];
        foreach (var row in rows)
        {
            await host.AppendAsync(row);
        }
    }

    [Theory]
    [Trait("control", "NIST-AU-6")]
    [InlineData("from=2025-03-03T10:00:00Z&to=2025-03-03T12:00:00Z", new[] { 2, 3 })]
    [InlineData("from=2025-03-03T11:00:00%2B01:00&to=2025-03-03T13:00:00%2B01:00", new[] { 2, 3 })]
    [InlineData("door=door-hall-a", new[] { 1, 2, 4 })]
    [InlineData("reader=rdr-b-in", new[] { 3 })]
    [InlineData("person=p-1", new[] { 1, 3 })]
    [InlineData("decision=deny", new[] { 2, 3 })]
    [InlineData("reason=credential_revoked", new[] { 2 })]
    [InlineData("kind=admin&reason=person.upsert", new[] { 5 })]
    [InlineData("site=dc1&door=door-hall-a&decision=deny", new[] { 2 })]
    [InlineData("after=3", new[] { 4, 5 })]
    [InlineData("", new[] { 1, 2, 3, 4, 5 })]
    public async Task Log_FiltersByTimeRangeDoorPersonDecisionAndReason(string query, int[] expectedSeqs)
    {
        var response = await host.SendAsync(HttpMethod.Get, "/log?" + query, token: host.AuditorToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadFromJsonAsync<Page<LogEntry>>(AdminJson.Options);
        Assert.Equal(expectedSeqs.Select(s => (long)s), page!.Items.Select(r => r.Seq));
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "PCI-10.2")]
    [Trait("control", "ISO27001-A.8.15")]
    public async Task Log_ByActor_FindsEveryRowThatActorWrote_ChangesAndRefusals_AndASystemActorsToo()
    {
        // Rows 6..9 beside the seed's alice (row 5): what an auditor sampling one operator's changes asks for.
        await host.AppendAsync(new LogEntry { At = T0 + Duration.FromHours(5), Kind = LogKinds.Security, Actor = "alice", Reason = "cardholders.self_change", PersonId = "p-alice" });
        await host.AppendAsync(new LogEntry { At = T0 + Duration.FromHours(6), Kind = LogKinds.Admin, Actor = "bob", Reason = "person.upsert", PersonId = "p-4" });
        await host.AppendAsync(new LogEntry { At = T0 + Duration.FromHours(7), Kind = LogKinds.Admin, Actor = "site-file:demo.yaml (root)", Reason = "person.upsert", PersonId = "p-5" });
        await host.AppendAsync(new LogEntry { At = T0 + Duration.FromHours(8), Kind = LogKinds.Admin, Actor = "alice", Reason = "access_level.upsert" });

        Assert.Equal([5L, 6, 9], await SeqsAsync("/log?actor=alice", host.AuditorToken));
        Assert.Equal([5L, 9], await SeqsAsync("/log?actor=alice&kind=admin", host.AuditorToken));
        Assert.Equal([6L], await SeqsAsync("/log?actor=alice&kind=security", host.AuditorToken));
        Assert.Equal([6L, 9L], await SeqsAsync("/log?actor=alice&from=" + Uri.EscapeDataString(InstantPattern.ExtendedIso.Format(T0 + Duration.FromHours(5))), host.AuditorToken));
        Assert.Equal([8L], await SeqsAsync("/log?actor=" + Uri.EscapeDataString("site-file:demo.yaml (root)"), host.AuditorToken));
        Assert.Empty(await SeqsAsync("/log?actor=Alice", host.AuditorToken)); // exact, as every other filter
    }

    [Theory]
    [Trait("control", "NIST-AU-6")]
    [InlineData("from=2025-03-03T09:00:00.0005Z&to=2025-03-03T10:00:00.0005Z", new[] { 2 })] // 09:00:00.000 is before from, 10:00:00.000 before to
    [InlineData("from=2025-03-03T08:59:59.9999999Z&to=2025-03-03T09:59:59.9999999Z", new[] { 1 })]
    [InlineData("from=2025-03-03T09:00:00Z&to=2025-03-03T10:00:00Z", new[] { 1 })] // from inclusive, to exclusive at the exact instant
    public async Task Log_SubMillisecondFromAndTo_AreComparedExactly_NotRoundedToTheMillisecond(string query, int[] expectedSeqs)
    {
        Assert.Equal(expectedSeqs.Select(s => (long)s), await SeqsAsync("/log?" + query, host.AuditorToken));
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task Log_PagesWithLimitAndTheNextCursor()
    {
        var first = await (await host.SendAsync(HttpMethod.Get, "/log?limit=2", token: host.AuditorToken)).Content.ReadFromJsonAsync<Page<LogEntry>>(AdminJson.Options);
        var second = await (await host.SendAsync(HttpMethod.Get, "/log?limit=2&after=" + first!.Next, token: host.AuditorToken)).Content.ReadFromJsonAsync<Page<LogEntry>>(AdminJson.Options);

        Assert.Equal([1L, 2L], first.Items.Select(r => r.Seq));
        Assert.Equal([3L, 4L], second!.Items.Select(r => r.Seq));
        Assert.Equal(T0 + Duration.FromHours(2), second.Items[0].At);
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task Log_PagingByTheNextCursor_WhileRowsAreAppended_GivesEveryRowOfTheRangeExactlyOnce()
    {
        var range = "from=2025-03-03T00:00:00Z&to=2025-04-01T00:00:00Z&limit=2";
        var seen = new List<long>();
        string? next = null;
        var appended = 0;
        do
        {
            var response = await host.SendAsync(HttpMethod.Get, "/log?" + range + (next is null ? "" : "&after=" + next), token: host.AuditorToken);
            var page = (await response.Content.ReadFromJsonAsync<Page<LogEntry>>(AdminJson.Options))!;
            seen.AddRange(page.Items.Select(r => r.Seq));
            next = page.Next;
            if (appended++ < 3)
            {
                // Between two page reads: one row inside the range, one recorded after an outage with an older time.
                await host.AppendAsync(Access(T0 + Duration.FromHours(5 + appended), "door-b", "rdr-b-in", "p-1", "grant", "granted"));
                await host.AppendAsync(Access(T0 - Duration.FromMinutes(appended), "door-b", "rdr-b-in", "p-2", "deny", "log_failure"));
            }
        }
        while (next is not null);

        Assert.Equal(Enumerable.Range(1, 11).Select(s => (long)s), seen);
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task Log_TimeHappened_FindsTheSwipeABufferedReaderReplayedTheNextMorning_WhichTheRecordedRangeMisses()
    {
        // At 23:50 the night before, the reader was cut off and kept the swipe; it replayed it the next morning at 08:00.
        var night = Instant.FromUtc(2025, 3, 3, 23, 50);
        await host.AppendAsync(Access(night + Duration.FromHours(8) + Duration.FromMinutes(10), "door-b", "rdr-b-in", "p-2", "grant", "granted") with
        {
            Source = "readers/rdr-b-in", EventId = "ev-buffered", DeviceSeq = 7, DeviceAt = night, Offline = true,
        });
        var thatDay = "from=2025-03-03T00:00:00Z&to=2025-03-04T00:00:00Z";

        var recorded = await SeqsAsync("/log?" + thatDay, host.AuditorToken);
        var happened = await SeqsAsync("/log?" + thatDay + "&time=happened", host.AuditorToken);
        var happenedAtDc2 = await SeqsAsync("/log?" + thatDay + "&time=happened&door=door-b", host.AuditorToken);

        Assert.Equal([1L, 2L, 3L, 4L, 5L], recorded);
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], happened);
        Assert.Equal([3L, 6L], happenedAtDc2);

        await host.AddPersonAsync("p-audit-dc1");
        var dc1 = host.Tokens.CreateToken("audit-dc1", OperatorRole.Auditor, "test", "p-audit-dc1", "dc1");
        Assert.Equal([1L, 2L, 4L], await SeqsAsync("/log?" + thatDay + "&time=happened", dc1)); // still only its site's rows
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "NIST-AU-9")]
    public async Task Log_ForASiteLimitedToken_ShowsOnlyItsSitesRows_AndRefusesTheWholeLogsVerification()
    {
        await host.AddPersonAsync("p-audit-dc1");
        await host.AddPersonAsync("p-audit-dc2");
        var dc1 = host.Tokens.CreateToken("audit-dc1", OperatorRole.Auditor, "test", "p-audit-dc1", "dc1");
        var dc2 = host.Tokens.CreateToken("audit-dc2", OperatorRole.Auditor, "test", "p-audit-dc2", "dc2");

        var own = await SeqsAsync("/log", dc1);
        var other = await SeqsAsync("/log?kind=access", dc2);
        var verify = await host.SendAsync(HttpMethod.Get, "/log/verify", token: dc1);

        Assert.Equal([1L, 2L, 4L], own); // not dc2's swipe (3), not the admin row without a site (5)
        Assert.Equal([3L], other);
        Assert.Equal(HttpStatusCode.Forbidden, verify.StatusCode);
        var refusal = Assert.Single(host.Query.Find(new LogFilter { Reason = "log.verify.refused" }));
        Assert.Equal(("audit-dc1", null), (refusal.Actor, refusal.SiteId));
        Assert.Contains("\"code\":\"not_approver_for_site\"", refusal.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "NIST-AU-9")]
    public async Task Log_OfAnotherSite_AskedByASiteLimitedToken_IsRefusedWithASecurityRow_NotAnEmptyPage()
    {
        await host.AddPersonAsync("p-audit-dc1");
        var dc1 = host.Tokens.CreateToken("audit-dc1", OperatorRole.Auditor, "test", "p-audit-dc1", "dc1");

        var askedForAnother = await host.SendAsync(HttpMethod.Get, "/log?site=dc2&decision=deny", token: dc1);

        // An empty page would read as "no denials at dc2", which the token cannot know.
        Assert.Equal(HttpStatusCode.Forbidden, askedForAnother.StatusCode);
        Assert.Contains($"\"code\":\"{SiteLimit.Code}\"", await askedForAnother.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var refusal = Assert.Single(host.Query.Find(new LogFilter { Kind = LogKinds.Security, Reason = "log.query.refused" }));
        Assert.Equal(("audit-dc1", "dc2"), (refusal.Actor, refusal.SiteId));
        Assert.Contains("\"tokenSite\":\"dc1\"", refusal.Detail, StringComparison.Ordinal);
        Assert.Equal([1L, 2L, 4L], await SeqsAsync("/log?site=dc1", dc1)); // its own site, named, is still read
    }

    [Theory]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "NIST-AU-9")]
    [InlineData("door=door-b&decision=deny", "\"door\":\"door-b\"")]
    [InlineData("reader=rdr-b-in", "\"reader\":\"rdr-b-in\"")]
    public async Task Log_OfAnotherSitesDoorOrReader_AskedByASiteLimitedToken_IsRefusedWithASecurityRow_NotAnEmptyPage(string query, string named)
    {
        // The site file places door-b (and its reader) at dc2, where seq 3, a denial, was recorded.
        var dc1Only = AdminHost.Topology;
        host.Configuration.SetTopology(new SiteTopology(
            [.. dc1Only.Sites.Values, new Site(new SiteId("dc2"), "DC Two", DateTimeZoneProviders.Tzdb["Europe/Amsterdam"])],
            [.. dc1Only.Zones.Values, new Zone(new ZoneId("dc2-campus"), new SiteId("dc2"), "Campus", ZoneKind.Site, null, 1, AntiPassbackMode.Off, []),
                new Zone(new ZoneId("dc2-b"), new SiteId("dc2"), "B", ZoneKind.DataHall, new ZoneId("dc2-campus"), 3, AntiPassbackMode.Off, [])],
            [.. dc1Only.Doors.Values, new Door(new DoorId("door-b"), new SiteId("dc2"), "B door", new ZoneId("dc2-campus"), new ZoneId("dc2-b"),
                new ControllerId("ctl-2"), Duration.FromSeconds(5), Duration.FromSeconds(30))],
            [.. dc1Only.Readers.Values, new Reader(new ReaderId("rdr-b-in"), ReaderKind.Card, new DoorId("door-b"), Direction.In, Duration.FromSeconds(30))],
            [.. dc1Only.Controllers.Values, new DoorController(new ControllerId("ctl-2"), new SiteId("dc2"), "Controller 2")],
            [.. dc1Only.Schedules.Values]));
        await host.AddPersonAsync("p-audit-dc1");
        var dc1 = host.Tokens.CreateToken("audit-dc1", OperatorRole.Auditor, "test", "p-audit-dc1", "dc1");

        var askedForAnother = await host.SendAsync(HttpMethod.Get, "/log?" + query, token: dc1);

        // An empty page would read as "no denials at door-b", which the token cannot know: the same question as site=dc2.
        Assert.Equal(HttpStatusCode.Forbidden, askedForAnother.StatusCode);
        var refusal = Assert.Single(host.Query.Find(new LogFilter { Kind = LogKinds.Security, Reason = "log.query.refused" }));
        Assert.Equal(("audit-dc1", "dc2"), (refusal.Actor, refusal.SiteId));
        Assert.Contains(named, refusal.Detail, StringComparison.Ordinal);
        Assert.Equal([1L, 2L], await SeqsAsync("/log?door=door-hall-a&kind=access", dc1)); // its own site's door is still read
        Assert.Equal([3L], await SeqsAsync("/log?" + query, host.AuditorToken)); // and an unlimited token reads door-b's row
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.2")]
    public async Task Log_IntoAPurgedPeriod_AnswersWithThePurgeHorizon_NotJustAnEmptyPage()
    {
        // The retention purge, as `log purge` runs it on the file: signed checkpoints first, then rows before 10:30 go.
        var folder = Path.GetDirectoryName(host.DatabasePath)!;
        using (var purging = new EntryLogWriter(host.Database, new LogCheckpointing(LogSigningKey.LoadOrCreate(folder), CheckpointFile.PathIn(folder), host.Clock, Tests.EntryLog.TestLog.Options)))
        {
            purging.Checkpoint();
            var cut = T0 + Duration.FromMinutes(90);
            Assert.Equal(LogPurgeOutcome.Purged, purging.Purge(cut, "retention-job", cut + LogRetention.Standard, LogRetention.Default).Outcome);
        }

        var purged = await host.SendAsync(HttpMethod.Get, "/log?from=2025-03-03T09:00:00Z&to=2025-03-03T10:00:00Z", token: host.AuditorToken);
        var kept = await host.SendAsync(HttpMethod.Get, "/log?from=2025-03-03T10:30:00Z", token: host.AuditorToken);

        var page = (await purged.Content.ReadFromJsonAsync<LogPage>(AdminJson.Options))!;
        Assert.Empty(page.Items);
        Assert.Equal((T0 + Duration.FromMinutes(90), 2L), (page.Purged!.Before, page.Purged.UpToSeq));
        Assert.Contains("\"purged\":{\"before\":\"2025-03-03T10:30:00Z\",\"upToSeq\":2,", await purged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("\"purged\"", await kept.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2025-03-03T10:00:00", "to")]
    [InlineData("from=2025-03-03T12:00:00Z&to=2025-03-03T10:00:00Z", "to")]
    [InlineData("decision=maybe", "decision")]
    [InlineData("kind=swipe", "kind")]
    [InlineData("reason=DROP%20TABLE", "reason")]
    [InlineData("door=a%20b", "door")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=10001", "limit")]
    [InlineData("after=-1", "after")]
    [InlineData("persn=p-1", "persn")]
    [InlineData("door=a&door=b", "door")]
    [InlineData("from=9999-12-31T23:59:59-05:00", "from")] // past the calendar's end once the offset is applied: was a 500
    [InlineData("to=-9998-01-01T00:00:00%2B14:00", "to")]
    [InlineData("time=device&from=2025-03-03T09:00:00Z", "time")]
    [InlineData("time=happened", "time")] // alone it selects nothing
    [InlineData("actor=", "actor")] // empty: it would match no row, and read as "did nothing"
    public async Task Log_BadParameter_Is400NamingIt(string query, string parameter)
    {
        var response = await host.SendAsync(HttpMethod.Get, "/log?" + query, token: host.AuditorToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options);
        Assert.Equal(parameter, Assert.Single(problem!.Errors!).Field);
    }

    [Theory]
    [Trait("control", "NIST-AU-6")]
    [InlineData("reason=granetd", "reason", "granetd", "granted")] // no row is granetd: "no rows" would read as "never granted"
    [InlineData("kind=admin&reason=person.upsret", "reason", "person.upsret", "person.upsert")]
    [InlineData("kind=security&reason=person.upsert.refused", "reason", "person.upsert.refused", "cardholders.refused")] // never written: people are refused as a whole
    [InlineData("kind=security&reason=credential.activate.refused", "reason", "credential.activate.refused", "credential.reactivate.refused")] // a revoked card asked back, however asked
    [InlineData("reason=fire.reset", "reason", "fire.reset", "fire_reset")] // the reset's row is fire_reset; fire.reset is only ever refused
    [InlineData("reason=hr.rejected.failed", "reason", "hr.rejected.failed", "hr.failed.failed")] // a rejection changes nothing that could fail
    [InlineData("kind=acces", "kind", "acces", "access")]
    [InlineData("decision=granted", "decision", "granted", "grant")]
    public async Task Log_MisspeltCode_Is400NamingTheParameterTheValueAndTheKnownCodes(string query, string parameter, string value, string aKnownCode)
    {
        var response = await host.SendAsync(HttpMethod.Get, "/log?" + query, token: host.AuditorToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = Assert.Single((await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options))!.Errors!);
        Assert.Equal(parameter, error.Field);
        Assert.StartsWith($"'{value}' is not a ", error.Message, StringComparison.Ordinal);
        Assert.Contains($" {aKnownCode},", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "NIST-AU-6")]
    [InlineData("kind=alarm&reason=door_forced")]
    [InlineData("kind=security&reason=visit.approve.refused")]
    [InlineData("kind=security&reason=log.purge.refused")]
    [InlineData("kind=security&reason=cardholders.refused")]
    [InlineData("kind=security&reason=credential.reactivate.refused")]
    [InlineData("kind=security&reason=fire.reset.refused")]
    [InlineData("kind=admin&reason=hr.failed.failed")]
    [InlineData("kind=security&reason=connect_refused")]
    [InlineData("kind=integrity&reason=unsigned_at_start")]
    [InlineData("kind=safety&reason=fire_release")]
    [InlineData("kind=device&reason=offline")]
    public async Task Log_AReasonOfAnyKind_IsAccepted_EvenWithNoRows(string query)
    {
        Assert.Empty(await SeqsAsync("/log?" + query, host.AuditorToken));
    }

    private async Task<IEnumerable<long>> SeqsAsync(string path, string token)
    {
        var response = await host.SendAsync(HttpMethod.Get, path, token: token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<Page<LogEntry>>(AdminJson.Options))!.Items.Select(r => r.Seq);
    }

    private static LogEntry Access(Instant at, string door, string reader, string person, string decision, string reason) => new()
    {
        At = at,
        Kind = LogKinds.Access,
        SiteId = door == "door-hall-a" ? "dc1" : "dc2",
        DoorId = door,
        ReaderId = reader,
        PersonId = person,
        Card = "0A0B0C",
        Decision = decision,
        Reason = reason,
    };
}

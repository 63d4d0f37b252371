using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Sites;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Admin;

public sealed class AdminApiTests : IAsyncLifetime
{
    private const string Card = "04A1B2C3";
    private AdminHost host = null!;

    public async Task InitializeAsync() => host = await AdminHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task Put_PersonCredentialLevel_VisibleInLiveConfigurationAtOnceAndInDatabaseAfterReload()
    {
        await SeedAsync();

        var live = host.Configuration.Cardholders;
        Assert.Equal("Ada Lovelace", live.People[new PersonId("p-100")].Name);
        Assert.Equal(["hall-a"], live.People[new PersonId("p-100")].AccessLevels.Select(l => l.Value));
        Assert.Equal(new PersonId("p-100"), live.Credentials[Card].Person);
        Assert.True(Decide().IsGranted);

        var reloaded = host.Store.LoadAll();
        Assert.Equal(AdminJson.Serialize(PersonView.From(live.People[new PersonId("p-100")])), AdminJson.Serialize(PersonView.From(reloaded.People[new PersonId("p-100")])));
        Assert.Equal(CredentialView.From(live.Credentials[Card]), CredentialView.From(reloaded.Credentials[Card]));
        Assert.Equal(AdminJson.Serialize(AccessLevelView.From(live.AccessLevels[new AccessLevelId("hall-a")])), AdminJson.Serialize(AccessLevelView.From(reloaded.AccessLevels[new AccessLevelId("hall-a")])));

        var person = await (await host.SendAsync(HttpMethod.Get, "/people/p-100", token: host.AuditorToken)).Content.ReadFromJsonAsync<PersonView>(AdminJson.Options);
        Assert.Equal("employee", person!.Kind);
        Assert.Equal(Card, Assert.Single(person.Credentials!).Card);
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    [Trait("control", "ISO27001-A.5.18")]
    public async Task EveryChange_AppendsAnAdminRowWithActorTimeActionAndBeforeAfter()
    {
        await SeedAsync();
        host.Clock.Advance(Duration.FromMinutes(5));
        var suspendedAt = host.Clock.GetCurrentInstant();
        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, "/people/p-100/status", new { status = "suspended" }));
        host.Clock.Advance(Duration.FromMinutes(5));
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/people/p-100/access-levels", Array.Empty<string>()));

        var rows = host.Rows(LogKinds.Admin);
        Assert.Equal(["access_level.upsert", "person.upsert", "credential.upsert", "person.suspend", "person.access_levels"], rows.Select(r => r.Reason));
        Assert.All(rows, r => Assert.Equal("alice", r.Actor));
        Assert.Equal(AdminHost.Start, rows[0].At);
        Assert.Equal(suspendedAt, rows[3].At);
        Assert.Equal(suspendedAt + Duration.FromMinutes(5), rows[4].At);
        Assert.Equal("p-100", rows[3].PersonId);
        Assert.Equal(Card, rows[2].Card);

        using var detail = JsonDocument.Parse(rows[3].Detail!);
        Assert.Equal("active", detail.RootElement.GetProperty("before").GetProperty("status").GetString());
        Assert.Equal("suspended", detail.RootElement.GetProperty("after").GetProperty("status").GetString());
        using var created = JsonDocument.Parse(rows[1].Detail!);
        Assert.False(created.RootElement.TryGetProperty("before", out _));

        // Asking for the state that already holds changes nothing and records nothing.
        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, "/people/p-100/status", new { status = "suspended" }));
        Assert.Equal(5, host.Rows(LogKinds.Admin).Count);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task RevokeCredential_TheNextSwipeIsDenied()
    {
        await SeedAsync();
        Assert.True(Decide().IsGranted);

        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, "/credentials/04:a1:b2:c3/status", new { status = "revoked" }));

        Assert.Equal(AccessReason.CredentialRevoked, Decide().Reason);
        Assert.Equal(CredentialStatus.Revoked, host.Store.LoadAll().Credentials[Card].Status);
        var row = host.Rows(LogKinds.Admin)[^1];
        Assert.Equal(("credential.revoke", "alice", Card, "p-100"), (row.Reason, row.Actor, row.Card, row.PersonId));
    }

    [Theory]
    [Trait("control", "NIST-PE-2")]
    [InlineData("active")]
    [InlineData("suspended")]
    public async Task RevokedCredential_StatusChangedBack_Is409_AndTheCardStaysRevoked(string status)
    {
        await SeedAsync();
        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/status", new { status = "revoked" }));
        var rows = host.Rows(LogKinds.Admin).Count;

        var response = await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/status", new { status });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("reissue", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(AccessReason.CredentialRevoked, Decide().Reason);
        Assert.Equal(CredentialStatus.Revoked, host.Store.LoadAll().Credentials[Card].Status);
        Assert.Equal(rows, host.Rows(LogKinds.Admin).Count);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task RevokedCredential_PutAsActive_Is409_ButAnEditThatKeepsItRevokedIsAccepted()
    {
        await SeedAsync();
        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/status", new { status = "revoked" }));

        var revived = await host.AsAdminAsync(HttpMethod.Put, $"/credentials/{Card}", new { technology = "desfire-ev3", personId = "p-100", status = "active" });
        Assert.Equal(HttpStatusCode.Conflict, revived.StatusCode);

        // A correction that names no status keeps the revocation.
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, $"/credentials/{Card}", new { technology = "desfire-ev2", personId = "p-100" }));
        Assert.Equal(AccessReason.CredentialRevoked, Decide().Reason);
        Assert.Equal(CredentialStatus.Revoked, host.Store.LoadAll().Credentials[Card].Status);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-10.2")]
    public async Task RevokedCredential_AskedBack_IsRecordedAsASecurityRow_NamingTheActorTheCardAndTheStatusAskedFor()
    {
        await SeedAsync();
        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/status", new { status = "revoked" }));
        host.Clock.Advance(Duration.FromMinutes(1));
        var askedAt = host.Clock.GetCurrentInstant();

        Assert.Equal(HttpStatusCode.Conflict, (await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/status", new { status = "active" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await host.AsAdminAsync(HttpMethod.Put, $"/credentials/{Card}", new { technology = "desfire-ev3", personId = "p-100", status = "suspended" })).StatusCode);
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, $"/credentials/{Card}", new { technology = "desfire-ev2", personId = "p-100" })); // stays revoked: no refusal

        var refusals = host.Query.Find(new LogFilter { Kind = LogKinds.Security, Reason = "credential.reactivate.refused" });
        Assert.Equal(2, refusals.Count);
        Assert.All(refusals, r => Assert.Equal(("alice", Card, "p-100", null, askedAt), (r.Actor, r.Card, r.PersonId, r.SiteId, r.At)));
        Assert.Equal(
            [("credential.activate", "active"), ("credential.upsert", "suspended")],
            refusals.Select(r =>
            {
                using var detail = JsonDocument.Parse(r.Detail!);
                return (detail.RootElement.GetProperty("change").GetString(), detail.RootElement.GetProperty("status").GetString());
            }));
        Assert.Equal(CredentialStatus.Revoked, host.Store.LoadAll().Credentials[Card].Status);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-AC-2")]
    public async Task RevokedCredential_Reissued_WithAReason_IsANewBindingAuditedAsReissue()
    {
        await SeedAsync();
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, $"/credentials/{Card}", new { technology = "desfire-ev3", personId = "p-100", validUntil = (AdminHost.Start + Duration.FromDays(1)).ToString() }));
        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/status", new { status = "revoked" }));

        var noReason = await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/reissue", new { technology = "desfire-ev3", personId = "p-100" });
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.Contains("reason", await noReason.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(AccessReason.CredentialRevoked, Decide().Reason);

        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, $"/credentials/{Card}/reissue", new { technology = "desfire-ev3", personId = "p-100", reason = "card found, identity checked" }));

        host.Clock.Advance(Duration.FromDays(2));
        Assert.True(Decide().IsGranted); // a new binding: the old one's expiry is not carried over
        var row = host.Rows(LogKinds.Admin)[^1];
        Assert.Equal(("credential.reissue", "alice", Card, "p-100"), (row.Reason, row.Actor, row.Card, row.PersonId));
        using var detail = JsonDocument.Parse(row.Detail!);
        Assert.Equal("card found, identity checked", detail.RootElement.GetProperty("reason").GetString());
        Assert.Equal("revoked", detail.RootElement.GetProperty("before").GetProperty("status").GetString());
        Assert.Equal("active", detail.RootElement.GetProperty("after").GetProperty("status").GetString());
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task PutCredential_ThatLeavesOutItsValidity_KeepsTheExpiry_AndTheCardExpiresAsBefore()
    {
        await SeedAsync();
        var until = AdminHost.Start + Duration.FromDays(30);
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, $"/credentials/{Card}", new { technology = "desfire-ev2", personId = "p-100", validUntil = until.ToString() }));

        // A later correction of the technology (credential set CARD --person p-100 --technology desfire-ev3) names no validity.
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, $"/credentials/{Card}", new { technology = "desfire-ev3", personId = "p-100" }));
        host.Clock.Advance(Duration.FromDays(31));

        Assert.Equal(AccessReason.CredentialExpired, Decide().Reason);
        Assert.Equal(until, host.Store.LoadAll().Credentials[Card].ValidUntil);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task TerminatePerson_TheNextSwipeIsDenied()
    {
        await SeedAsync();

        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, "/people/p-100/status", new { status = "terminated" }));

        Assert.Equal(AccessReason.CredentialRevoked, Decide().Reason);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task NoToken_Is401_AndLoggedAsSecurityRow()
    {
        var response = await host.SendAsync(HttpMethod.Get, "/people");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        var row = Assert.Single(host.Rows(LogKinds.Security));
        Assert.Equal("auth.missing_token", row.Reason);
        Assert.Null(row.Actor);
        Assert.Contains("/api/v1/people", row.Detail);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task UnknownOrRevokedToken_Is401_AndTheTokenIsNotLogged()
    {
        const string forged = "forged-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.SendAsync(HttpMethod.Put, "/people/p-1", new { name = "X", kind = "visitor" }, forged)).StatusCode);
        host.Tokens.RevokeAll("alice", "test");
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.AsAdminAsync(HttpMethod.Get, "/people")).StatusCode);

        var rows = host.Rows(LogKinds.Security);
        Assert.Equal(["auth.invalid_token", "auth.invalid_token"], rows.Select(r => r.Reason));
        Assert.All(rows, r => Assert.DoesNotContain(forged, r.Detail));
        Assert.All(rows, r => Assert.DoesNotContain(host.AdminToken, r.Detail));
        Assert.Empty(host.PeopleBesidesTheOperators);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task Auditor_MayRead_ButWritingIs403_AndLoggedAsSecurityRow()
    {
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(HttpMethod.Get, "/people", token: host.AuditorToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(HttpMethod.Get, "/log", token: host.AuditorToken)).StatusCode);

        var response = await host.SendAsync(HttpMethod.Put, "/people/p-1", new { name = "Mallory", kind = "visitor" }, host.AuditorToken);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Empty(host.PeopleBesidesTheOperators);
        Assert.Empty(host.Rows(LogKinds.Admin));
        var row = Assert.Single(host.Rows(LogKinds.Security));
        Assert.Equal(("auth.forbidden", "bob"), (row.Reason, row.Actor));
        Assert.DoesNotContain(host.AuditorToken, row.Detail);
    }

    [Theory]
    [InlineData("/people/p-9", """{"name":"Eve","kind":"robot"}""", "kind")]
    [InlineData("/people/p-9", """{"name":"","kind":"visitor"}""", "name")]
    [InlineData("/people/p-9", """{"name":"Eve","kind":"visitor","accessLevels":["no-such-level"]}""", "accessLevels[0]")]
    [InlineData("/people/bad%20id", """{"name":"Eve","kind":"visitor"}""", "id")]
    [InlineData("/people/p-9", """{"name":"Eve","kind":"visitor","accessLevels":"hall-a"}""", "accessLevels")]
    [InlineData("/people/p-9", "{not json", "body")]
    [InlineData("/credentials/xyz", """{"technology":"desfire-ev3","personId":"p-100"}""", "card")]
    [InlineData("/credentials/0A0B", """{"technology":"DESFire","personId":"p-100"}""", "technology")]
    [InlineData("/credentials/0A0B", """{"technology":"desfire-ev3","personId":"p-404"}""", "personId")]
    [InlineData("/credentials/0A0B", """{"technology":"desfire-ev3","personId":"p-100","validFrom":"2025-03-02T00:00:00Z","validUntil":"2025-03-01T00:00:00Z"}""", "validUntil")]
    [InlineData("/credentials/0A0B", """{"technology":"desfire-ev3","personId":"p-100","validFrom":"next tuesday"}""", "validFrom")]
    [InlineData("/access-levels/hall-b", """{"name":"Hall B","zones":["dc1-hall-b"],"schedule":"always"}""", "zones[0]")]
    [InlineData("/access-levels/hall-b", """{"name":"Hall B","zones":["dc1-hall-a"],"schedule":"nights"}""", "schedule")]
    public async Task InvalidInput_Is400NamingTheField_AndNothingChanges(string path, string body, string field)
    {
        await SeedAsync();
        var before = Snapshot();
        var rowsBefore = host.Query.Count();

        var response = await host.AsAdminAsync(HttpMethod.Put, path, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options);
        Assert.Contains(problem!.Errors!, e => e.Field == field);
        Assert.Equal(before, Snapshot());
        Assert.Equal(before, Snapshot(host.Store.LoadAll()));
        Assert.Equal(rowsBefore, host.Query.Count());
    }

    /// <summary>
    /// A member given twice: the API would act on the last, while a reviewer reading the request (or a proxy's log) reads
    /// the first. Refused, naming the member, nothing changed or recorded; <c>Kind</c> and <c>kind</c> are one member
    /// (names are matched case-insensitively).
    /// </summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("/people/p-9", """{"name":"Eve","kind":"visitor","kind":"employee"}""", "kind")]
    [InlineData("/people/p-9", """{"name":"Eve","kind":"visitor","Kind":"employee"}""", "Kind")]
    [InlineData("/credentials/0A0B", """{"technology":"desfire-ev3","personId":"p-100","status":"revoked","status":"active"}""", "status")]
    public async Task Put_WithAMemberGivenTwice_Is400NamingIt_AndNothingChanges(string path, string body, string field)
    {
        await SeedAsync();
        var before = Snapshot();
        var rowsBefore = host.Query.Count();

        var response = await host.AsAdminAsync(HttpMethod.Put, path, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options);
        Assert.Contains(new FieldError(field, "is given more than once"), problem!.Errors!);
        Assert.Equal(before, Snapshot());
        Assert.Equal(rowsBefore, host.Query.Count());
    }

    /// <summary>"Alice\u202Egpj.exe" reads "Aliceexe.jpg": a name that can pass for another person's in the review and the log.</summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("/people/p-9", "Alice\u202Egpj.exe", "name", "U+202E")]
    [InlineData("/people/p-9", "\u2067Eve\u2069", "name", "U+2067")]
    [InlineData("/people/p-9", "E\u200Bve", "name", "U+200B")]
    [InlineData("/access-levels/hall-b", "Hall\u200F B", "name", "U+200F")]
    public async Task Put_WithABidiOrInvisibleCharacterInAName_Is400NamingTheFieldAndTheCharacter_AndNothingChanges(string path, string name, string field, string named)
    {
        await SeedAsync();
        var before = Snapshot();
        var rowsBefore = host.Query.Count();

        object body = path.StartsWith("/people/", StringComparison.Ordinal) ? new { name, kind = "visitor" } : new { name, zones = new[] { "dc1-hall-a" }, schedule = "always" };

        var response = await host.AsAdminAsync(HttpMethod.Put, path, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<AdminApi.ApiProblem>(AdminJson.Options);
        var error = Assert.Single(problem!.Errors!);
        Assert.Equal(field, error.Field);
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
        Assert.Equal(rowsBefore, host.Query.Count());
    }

    [Theory]
    [InlineData("José María Pérez-García")]
    [InlineData("山田 太郎")]
    [InlineData("محمد عبد الله")]
    [InlineData("דוד כהן")]
    public async Task PutPerson_WithANameInAnyScript_StoresItAsTyped(string name)
    {
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/people/p-9", new { name, kind = "visitor" }));

        Assert.Equal(name, host.Store.LoadAll().People[new PersonId("p-9")].Name);
    }

    [Fact]
    public async Task AuditAppendFails_Is503_AndTheChangeIsNeitherVisibleNorStored()
    {
        await SeedAsync();
        var before = Snapshot();
        host.FailAppends = true;

        var response = await host.AsAdminAsync(HttpMethod.Post, "/credentials/" + Card + "/status", new { status = "suspended" });

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(before, Snapshot());
        Assert.Equal(before, Snapshot(host.Store.LoadAll()));
        Assert.True(Decide().IsGranted);
    }

    [Fact]
    public async Task DeleteAccessLevel_HeldBySomeone_IsConflict_OtherwiseDeletedAndAudited()
    {
        await SeedAsync();

        var conflict = await host.AsAdminAsync(HttpMethod.Delete, "/access-levels/hall-a");
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);

        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/people/p-100/access-levels", Array.Empty<string>()));
        Assert.Equal(HttpStatusCode.NoContent, (await host.AsAdminAsync(HttpMethod.Delete, "/access-levels/hall-a")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.AsAdminAsync(HttpMethod.Get, "/access-levels/hall-a")).StatusCode);

        Assert.Empty(host.Configuration.Cardholders.AccessLevels);
        Assert.Empty(host.Store.LoadAll().AccessLevels);
        Assert.Equal("access_level.delete", host.Rows(LogKinds.Admin)[^1].Reason);
    }

    [Fact]
    public async Task ListPeople_PagesInIdOrder()
    {
        await SeedAsync();
        foreach (var id in new[] { "p-300", "p-200" })
        {
            await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/people/" + id, new { name = "Person " + id, kind = "contractor" }));
        }

        var first = await (await host.AsAdminAsync(HttpMethod.Get, "/people?limit=2")).Content.ReadFromJsonAsync<Page<PersonView>>(AdminJson.Options);
        var second = await (await host.AsAdminAsync(HttpMethod.Get, "/people?limit=2&after=" + first!.Next)).Content.ReadFromJsonAsync<Page<PersonView>>(AdminJson.Options);
        var third = await (await host.AsAdminAsync(HttpMethod.Get, "/people?limit=2&after=" + second!.Next)).Content.ReadFromJsonAsync<Page<PersonView>>(AdminJson.Options);

        // p-alice and p-bob are the host's operators (AdminHost.OperatorPeople).
        Assert.Equal(["p-100", "p-200"], first.Items.Select(p => p.Id));
        Assert.Equal(["p-300", "p-alice"], second.Items.Select(p => p.Id));
        Assert.Equal(["p-bob"], third!.Items.Select(p => p.Id));
        Assert.Null(third.Next);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task Cardholders_ForASiteLimitedToken_AreRefusedAndLogged_EvenAtItsOwnSite()
    {
        await SeedAsync();
        var before = Snapshot();
        TestPeople.Add(host.Database, "p-admin-dc1", "p-audit-dc1"); // stored only, so the snapshots compared below stay the same
        var admin = host.Tokens.CreateToken("admin-dc1", OperatorRole.Admin, "test", "p-admin-dc1", "dc1");
        var auditor = host.Tokens.CreateToken("audit-dc1", OperatorRole.Auditor, "test", "p-audit-dc1", "dc1");

        HttpResponseMessage[] responses =
        [
            await host.SendAsync(HttpMethod.Post, "/people/p-100/status", new { status = "terminated" }, admin),
            await host.SendAsync(HttpMethod.Put, "/people/p-100/access-levels", new[] { "hall-a" }, admin),
            await host.SendAsync(HttpMethod.Post, "/credentials/04A1B2C3/status", new { status = "revoked" }, admin),
            await host.SendAsync(HttpMethod.Put, "/access-levels/hall-a", new { name = "Hall A", zones = new[] { "dc1-hall-a" }, schedule = "always" }, admin),
            await host.SendAsync(HttpMethod.Delete, "/access-levels/hall-a", token: admin),
            await host.SendAsync(HttpMethod.Get, "/people", token: auditor),
            await host.SendAsync(HttpMethod.Get, "/access-levels/hall-a", token: auditor),
        ];

        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal(SiteLimit.Code, (await response.Content.ReadFromJsonAsync<AdminApi.RefusalProblem>(AdminJson.Options))!.Code);
        }

        Assert.Equal(before, Snapshot());
        var refusals = host.Query.Find(new LogFilter { Kind = LogKinds.Security, Reason = "cardholders.refused" });
        Assert.Equal(responses.Length, refusals.Count);
        Assert.Contains(refusals, r => r.Actor == "admin-dc1" && r.Detail!.Contains("\"path\":\"/api/v1/people/p-100/status\"", StringComparison.Ordinal));
        Assert.All(refusals, r => Assert.Null(r.SiteId));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task Cardholders_ChangedThroughTheServiceItself_ByASiteLimitedIdentity_AreRefusedAndLogged_AsOverTheApi()
    {
        await SeedAsync();
        var before = Snapshot();
        var limited = AdminActor.Of(new OperatorIdentity("admin-dc1", OperatorRole.Admin, "p-admin-dc1", "dc1"));

        AdminOutcome[] outcomes =
        [
            (await host.Admin.UpsertPersonAsync(limited, "p-100", new PersonInput("Ada King", "employee"))).Outcome,
            (await host.Admin.SetPersonStatusAsync(limited, "p-100", "terminated")).Outcome,
            (await host.Admin.SetPersonAccessLevelsAsync(limited, "p-100", [])).Outcome,
            (await host.Admin.UpsertCredentialAsync(limited, Card, new CredentialInput("desfire-ev3", "p-100", Status: "suspended"))).Outcome,
            (await host.Admin.SetCredentialStatusAsync(limited, Card, "revoked")).Outcome,
            (await host.Admin.UpsertAccessLevelAsync(limited, "hall-a", new AccessLevelInput("Hall A", ["dc1-hall-a", "dc1-campus"], "always"))).Outcome,
            (await host.Admin.DeleteAccessLevelAsync(limited, "hall-a")).Outcome,
        ];

        Assert.All(outcomes, o => Assert.Equal(AdminOutcome.NotForThisSite, o));
        Assert.Equal(before, Snapshot());
        var refusals = host.Query.Find(new LogFilter { Kind = LogKinds.Security, Reason = "cardholders.refused" });
        Assert.Equal(outcomes.Length, refusals.Count);
        Assert.All(refusals, r => Assert.Equal(("admin-dc1", null), (r.Actor, r.SiteId)));
        Assert.Contains(refusals, r => r.Detail!.Contains("\"tokenSite\":\"dc1\"", StringComparison.Ordinal)
            && r.Detail.Contains("\"change\":\"person.terminate\",\"target\":\"p-100\"", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-SI-10")]
    public async Task PutCredential_BoundsWithinOneMillisecond_Is400NamingValidUntil_NotA503_AndWritesNothing()
    {
        await SeedAsync();
        var before = host.Rows(LogKinds.Admin).Count;

        var response = await host.AsAdminAsync(HttpMethod.Put, "/credentials/" + Card, "{\"technology\":\"desfire-ev3\",\"personId\":\"p-100\",\"validFrom\":\"2026-01-01T00:00:00.0001Z\",\"validUntil\":\"2026-01-01T00:00:00.0009Z\"}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"field\":\"validUntil\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, host.Rows(LogKinds.Admin).Count);
        Assert.Null(host.Configuration.Cardholders.Credentials[Card].ValidFrom);
    }

    [Fact]
    [Trait("control", "NIST-SI-10")]
    [Trait("control", "NIST-AU-12")]
    public async Task PutCredential_WithBoundsFinerThanAMillisecond_AnswersAndRecordsWhatIsStored()
    {
        await SeedAsync();

        var response = await host.AsAdminAsync(HttpMethod.Put, "/credentials/" + Card, "{\"technology\":\"desfire-ev3\",\"personId\":\"p-100\",\"validFrom\":\"2026-01-01T00:00:00.1239Z\",\"validUntil\":\"2027-01-01T00:00:00.0009Z\"}");

        await OkAsync(response);
        var answered = await response.Content.ReadFromJsonAsync<CredentialView>(AdminJson.Options);
        var stored = CredentialView.From(host.Store.LoadAll().Credentials[Card]);
        Assert.Equal(stored, answered);
        Assert.Equal(stored, CredentialView.From(host.Configuration.Cardholders.Credentials[Card]));
        Assert.Equal(Instant.FromUtc(2027, 1, 1, 0, 0), stored.ValidUntil);
        var row = host.Rows(LogKinds.Admin)[^1];
        Assert.Equal("credential.upsert", row.Reason);
        Assert.Contains("\"validUntil\":\"2027-01-01T00:00:00Z\"", row.Detail, StringComparison.Ordinal);
        Assert.Contains("\"validFrom\":\"2026-01-01T00:00:00.123Z\"", row.Detail, StringComparison.Ordinal);
    }

    private async Task SeedAsync()
    {
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/access-levels/hall-a", new { name = "Hall A", zones = new[] { "dc1-hall-a" }, schedule = "always" }));
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/people/p-100", new { name = "Ada Lovelace", kind = "employee", accessLevels = new[] { "hall-a" } }));
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/credentials/04-a1-b2-c3", new { technology = "desfire-ev3", personId = "p-100" }));
    }

    private AccessDecision Decide()
    {
        var snapshot = host.Configuration.Current;
        var request = new AccessRequest(new ReaderId("rdr-hall-a-in"), Card, "desfire-ev3", host.Clock.GetCurrentInstant());
        return DecisionEngine.Decide(request, snapshot.Topology, snapshot.Cardholders, PassbackState.Empty);
    }

    private string Snapshot(Cardholders? cardholders = null)
    {
        cardholders ??= host.Configuration.Cardholders;
        return AdminJson.Serialize(new
        {
            people = cardholders.People.Values.OrderBy(p => p.Id.Value, StringComparer.Ordinal).Select(PersonView.From),
            credentials = cardholders.Credentials.Values.OrderBy(c => c.CardUid, StringComparer.Ordinal).Select(CredentialView.From),
            levels = cardholders.AccessLevels.Values.OrderBy(l => l.Id.Value, StringComparer.Ordinal).Select(AccessLevelView.From),
        });
    }

    private static async Task OkAsync(HttpResponseMessage response) =>
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
}

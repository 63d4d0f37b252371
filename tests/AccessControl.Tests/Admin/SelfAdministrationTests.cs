using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Sites;

namespace AccessControl.Tests.Admin;

/// <summary>
/// Segregation of duties for cardholders (NIST AC-5, AC-6, PCI DSS 7.2): an administrator's token gives its own person
/// nothing. Alice (admin, person p-alice) may not give herself a level, a card, or a wider level she holds; only what
/// takes access away (suspending herself, revoking a card of hers) is hers to do. Carol, another admin, may do it all.
/// Each refusal is 403 <c>segregation_of_duties</c> and a <c>security</c> row <c>cardholders.self_change</c>.
/// </summary>
public sealed class SelfAdministrationTests : IAsyncLifetime
{
    private AdminHost host = null!;
    private string carol = null!;

    public async Task InitializeAsync()
    {
        host = await AdminHost.StartAsync();
        await host.AddPersonAsync("p-carol");
        carol = host.Tokens.CreateToken("carol", OperatorRole.Admin, "test-setup", "p-carol");
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/access-levels/hall-a", new { name = "Hall A", zones = new[] { "dc1-hall-a" }, schedule = "always" }));
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/access-levels/campus", new { name = "Campus", zones = new[] { "dc1-campus" }, schedule = "always" }));
        await host.AddPersonAsync("p-100");
    }

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "PCI-7.2")]
    public async Task AnAdmin_GivingTheirOwnPersonLevels_IsRefused403_WithASecurityRow_AndNothingChanged()
    {
        var levels = await host.AsAdminAsync(HttpMethod.Put, "/people/p-alice/access-levels", new[] { "hall-a" });
        var upsert = await host.AsAdminAsync(HttpMethod.Put, "/people/p-alice", new { name = "Alice", kind = "employee", accessLevels = new[] { "hall-a" } });

        await RefusedAsync(levels);
        await RefusedAsync(upsert);
        Assert.Empty(Alice().AccessLevels);
        Assert.DoesNotContain(host.Rows(LogKinds.Admin), r => r.PersonId == "p-alice");
        var rows = SelfChangeRows();
        Assert.Equal(["person.access_levels", "person.upsert"], rows.Select(r => Detail(r, "change")));
        Assert.All(rows, r => Assert.Equal(("alice", "p-alice", "admin", "p-alice"), (r.Actor, r.PersonId, Detail(r, "role"), Detail(r, "person"))));

        // Another administrator may.
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/people/p-alice/access-levels", new[] { "hall-a" }));
        Assert.Equal(["hall-a"], Alice().AccessLevels.Select(l => l.Value));
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "PCI-7.2")]
    public async Task AnAdmin_BindingReissuingOrActivatingACardOfTheirOwn_IsRefused403()
    {
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/credentials/04BB000001", new { technology = "desfire-ev3", personId = "p-100" }));
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/credentials/04AA000002", new { technology = "desfire-ev3", personId = "p-alice", status = "suspended" }));
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/credentials/04AA000003", new { technology = "desfire-ev3", personId = "p-alice", status = "revoked" }));

        await RefusedAsync(await host.AsAdminAsync(HttpMethod.Put, "/credentials/04AA000001", new { technology = "desfire-ev3", personId = "p-alice" }));
        await RefusedAsync(await host.AsAdminAsync(HttpMethod.Put, "/credentials/04BB000001", new { technology = "desfire-ev3", personId = "p-alice" })); // someone else's card
        await RefusedAsync(await host.AsAdminAsync(HttpMethod.Post, "/credentials/04AA000002/status", new { status = "active" }));
        await RefusedAsync(await host.AsAdminAsync(HttpMethod.Post, "/credentials/04AA000003/reissue", new { technology = "desfire-ev3", personId = "p-alice", reason = "found it" }));

        var live = host.Configuration.Cardholders.Credentials;
        Assert.False(live.ContainsKey("04AA000001"));
        Assert.Equal(new PersonId("p-100"), live["04BB000001"].Person);
        Assert.Equal(CredentialStatus.Suspended, live["04AA000002"].Status);
        Assert.Equal(CredentialStatus.Revoked, live["04AA000003"].Status);
        Assert.Equal(
            ["credential.upsert", "credential.upsert", "credential.activate", "credential.reissue"],
            SelfChangeRows().Select(r => Detail(r, "change")));
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    [Trait("control", "NIST-AC-6")]
    public async Task AnAdmin_ChangingALevelTheirOwnPersonHolds_IsRefused403_AnotherLevelIsTheirs()
    {
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/people/p-alice/access-levels", new[] { "campus" }));

        var widened = await host.AsAdminAsync(HttpMethod.Put, "/access-levels/campus", new { name = "Campus", zones = new[] { "dc1-campus", "dc1-hall-a" }, schedule = "always" });

        await RefusedAsync(widened);
        Assert.Equal(["dc1-campus"], host.Configuration.Cardholders.AccessLevels[new AccessLevelId("campus")].Zones.Select(z => z.Value));
        Assert.Equal(["access_level.upsert"], SelfChangeRows().Select(r => Detail(r, "change")));
        await OkAsync(await host.AsAdminAsync(HttpMethod.Put, "/access-levels/hall-a", new { name = "Hall A (north)", zones = new[] { "dc1-hall-a" }, schedule = "always" }));
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    public async Task AnAdmin_TakingAccessAwayFromThemselves_IsAllowed()
    {
        await OkAsync(await AsCarolAsync(HttpMethod.Put, "/credentials/04AA000004", new { technology = "desfire-ev3", personId = "p-alice" }));

        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, "/credentials/04AA000004/status", new { status = "revoked" }));
        await OkAsync(await host.AsAdminAsync(HttpMethod.Post, "/people/p-alice/status", new { status = "suspended" }));

        Assert.Equal(CredentialStatus.Revoked, host.Configuration.Cardholders.Credentials["04AA000004"].Status);
        Assert.Equal(PersonStatus.Suspended, Alice().Status);
        Assert.Empty(SelfChangeRows());
    }

    [Fact]
    [Trait("control", "NIST-AC-5")]
    public async Task TheAdminService_RefusesTheSelfChange_WhoeverPassesTheRequestOn()
    {
        var alice = AdminActor.Of(new OperatorIdentity("alice", OperatorRole.Admin, "p-alice"));

        var result = await host.Admin.SetPersonAccessLevelsAsync(alice, "p-alice", ["hall-a"]);

        Assert.Equal(AdminOutcome.SegregationOfDuties, result.Outcome);
        Assert.Empty(Alice().AccessLevels);
    }

    private Person Alice() => host.Configuration.Cardholders.People[new PersonId("p-alice")];

    private List<LogEntry> SelfChangeRows() => [.. host.Rows(LogKinds.Security).Where(r => r.Reason == CardholderActions.SelfChange)];

    private static string? Detail(LogEntry row, string name) => JsonDocument.Parse(row.Detail!).RootElement.GetProperty(name).GetString();

    private Task<HttpResponseMessage> AsCarolAsync(HttpMethod method, string path, object body) => host.SendAsync(method, path, body, carol);

    private static async Task OkAsync(HttpResponseMessage response)
    {
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task RefusedAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{(int)response.StatusCode}: {body}");
        using var problem = JsonDocument.Parse(body);
        Assert.Equal("segregation_of_duties", problem.RootElement.GetProperty("code").GetString());
    }
}

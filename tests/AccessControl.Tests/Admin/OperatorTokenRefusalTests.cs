using System.Net;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using Dapper;

namespace AccessControl.Tests.Admin;

/// <summary>
/// A token works only while the person it names is active, checked at every request: a suspension refuses it at once
/// and a reinstatement lets it work again (termination revokes it). A token that names nobody, stored by an older
/// version, is refused: no termination could show its holder losing access.
/// </summary>
public sealed class OperatorTokenRefusalTests : IAsyncLifetime
{
    private AdminHost host = null!;

    public async Task InitializeAsync() => host = await AdminHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    [Fact]
    [Trait("control", "NIST-AC-2")]
    [Trait("control", "NIST-AC-3")]
    public async Task TokenOfASuspendedPerson_IsRefusedAtTheNextRequest_AndWorksAgainOnceReinstated()
    {
        var carol = await AuditorTokenOfAsync("carol", "p-carol");
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(HttpMethod.Get, "/people", token: carol)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await host.AsAdminAsync(HttpMethod.Post, "/people/p-carol/status", new { status = "suspended" })).StatusCode);
        var refused = await host.SendAsync(HttpMethod.Get, "/people", token: carol);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        using (var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()))
        {
            Assert.Equal("person_suspended", problem.RootElement.GetProperty("code").GetString());
            Assert.Contains("p-carol", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var row = Assert.Single(host.Rows(LogKinds.Security));
        Assert.Equal(("auth.person_suspended", "carol"), (row.Reason, row.Actor));
        Assert.Contains("\"person\":\"p-carol\"", row.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(carol, row.Detail, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await host.AsAdminAsync(HttpMethod.Post, "/people/p-carol/status", new { status = "active" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(HttpMethod.Get, "/people", token: carol)).StatusCode);
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    [Trait("control", "NIST-PS-4")]
    public async Task TokenOfAPersonTerminatedThroughTheAdminApi_IsRevokedByTheTermination_AndStaysRevokedIfTheyAreSetActiveAgain()
    {
        // Terminated any way at all (here `person status ... terminated`, not the HR feed), a leaver's tokens are revoked
        // with the termination itself: a rehire must not bring a leaver's old tokens back.
        var carol = await AuditorTokenOfAsync("carol", "p-carol");

        Assert.Equal(HttpStatusCode.OK, (await host.AsAdminAsync(HttpMethod.Post, "/people/p-carol/status", new { status = "terminated" })).StatusCode);
        var refused = await host.SendAsync(HttpMethod.Get, "/people", token: carol);
        Assert.Equal(HttpStatusCode.OK, (await host.AsAdminAsync(HttpMethod.Post, "/people/p-carol/status", new { status = "active" })).StatusCode);
        var afterRehire = await host.SendAsync(HttpMethod.Get, "/people", token: carol);

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized), (refused.StatusCode, afterRehire.StatusCode));
        var token = Assert.Single(host.Tokens.List(), t => t.Operator == "carol");
        Assert.Equal((OperatorToken.Revoked, "alice"), (token.State, token.RevokedBy));
        Assert.Equal(2, host.Rows(LogKinds.Security).Count(r => r.Reason == "auth.invalid_token"));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public void CreateToken_ForASuspendedPerson_IsRefusedNamingTheReason_AndCreatesNothing()
    {
        Support.TestPeople.Add(host.Database, People.PersonStatus.Suspended, "p-sam");

        var refused = Assert.Throws<ArgumentException>(() => host.Tokens.CreateToken("sam", OperatorRole.Admin, "test", "p-sam"));

        Assert.Contains("person 'p-sam' is suspended", refused.Message, StringComparison.Ordinal);
        using var connection = host.Database.Open();
        Assert.Equal(0L, connection.ExecuteScalar<long>("SELECT count(*) FROM operator_tokens WHERE operator = 'sam'"));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    [Trait("control", "NIST-PS-4")]
    public async Task TokenThatNamesNoPerson_StoredByAnOlderVersion_Is401_SayingWhatToDo_AndLogged()
    {
        const string legacy = "legacy-admin-token-0123456789abcdefghijklmnopq";
        host.StoreTokenWithoutPerson(legacy, "zed");

        var refused = await host.SendAsync(HttpMethod.Get, "/people", token: legacy);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var body = await refused.Content.ReadAsStringAsync();
        Assert.Contains("\"code\":\"token_without_person\"", body, StringComparison.Ordinal);
        Assert.Contains("--person", body, StringComparison.Ordinal);
        Assert.Contains("token revoke", body, StringComparison.Ordinal);
        var row = Assert.Single(host.Rows(LogKinds.Security));
        Assert.Equal(("auth.token_without_person", "zed"), (row.Reason, row.Actor));
        Assert.DoesNotContain(legacy, row.Detail, StringComparison.Ordinal);
        Assert.Empty(host.PeopleBesidesTheOperators);
    }

    private async Task<string> AuditorTokenOfAsync(string operatorName, string person)
    {
        await host.AddPersonAsync(person);
        return host.Tokens.CreateToken(operatorName, OperatorRole.Auditor, "test-setup", person);
    }
}

using System.Net;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cli;
using NodaTime;

namespace AccessControl.Tests.Admin;

/// <summary>
/// An auditor reviewing who holds access lists the operator tokens (<c>GET /api/v1/tokens</c>; <c>token list</c> in
/// CliTests): who, which role and site, created and revoked when and by whom, and whether the token is refused for its
/// person. Never a token, nor any hash of one.
/// </summary>
public sealed class OperatorTokenListTests : IAsyncLifetime
{
    private AdminHost host = null!;

    public async Task InitializeAsync() => host = await AdminHost.StartAsync();

    public async Task DisposeAsync() => await host.DisposeAsync();

    /// <summary>
    /// Beside alice (admin) and bob (auditor), made at the start by test-setup: at 09:01 sec-officer makes dora (approver
    /// for dc1), sam (auditor) and erin (host); at 09:02 erin's token is revoked by sec-officer and sam is suspended; zed's
    /// token names no person (an older version's). Returns every token.
    /// </summary>
    internal static async Task<string[]> SeedAsync(AdminHost host)
    {
        await host.AddPersonAsync("p-dora");
        await host.AddPersonAsync("p-sam");
        await host.AddPersonAsync("p-erin");
        host.Clock.Advance(Duration.FromMinutes(1));
        var dora = host.Tokens.CreateToken("dora", OperatorRole.Approver, "sec-officer", "p-dora", "dc1");
        var sam = host.Tokens.CreateToken("sam", OperatorRole.Auditor, "sec-officer", "p-sam");
        var erin = host.Tokens.CreateToken("erin", OperatorRole.Host, "sec-officer", "p-erin");
        host.Clock.Advance(Duration.FromMinutes(1));
        var revoked = TokenCommand.Run(CliArgs.Parse(["revoke", "--db", host.DatabasePath, "--operator", "erin", "--by", "sec-officer"]).Args!, host.Clock, new AccessControl.EntryLog.OsAccount("tester", 1000), TextWriter.Null, TextWriter.Null);
        Assert.Equal(ExitCodes.Ok, revoked);
        Assert.Equal(HttpStatusCode.OK, (await host.AsAdminAsync(HttpMethod.Post, "/people/p-sam/status", new { status = "suspended" })).StatusCode);
        const string zed = "legacy-admin-token-0123456789abcdefghijklmnopq";
        host.StoreTokenWithoutPerson(zed, "zed");
        return [host.AdminToken, host.AuditorToken, dora, sam, erin, zed];
    }

    /// <summary>That <paramref name="text"/> holds none of the tokens, none of their hashes, and nothing shaped like a SHA-256 hash.</summary>
    internal static void AssertNoSecret(string text, IEnumerable<string> tokens)
    {
        foreach (var token in tokens)
        {
            Assert.DoesNotContain(token, text, StringComparison.Ordinal);
            Assert.DoesNotContain(AdminHost.TokenHash(token), text, StringComparison.OrdinalIgnoreCase);
        }

        Assert.DoesNotMatch("[0-9A-Fa-f]{64}", text);
    }

    [Theory]
    [InlineData("admin")]
    [InlineData("auditor")]
    [Trait("control", "NIST-AC-2")]
    public async Task GetTokens_AsAdminOrAuditor_ListsEveryToken_WithWhoWhenAndItsState_NeverTheTokenNorItsHash(string role)
    {
        var tokens = await SeedAsync(host);

        var response = await host.SendAsync(HttpMethod.Get, "/tokens", token: role == "admin" ? host.AdminToken : host.AuditorToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        AssertNoSecret(body, tokens);
        using var page = JsonDocument.Parse(body);
        var items = page.RootElement.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("operator").GetString()!, i => i.Clone());
        Assert.Equal(["alice", "bob", "dora", "erin", "sam", "zed"], items.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(6, items.Values.Select(i => i.GetProperty("id").GetString()).Distinct().Count());
        Assert.All(items.Values, i => Assert.Matches("^tok-[0-9a-f]{16}$", i.GetProperty("id").GetString()));

        var dora = items["dora"];
        Assert.Equal(
            ("approver", "p-dora", "dc1", "2025-03-03T09:01:00Z", "sec-officer", "valid"),
            (Text(dora, "role"), Text(dora, "person"), Text(dora, "site"), Text(dora, "createdAt"), Text(dora, "createdBy"), Text(dora, "state")));
        Assert.False(dora.TryGetProperty("revokedAt", out _));
        Assert.Equal(("2025-03-03T09:02:00Z", "sec-officer", "revoked"), (Text(items["erin"], "revokedAt"), Text(items["erin"], "revokedBy"), Text(items["erin"], "state")));
        Assert.Equal("person_suspended", Text(items["sam"], "state"));
        Assert.Equal("token_without_person", Text(items["zed"], "state"));
        Assert.False(items["zed"].TryGetProperty("person", out _));
        Assert.False(items["alice"].TryGetProperty("site", out _));   // every site
        Assert.Equal(("admin", "p-alice", "test-setup", "valid"), (Text(items["alice"], "role"), Text(items["alice"], "person"), Text(items["alice"], "createdBy"), Text(items["alice"], "state")));
    }

    [Fact]
    [Trait("control", "NIST-AC-2")]
    public async Task GetTokens_PagesWithAfterAndLimit_InTheOrderTheyWereCreated()
    {
        await SeedAsync(host);

        var first = await PageAsync("/tokens?limit=4");
        var rest = await PageAsync("/tokens?limit=4&after=" + first.Next);

        // zed's token is from 1970 (an older version's row); the others were made at 09:00 and 09:01, ties in id order.
        Assert.Equal(4, first.Operators.Count);
        Assert.Equal("zed", first.Operators[0]);
        Assert.Equal(["alice", "bob"], first.Operators[1..3].Order(StringComparer.Ordinal));
        Assert.Equal(["dora", "erin", "sam"], first.Operators.Skip(3).Concat(rest.Operators).Order(StringComparer.Ordinal));
        Assert.Null(rest.Next);
    }

    [Theory]
    [InlineData(OperatorRole.Host, null, HttpStatusCode.Forbidden)]
    [InlineData(OperatorRole.Security, null, HttpStatusCode.Forbidden)]
    [InlineData(OperatorRole.Auditor, "dc1", HttpStatusCode.Forbidden)]   // every site's operators: not for a site-limited token
    [Trait("control", "NIST-AC-3")]
    public async Task GetTokens_IsForUnlimitedAdminsAndAuditorsOnly(OperatorRole role, string? site, HttpStatusCode expected)
    {
        await host.AddPersonAsync("p-olga");
        var token = host.Tokens.CreateToken("olga", role, "test-setup", "p-olga", site);

        var response = await host.SendAsync(HttpMethod.Get, "/tokens", token: token);

        Assert.Equal(expected, response.StatusCode);
        Assert.DoesNotContain("tok-", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<(List<string> Operators, string? Next)> PageAsync(string path)
    {
        var response = await host.SendAsync(HttpMethod.Get, path, token: host.AuditorToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var next = page.RootElement.TryGetProperty("next", out var n) ? n.GetString() : null;
        return ([.. page.RootElement.GetProperty("items").EnumerateArray().Select(i => Text(i, "operator"))], next);
    }

    private static string Text(JsonElement item, string name) => item.GetProperty(name).GetString()!;
}

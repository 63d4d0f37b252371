using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Tests.Support;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>The admin API of the running service changes what the readers get, at once, and records who did it.</summary>
public class AdminOverHttpTests
{
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-AC-2")]
    public async Task TerminatingAPersonOverTheApi_DeniesTheirVeryNextSwipe_AndRecordsWhoDidIt()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        TestPeople.Add(edge.Edge.Database, "p-alice");
        using var http = Client(edge, new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("hr-alice", OperatorRole.Admin, "test", "p-alice"));

        var response = await http.PostAsJsonAsync("api/v1/people/p-jweber/status", new { status = "terminated" });
        var after = await reader.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("credential_revoked", after.Reason);
        var audit = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, PersonId = "p-jweber", Reason = "person.terminate" }));
        Assert.Equal("hr-alice", audit.Actor);
        Assert.Equal(edge.Clock.GetCurrentInstant(), audit.At);
        var swipes = edge.Rows(new LogFilter { Kind = LogKinds.Access, PersonId = "p-jweber" });
        Assert.True(audit.Seq < swipes[^1].Seq);   // the change is in the log before the swipe it denied
    }

    [Fact]
    [Trait("control", "PCI-10.2.2")]
    [Trait("control", "NIST-AU-3")]
    public async Task AChangeOverTheApi_RecordsTheAddressItCameFrom_InItsRowAndInTheRowsItSetsOff()
    {
        await using var edge = await EdgeHarness.StartAsync();
        TestPeople.Add(edge.Edge.Database, "p-alice");
        using var http = Client(edge, new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("hr-alice", OperatorRole.Admin, "test", "p-alice"));

        var terminated = await http.PostAsJsonAsync("api/v1/people/p-jweber/status", new { status = "terminated" });
        var reset = await http.PostAsync("api/v1/devices/readers/rdr-lobby-in/seq-reset", null);

        Assert.Equal(HttpStatusCode.OK, terminated.StatusCode);
        Assert.Equal(HttpStatusCode.OK, reset.StatusCode);
        var byAlice = edge.Rows(new LogFilter { Kind = LogKinds.Admin }).Where(r => r.Actor == "hr-alice").ToList();
        Assert.Contains(byAlice, r => r.Reason == "person.terminate");
        Assert.Contains(byAlice, r => r.Reason == "credential.revoke");        // the card her termination revoked
        Assert.Contains(byAlice, r => r.Reason == global::AccessControl.Events.DeviceSeqBaselines.ResetReason);
        Assert.All(byAlice, r => Assert.Contains("\"remote\":\"127.0.0.1\"", r.Reason + " " + r.Detail, StringComparison.Ordinal));
        Assert.All(byAlice, r => Assert.NotNull(System.Text.Json.JsonDocument.Parse(r.Detail!))); // still one JSON object each
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task AnAuditor_CannotRevokeACredential_AndTheAttemptIsLogged()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        TestPeople.Add(edge.Edge.Database, "p-bob");
        using var http = Client(edge, new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("bob", OperatorRole.Auditor, "test", "p-bob"));

        var response = await http.PostAsJsonAsync($"api/v1/credentials/{Operator}/status", new { status = "revoked" });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Assert.Contains(edge.Rows(new LogFilter { Kind = LogKinds.Security }), r => r.Actor == "bob" || (r.Detail ?? "").Contains("bob", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    public async Task TheLogApi_FiltersTheSwipesOfTheRunningService()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-dh1-in");
        await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        await reader.PresentCardAsync(Contractor, Ev2).WaitAsync(EdgeHarness.Timeout);
        TestPeople.Add(edge.Edge.Database, "p-auditor");
        using var http = Client(edge, new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("auditor", OperatorRole.Auditor, "test", "p-auditor"));

        var denied = await http.GetStringAsync("api/v1/log?door=door-dh1&decision=deny");

        Assert.Contains("no_access_to_zone", denied, StringComparison.Ordinal);
        Assert.DoesNotContain("\"granted\"", denied, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-CM-3")]
    public async Task LoadingTheSiteFile_IsLoggedAsAnAdminChangeWithItsHash()
    {
        await using var edge = await EdgeHarness.StartAsync();

        var load = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "site.load" }));

        Assert.Equal("demo", load.SiteId);
        Assert.StartsWith("site-file:demo.yaml", load.Actor, StringComparison.Ordinal);
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(EdgeHarness.DemoSiteFile)));
        Assert.Contains(hash, load.Detail, StringComparison.Ordinal);
    }

    private static HttpClient Client(EdgeHarness edge, string token)
    {
        var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }
}

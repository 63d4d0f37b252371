using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cli;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Visitors;

/// <summary>The <c>visit</c> commands drive the visitor API of the running service.</summary>
public class VisitCliTests
{
    [Fact]
    [Trait("control", "PCI-9.3.4")]
    [Trait("control", "PCI-9.3.2")]
    public async Task ARequestApprovalCheckInAndCheckOut_FromTheCommandLine_AppearInTheVisitorLog()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        await desk.AddBadgeAsync();
        TestPeople.Add(edge.Edge.Database, "p-audit-2"); // the desk added p-desk-1
        var tokens = new ApiTokens(edge.Edge.Database, edge.Clock);
        var url = edge.Host.HttpAddress.ToString();

        var request = await RunAsync(url, desk.HostToken, ["visit", "request", "--site", "demo", "--date", "2026-12-01", "--start", "10:15", "--end", "12:00", "--zones", "demo-campus,demo-bldg-a",
            "--purpose", "Audit walk-through", "--visitor", "Åsa Ødegård|Nordic Audit AB", "--escorts", "p-mkoch"]);
        var id = JsonDocument.Parse(request.Output).RootElement.GetProperty("id").GetInt64();
        var approver = tokens.CreateToken("aschulz", OperatorRole.Approver, "test", "p-aschulz"); // not the escort
        var frontdesk = tokens.CreateToken("desk-1", OperatorRole.Frontdesk, "test", "p-desk-1");
        var approve = await RunAsync(url, approver, ["visit", "approve", id.ToString(), "--note", "fine"]);
        var refused = await RunAsync(url, frontdesk, ["visit", "check-in", id.ToString(), "--visitor", "1", "--name", "ODEGARD ASA", "--doc-type", "passport",
            "--doc-country", "NOR", "--doc-expiry", "2020-01-01"], "NO1234567\n");
        var checkIn = await RunAsync(url, frontdesk, ["visit", "check-in", id.ToString(), "--visitor", "1", "--name", "ODEGARD AASA", "--doc-type", "passport",
            "--doc-country", "NOR", "--doc-expiry", "2030-01-01"], "NO1234567\n");
        edge.Clock.AdvanceMinutes(30);
        var checkOut = await RunAsync(url, frontdesk, ["visit", "return", VisitDesk.Badge1]);
        var log = await RunAsync(url, tokens.CreateToken("audit-2", OperatorRole.Auditor, "test", "p-audit-2"), ["visit", "log", "--from", "2026-12-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z"]);

        Assert.Equal(0, request.Code);
        Assert.Equal(0, approve.Code);
        Assert.Equal(ExitCodes.Failed, refused.Code);
        Assert.Contains("[document_expired]", refused.Error, StringComparison.Ordinal);
        Assert.True(checkIn.Code == 0, checkIn.Error);
        Assert.DoesNotContain("NO1234567", checkIn.Output, StringComparison.Ordinal);
        Assert.Equal(0, checkOut.Code);
        var row = Assert.Single(JsonDocument.Parse(log.Output).RootElement.GetProperty("items").EnumerateArray());
        Assert.Equal(("Åsa Ødegård", "Nordic Audit AB", "aschulz", VisitDesk.Badge1), (row.GetProperty("name").GetString(), row.GetProperty("organization").GetString(),
            row.GetProperty("authorizedBy").GetString(), row.GetProperty("badge").GetString()));
        Assert.True(row.TryGetProperty("checkedOutAt", out _));
    }

    /// <summary><c>visit overdue --site S</c> (here with <c>--json</c>) asks the service for S's overdue badges (<c>site=S</c>), not every site's.</summary>
    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task VisitOverdue_WithASite_PrintsOnlyThatSitesOverdueBadges()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        await desk.CheckedInVisitAsync();
        edge.Clock.Reset(VisitDesk.At(12, 0));   // the visit's window has ended, its badge is still out
        var url = edge.Host.HttpAddress.ToString();
        var frontdesk = desk.Frontdesk.DefaultRequestHeaders.Authorization!.Parameter!;

        var atDemo = await RunAsync(url, frontdesk, ["visit", "overdue", "--site", "demo", "--json"]);
        var atPar1 = await RunAsync(url, frontdesk, ["visit", "overdue", "--site", "par1", "--json"]);

        Assert.True(atDemo.Code == 0, atDemo.Error);
        Assert.True(atPar1.Code == 0, atPar1.Error);
        var badge = Assert.Single(JsonDocument.Parse(atDemo.Output).RootElement.EnumerateArray());
        Assert.Equal(VisitDesk.Badge1, badge.GetProperty("badge").GetString());
        Assert.Empty(JsonDocument.Parse(atPar1.Output).RootElement.EnumerateArray());
    }

    [Theory]
    [InlineData("visit")]
    [InlineData("visit", "check-in", "1", "--visitor", "1")]   // no document number on standard input
    [InlineData("visit", "request", "--site", "demo", "--visitor", "no organization")]
    [InlineData("visit", "approve", "1", "--bogus", "x")]
    public async Task MalformedCommands_AreUsageErrors(params string[] args)
    {
        var result = await RunAsync("http://127.0.0.1:9", "token", args);

        Assert.Equal(ExitCodes.Usage, result.Code);
        Assert.Contains("usage", result.Error, StringComparison.Ordinal);
    }

    internal static async Task<(int Code, string Output, string Error)> RunAsync(string url, string token, string[] args, string input = "")
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var environment = new Dictionary<string, string> { ["AC_URL"] = url, ["AC_TOKEN"] = token };
        var code = await AdminCommands.RunAsync(args, new NodaTime.Testing.FakeClock(EdgeHarness.BusinessHours), output, error, k => environment.GetValueOrDefault(k), new AccessControl.EntryLog.OsAccount("tester", 1000),
            CancellationToken.None, new StringReader(input));
        return (code ?? -1, output.ToString(), error.ToString());
    }
}

using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.People;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using AccessControl.Tests.Visitors;
using AccessControl.Visitors;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Hr;

/// <summary>
/// A site file that terminates someone (a stored person it now declares <c>status: terminated</c>) takes away what every
/// termination does: p-mkoch (card 04A1B2C3D4E5F6, right index enrolled, hosting a visit) leaves, by the demo file.
/// </summary>
public sealed class SiteFileTerminationTests : IDisposable
{
    private const string Actor = "site-file:demo.yaml";
    private const string NewLeaversCard = "04C0FFEE000001";

    private readonly DataFolder folder = new();
    private readonly string siteFile;
    private int starts;

    public SiteFileTerminationTests()
    {
        // A copy the test can edit, under the demo's name (the actor of its rows is site-file:demo.yaml).
        Directory.CreateDirectory(Path.Combine(folder.Path, "sites"));
        siteFile = Path.Combine(folder.Path, "sites", "demo.yaml");
        File.Copy(EdgeHarness.DemoSiteFile, siteFile);
    }

    public void Dispose() => folder.Dispose();

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    [Trait("control", "ISO-IEC-24745")]
    public async Task ASiteFileThatTerminatesSomeone_RevokesTheirCardsTemplatesAndVisits_SoARehireGetsNoneBack()
    {
        var visit = await HostAVisitAsync();

        TerminateMartinaInTheFile();
        await using var edge = await StartAsync();
        Assert.True((await edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("ops"), "p-mkoch", "active")).IsOk);
        var swipe = await (await edge.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "credential_revoked"), (swipe.Grant, swipe.Reason));
        AssertTakenAway(edge, visit);
        var rows = TerminationRows(edge);
        Assert.Equal(["person.terminate", "credential.revoke", "fingerprint.revoke", "visit.cancel", "operator_token.revoke"], rows.Select(r => r.Reason));
        Assert.All(rows, r => Assert.Equal(edge.Clock.GetCurrentInstant(), r.At));
        Assert.Contains("\"operators\":[\"mkoch\",\"mkoch-host\"]", rows[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    [Trait("control", "NIST-AU-5")]
    public async Task ASiteFileTerminationThatCouldNotBeFinished_RefusesTheStart_AndTheNextStartFinishesIt()
    {
        var visit = await HostAVisitAsync();

        // The log refuses the templates' row (a full disk, an I/O error) at the start that loads the changed file.
        TerminateMartinaInTheFile();
        RefuseRows("fingerprint.revoke");
        var refused = await Record.ExceptionAsync(async () => await (await StartAsync()).DisposeAsync());
        RefuseRows(null);
        await using var edge = await StartAsync();
        Assert.True((await edge.Edge.Admin.SetPersonStatusAsync(AdminActor.EverySite("ops"), "p-mkoch", "active")).IsOk);
        var swipe = await (await edge.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Contains("terminates 'p-mkoch'", Assert.IsType<InvalidOperationException>(refused).Message, StringComparison.Ordinal);
        Assert.Equal((false, "credential_revoked"), (swipe.Grant, swipe.Reason));
        AssertTakenAway(edge, visit);
        // The same rows as a termination done at once: the start that finished it names the tokens the first one's status
        // change revoked.
        var rows = TerminationRows(edge);
        Assert.Equal(["person.terminate", "credential.revoke", "fingerprint.revoke", "visit.cancel", "operator_token.revoke"], rows.Select(r => r.Reason));
        Assert.Contains("\"operators\":[\"mkoch\",\"mkoch-host\"]", rows[^1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "ISO27001-A.7.3")]
    public async Task ASiteFileThatDeclaresSomeoneTerminatedFromTheStart_StoresTheirActiveCardsRevoked_SoAReactivationBringsNoneBack()
    {
        // The demo file declares p-tfischer terminated, and his card (not handed back yet) active, from its first import.
        // A later file adds a leaver it never declared before, with a card of his own.
        await using (var first = await StartAsync())
        {
            Assert.Equal(CredentialStatus.Revoked, first.Edge.Configuration.Cardholders.Credentials[Terminated].Status);
        }

        var text = File.ReadAllText(siteFile);
        File.WriteAllText(siteFile, text
            .Replace("people:\n", "people:\n  - id: p-leaver\n    name: Lea Ver\n    kind: contractor\n    status: terminated\n    accessLevels: [lobby-24x7]\n\n", StringComparison.Ordinal)
            .Replace("credentials:\n", $"credentials:\n  - card: \"{NewLeaversCard}\"\n    technology: desfire-ev3\n    person: p-leaver\n\n", StringComparison.Ordinal));
        await using var edge = await StartAsync();
        var ops = AdminActor.EverySite("ops");
        Assert.True((await edge.Edge.Admin.SetPersonStatusAsync(ops, "p-tfischer", "active")).IsOk);
        Assert.True((await edge.Edge.Admin.SetPersonStatusAsync(ops, "p-leaver", "active")).IsOk);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var his = await reader.PresentCardAsync(Terminated, Ev2).WaitAsync(EdgeHarness.Timeout);
        var hers = await reader.PresentCardAsync(NewLeaversCard, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "credential_revoked"), (his.Grant, his.Reason));
        Assert.Equal((false, "credential_revoked"), (hers.Grant, hers.Reason));
        foreach (var (person, card) in new[] { ("p-tfischer", Terminated), ("p-leaver", NewLeaversCard) })
        {
            Assert.Equal(CredentialStatus.Revoked, edge.Edge.Configuration.Cardholders.Credentials[card].Status);
            // The card as the file declares it, then revoked as every termination revokes one, by the file and naming it.
            var rows = edge.Rows(new LogFilter { Kind = LogKinds.Admin, PersonId = person, Limit = 10_000 }).Where(r => r.Actor == Actor).ToList();
            Assert.Equal(["person.upsert", "credential.upsert", "credential.revoke"], rows.Select(r => r.Reason));
            Assert.Contains("\"reference\":\"sha256:", rows[^1].Detail, StringComparison.Ordinal);
        }
    }

    /// <summary>A first start with the demo file, in which Martina Koch (still employed, an approver too) hosts a visit this afternoon; its id.</summary>
    private async Task<long> HostAVisitAsync()
    {
        await using var first = await StartAsync();
        using var desk = VisitDesk.For(first);
        desk.As("mkoch", OperatorRole.Approver, "p-mkoch");
        return (await TerminationTests.RequestAsync(desk.As("mkoch-host", OperatorRole.Host, "p-mkoch"), escorts: [])).Id;
    }

    internal static void AssertTakenAway(EdgeHarness edge, long visit)
    {
        Assert.Equal(CredentialStatus.Revoked, edge.Edge.Configuration.Cardholders.Credentials[Operator].Status);
        Assert.NotEmpty(edge.Edge.Fingerprints.List("p-mkoch").Value!);
        Assert.All(edge.Edge.Fingerprints.List("p-mkoch").Value!, t => Assert.NotNull(t.RevokedAt));
        Assert.Equal("withdrawn", edge.Host.Services.GetRequiredService<VisitorService>().Get(visit)!.Status);
    }

    /// <summary>
    /// The file's rows of a termination's steps, in order (the first start, which declared her, wrote none of them; it
    /// revoked the card of p-tfischer, whom the demo file declares terminated from the first).
    /// </summary>
    private static List<LogEntry> TerminationRows(EdgeHarness edge) =>
    [
        .. edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 10_000 }).Where(r => r.Actor == Actor && r.PersonId != "p-tfischer"
            && r.Reason is "person.terminate" or "credential.revoke" or "fingerprint.revoke" or "visit.cancel" or "operator_token.revoke"),
    ];

    private void TerminateMartinaInTheFile()
    {
        var text = File.ReadAllText(siteFile);
        const string Martina = "    kind: employee              # NOC shift lead\n";
        Assert.Contains(Martina, text, StringComparison.Ordinal);
        File.WriteAllText(siteFile, text.Replace(Martina, Martina + "    status: terminated\n", StringComparison.Ordinal));
    }

    private void RefuseRows(string? reason) => RefuseRows(new Database(new ServiceSettings { DataDirectory = folder.Path }.DatabasePath), reason);

    /// <summary>Makes every insert of an entry-log row with this reason fail inside SQLite, as a full disk would; null: none.</summary>
    internal static void RefuseRows(Database database, string? reason)
    {
        using var connection = database.Open();
        connection.Execute("DROP TRIGGER IF EXISTS refuse_rows;" + (reason is null ? "" :
            $"CREATE TRIGGER refuse_rows BEFORE INSERT ON entry_log WHEN NEW.reason = '{reason}' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;"));
    }

    /// <summary>Each start ten minutes after the last: a reader's events of a new start are not taken for replays of the last one's.</summary>
    private Task<EdgeHarness> StartAsync() => EdgeHarness.StartAsync(
        now: EdgeHarness.BusinessHours + Duration.FromMinutes(10 * starts++), directory: folder.Path, configure: s => s with { SiteFile = siteFile });
}

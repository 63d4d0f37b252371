using System.Security.Cryptography;
using System.Text;
using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.HardwareSim.Readers;
using AccessControl.People;
using AccessControl.Sites;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using NodaTime;
using NodaTime.Testing;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// A site file changed and loaded again (a restart with <c>--site</c>, the one way a file is loaded): what the site's
/// previous file declared and this one does not is taken away, each with its row; and what an operator suspended
/// through the API stays suspended, whatever the file says.
/// </summary>
public sealed class SiteFileChangeTests : IDisposable
{
    private const string LucasCard = "  - card: \"04:7C:19:D2:4A:5B:81\"";
    private const string Luca = "  - id: p-lromano";

    private readonly DataFolder folder = new();
    private readonly string siteFile;

    public SiteFileChangeTests()
    {
        // A copy the test can edit, under the demo's name (the actor of its rows is site-file:demo.yaml).
        Directory.CreateDirectory(Path.Combine(folder.Path, "sites"));
        siteFile = Path.Combine(folder.Path, "sites", "demo.yaml");
        File.Copy(EdgeHarness.DemoSiteFile, siteFile);
    }

    public void Dispose() => folder.Dispose();

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-PS-4")]
    public async Task CardRemovedFromTheSiteFile_IsRevokedWhenTheFileIsLoaded_WithARowNamingTheFile()
    {
        await using (var first = await StartAsync())
        {
            Assert.True((await (await first.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Contractor, Ev2).WaitAsync(EdgeHarness.Timeout)).Grant);
        }

        RemoveBlock(LucasCard);
        await using var edge = await StartAsync();

        var swipe = await (await edge.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Contractor, Ev2).WaitAsync(EdgeHarness.Timeout);
        Assert.False(swipe.Grant, "a card removed from the site file still opens the lobby");
        Assert.Equal("credential_revoked", swipe.Reason);
        // (The first start revoked the card of p-tfischer, whom the demo declares terminated from the first.)
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "credential.revoke" }), r => r.PersonId != "p-tfischer");
        Assert.Equal(("site-file:demo.yaml", Contractor), (row.Actor, row.Card));
        Assert.Contains($"\"removedFrom\":{{\"file\":\"demo.yaml\",\"sha256\":\"{Sha256(siteFile)}\"}}", row.Detail, StringComparison.Ordinal);
        Assert.Equal(CredentialStatus.Revoked, edge.Edge.Cardholders.LoadAll().Credentials[Contractor].Status);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-PS-4")]
    public async Task PersonRemovedFromTheSiteFile_IsSuspendedAndLosesTheFilesLevels_AndTheirCardIsRevoked()
    {
        await (await StartAsync()).DisposeAsync();

        RemoveBlock(Luca);
        RemoveBlock(LucasCard);
        await using var edge = await StartAsync();

        Assert.False((await (await edge.ReaderAsync("rdr-lobby-in")).PresentCardAsync(Contractor, Ev2).WaitAsync(EdgeHarness.Timeout)).Grant);
        var luca = edge.Edge.Cardholders.LoadAll().People[new PersonId("p-lromano")];
        Assert.Equal((PersonStatus.Suspended, 0), (luca.Status, luca.AccessLevels.Length));
        // After the first start's two (person.upsert, credential.upsert):
        var second = edge.Rows(new LogFilter { Kind = LogKinds.Admin, PersonId = "p-lromano" }).Where(r => r.Actor == "site-file:demo.yaml").Skip(2).ToList();
        Assert.Equal(["credential.revoke", "person.access_levels", "person.suspend"], second.Select(r => r.Reason!).Order(StringComparer.Ordinal));
        Assert.All(second, r => Assert.Contains($"\"removedFrom\":{{\"file\":\"demo.yaml\",\"sha256\":\"{Sha256(siteFile)}\"}}", r.Detail, StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task ASiteFileLoaded_DoesNotLiftASuspensionMadeThroughTheApi_ButLiftsOneItDeclaredItself()
    {
        await using (var first = await StartAsync())
        {
            var ops = AdminActor.EverySite("ops");
            Assert.True((await first.Edge.Admin.SetPersonStatusAsync(ops, "p-lromano", "suspended")).IsOk);
            Assert.True((await first.Edge.Admin.SetCredentialStatusAsync(ops, Engineer, "suspended")).IsOk);
        }

        // The same file, given again: its people and cards are imported again (status: active, by default).
        await using (var again = await StartAsync())
        {
            await AssertSuspendedAsync(await again.ReaderAsync("rdr-lobby-in"));
        }

        // A changed file: Sabine Brandt (suspended by the demo file itself) is back from leave, and the file says so.
        File.WriteAllText(siteFile, File.ReadAllText(siteFile).Replace("    status: suspended           # on leave pending an investigation\n", "", StringComparison.Ordinal));
        await using var edge = await StartAsync();

        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        await AssertSuspendedAsync(lobby);
        var sabine = await lobby.PresentCardAsync(Suspended, Ev3).WaitAsync(EdgeHarness.Timeout);
        Assert.True(sabine.Grant, sabine.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-CM-3")]
    public async Task ACardMadeThroughTheApi_DeclaredByTheSiteFile_IsRefusedNamingItsMaker_AndNothingIsStoredOrChanged()
    {
        await MakeSpareCardThroughTheApiAsync();
        DeclareSpareCardForMartina(adopt: false);
        var refused = await Record.ExceptionAsync(async () => await (await StartAsync()).DisposeAsync());

        var error = Assert.Single(Assert.IsType<SiteFileException>(refused).Errors);
        Assert.Equal((siteFile, "credentials[9].card"), (error.File, error.Path));
        Assert.Contains($"card {SpareCard} is stored but no site file declares it: it was made through the admin API", error.Message, StringComparison.Ordinal);
        Assert.Contains("last changed by 'ops' at ", error.Message, StringComparison.Ordinal);
        Assert.Contains("adopt: true", error.Message, StringComparison.Ordinal);
        var database = OpenDatabase();
        Assert.Equal(new PersonId("p-lromano"), new CardholderStore(database).LoadAll().Credentials[SpareCard].Person);
        Assert.DoesNotContain(new SiteStore(database, new FakeClock(EdgeHarness.BusinessHours)).LoadNewest().Single().Credentials, c => c.CardUid == SpareCard);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-CM-3")]
    public async Task ACardMadeThroughTheApi_DeclaredWithAdopt_IsTakenOverByTheFile_InARowNamingTheFileAndWhatItWasBefore()
    {
        await MakeSpareCardThroughTheApiAsync();
        DeclareSpareCardForMartina(adopt: true);
        await using var edge = await StartAsync();

        Assert.Equal(new PersonId("p-mkoch"), edge.Edge.Cardholders.LoadAll().Credentials[SpareCard].Person);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "credential.upsert" }), r => r.Card == SpareCard && r.Actor == "site-file:demo.yaml");
        Assert.Contains($"\"adopted\":{{\"file\":\"demo.yaml\",\"sha256\":\"{Sha256(siteFile)}\",\"loadedBy\":\"site-file:demo.yaml (", row.Detail, StringComparison.Ordinal);
        using var detail = System.Text.Json.JsonDocument.Parse(row.Detail!);
        Assert.Equal("p-lromano", detail.RootElement.GetProperty("before").GetProperty("personId").GetString());
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-AC-2")]
    public async Task AnAccessLevelLeftOutOfTheSiteFile_IsDeleted_AndOpensItsZonesNeitherForAHolderOfTheFileNorForOneOfTheApi()
    {
        await using (var first = await StartAsync())
        {
            // Luca Romano (lobby only in the file) is given the data hall by an operator; Jonas Weber has it from the file.
            var luca = new PersonInput("Luca Romano", "contractor", AccessLevels: ["lobby-24x7", "datahall-business-hours"]);
            Assert.True((await first.Edge.Admin.UpsertPersonAsync(AdminActor.EverySite("ops"), "p-lromano", luca)).IsOk);
        }

        File.WriteAllText(siteFile, File.ReadAllText(siteFile)
            .Replace("  - id: datahall-business-hours\n    name: Data hall 1, business hours\n    zones: [demo-dh1]\n    schedule: business-hours\n\n", "", StringComparison.Ordinal)
            .Replace(", datahall-business-hours", "", StringComparison.Ordinal));
        await using var edge = await StartAsync();

        var hall = await edge.ReaderAsync("rdr-dh1-in");
        var engineer = await hall.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout);
        var contractor = await hall.PresentCardAsync(Contractor, Ev2).WaitAsync(EdgeHarness.Timeout);
        Assert.False(engineer.Grant, "the file's holder of a level left out of the file still enters the data hall");
        Assert.False(contractor.Grant, "the API's holder of a level left out of the file still enters the data hall");
        Assert.DoesNotContain(new AccessLevelId("datahall-business-hours"), edge.Edge.Cardholders.LoadAll().AccessLevels.Keys);
        var removedFrom = $"\"removedFrom\":{{\"file\":\"demo.yaml\",\"sha256\":\"{Sha256(siteFile)}\"}}";
        var lost = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "person.access_levels" }).Where(r => r.Detail!.Contains(removedFrom, StringComparison.Ordinal));
        Assert.Contains(lost, r => r.PersonId == "p-lromano");
        Assert.Contains(lost, r => r.PersonId == "p-jweber");
        var deleted = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "access_level.delete" }));
        Assert.Equal("site-file:demo.yaml", deleted.Actor);
        Assert.Contains(removedFrom, deleted.Detail, StringComparison.Ordinal);
    }

    private const string SpareCard = "04AA0000C0DE01";

    /// <summary>A start with the demo file, in which an operator gives Luca Romano a spare card through the API.</summary>
    private async Task MakeSpareCardThroughTheApiAsync()
    {
        await using var first = await StartAsync();
        Assert.True((await first.Edge.Admin.UpsertCredentialAsync(AdminActor.EverySite("ops"), SpareCard, new CredentialInput(Ev3, "p-lromano"))).IsOk);
    }

    /// <summary>Adds to the file's credentials (its last section) the spare card, bound to Martina Koch.</summary>
    private void DeclareSpareCardForMartina(bool adopt) =>
        File.AppendAllText(siteFile, $"\n  - card: \"{SpareCard}\"\n    technology: desfire-ev3\n    person: p-mkoch\n" + (adopt ? "    adopt: true\n" : ""));

    private Database OpenDatabase()
    {
        var database = new Database(new ServiceSettings { DataDirectory = folder.Path }.DatabasePath);
        database.Migrate();
        return database;
    }

    private static async Task AssertSuspendedAsync(CardReader lobby)
    {
        var contractor = await lobby.PresentCardAsync(Contractor, Ev2).WaitAsync(EdgeHarness.Timeout);
        var engineer = await lobby.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout);
        Assert.Equal((false, "credential_suspended"), (contractor.Grant, contractor.Reason));
        Assert.Equal((false, "credential_suspended"), (engineer.Grant, engineer.Reason));
    }

    private int starts;

    /// <summary>Each start ten minutes after the last: a reader's events of a new start are not taken for replays of the last one's.</summary>
    private Task<EdgeHarness> StartAsync() => EdgeHarness.StartAsync(
        now: EdgeHarness.BusinessHours + Duration.FromMinutes(10 * starts++), directory: folder.Path, configure: s => s with { SiteFile = siteFile });

    /// <summary>Takes a list item (its first line, up to the blank line after it) out of the site file.</summary>
    private void RemoveBlock(string firstLine)
    {
        var text = File.ReadAllText(siteFile);
        var start = text.IndexOf(firstLine + " ", StringComparison.Ordinal) is var spaced and >= 0 ? spaced : text.IndexOf(firstLine + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, firstLine);
        var end = text.IndexOf("\n\n", start, StringComparison.Ordinal) + 2;
        File.WriteAllText(siteFile, text.Remove(start, end - start));
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(File.ReadAllText(path))));
}

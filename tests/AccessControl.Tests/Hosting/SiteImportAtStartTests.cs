using AccessControl.EntryLog;
using AccessControl.SiteFiles;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using Microsoft.Data.Sqlite;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// The people, credentials and access levels of a site file are imported by the start that runs its pipeline, and by
/// the next one if that start failed before its import or during it: never lost, never imported (audited) twice.
/// </summary>
public sealed class SiteImportAtStartTests : IDisposable
{
    private static readonly SiteDefinition Demo = SiteFileLoader.Load(EdgeHarness.DemoSiteFile).Site!;

    private readonly DataFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-CM-3")]
    public async Task NewSiteFile_ItsCardholdersAreImportedByTheNextStartWithoutSite_WhenTheFirstStartFailed()
    {
        await SiteLoadRecordTests.FailFirstStartAsync(folder.Path);

        await using var edge = await StartWithoutSiteAsync();

        await AssertImportedOnceAsync(edge);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-CM-3")]
    public async Task AnImportThatFailedPartWay_IsCompletedByTheNextStart_AndWhatItHadDoneIsNotAuditedAgain()
    {
        await SiteLoadRecordTests.FailFirstStartAsync(folder.Path);
        // The database refuses credentials, as a full disk would, once the levels and people are in.
        Execute("CREATE TRIGGER full_disk BEFORE INSERT ON credentials BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
        await Assert.ThrowsAsync<InvalidOperationException>(StartWithoutSiteAsync);
        Execute("DROP TRIGGER full_disk");

        await using var edge = await StartWithoutSiteAsync();

        await AssertImportedOnceAsync(edge);
        // The file is small: one batch, whose records are stored in one transaction, so none of it was in force and
        // each of its rows is followed by one saying so.
        Assert.Equal(Demo.Credentials.Length, edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "credential.upsert.failed" }).Count);
        Assert.Equal(Demo.People.Length, edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "person.upsert.failed" }).Count);
    }

    private Task<EdgeHarness> StartWithoutSiteAsync() => EdgeHarness.StartAsync(directory: folder.Path, configure: s => s with { SiteFile = null });

    /// <summary>The file's operator is let in, everyone of the file is there, and each level and person was audited once, by the file.</summary>
    private static async Task AssertImportedOnceAsync(EdgeHarness edge)
    {
        var reader = await edge.ReaderAsync("rdr-dh1-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var stored = edge.Edge.Cardholders.LoadAll();
        Assert.All(Demo.People, p => Assert.True(stored.People.ContainsKey(p.Id), p.Id.Value));
        Assert.All(Demo.Credentials, c => Assert.True(stored.Credentials.ContainsKey(c.CardUid), c.CardUid));
        // A row a later one says failed (an import that stopped) made no change: the change is made, and audited, again.
        var failed = edge.Rows(new LogFilter { Kind = LogKinds.Admin }).Where(r => r.Reason!.EndsWith(".failed", StringComparison.Ordinal))
            .Select(r => System.Text.Json.JsonDocument.Parse(r.Detail!).RootElement.GetProperty("failedSeq").GetInt64()).ToHashSet();
        var people = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "person.upsert" }).Where(r => !failed.Contains(r.Seq)).ToList();
        Assert.Equal(Demo.People.Select(p => p.Id.Value).Order(), people.Select(r => r.PersonId!).Order());
        Assert.All(people, r => Assert.Equal("site-file:demo.yaml", r.Actor));
        Assert.Equal(Demo.AccessLevels.Length, edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "access_level.upsert" }).Count(r => !failed.Contains(r.Seq)));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "site.load" }));
    }

    private void Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(folder.Path, "accesscontrol.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

using AccessControl.EntryLog;
using AccessControl.Lab.Bench;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Tests.Bench;

/// <summary>
/// <c>bench --seed-rows</c> measures the service against a log of plausible history. That history must be a real log
/// (hash-chained through the service's own writer, so start-up, the index and verify treat it like any other), and it
/// must touch none of the devices and people the bench then uses.
/// </summary>
public sealed class LogSeedTests : IDisposable
{
    private static readonly Instant Now = Instant.FromUtc(2026, 11, 29, 8, 0);
    private readonly string directory = Directory.CreateTempSubdirectory("ac-seed-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void SeededLog_IsAWholeChainOfTheAskedRows_SpreadOverTheLastMonth()
    {
        var path = Path.Combine(directory, "accesscontrol.db");

        LogSeed.Write(path, 9_876, Now);

        var database = new Database(path);
        var verified = new LogVerifier(database).Verify();
        AccessControl.Tests.EntryLog.TestLog.AssertChainWholeButUnsigned(verified); // a seed is not signed
        Assert.Equal(9_876, verified.Rows);
        var rows = new EntryLogQuery(database).Find(new LogFilter { Limit = EntryLogQuery.MaxLimit });
        Assert.Equal(9_876, rows.Count);
        Assert.InRange(rows.Min(r => r.At), Now - Duration.FromDays(30), Now - Duration.FromDays(29));
        Assert.InRange(rows.Max(r => r.At), Now - Duration.FromDays(1), Now);
        Assert.Contains(rows, r => r.Kind == LogKinds.Door);
        Assert.Contains(rows, r => r.Decision == "grant");
        Assert.Contains(rows, r => r.Decision == "deny");
    }

    [Fact]
    public void SeededRows_UseDevicesAndPeopleOfTheirOwn_SoTheBenchStartsAsOnANewLog()
    {
        var path = Path.Combine(directory, "accesscontrol.db");

        LogSeed.Write(path, 3_000, Now);

        var rows = new EntryLogQuery(new Database(path)).Find(new LogFilter { Limit = 5_000 });
        Assert.All(rows, r =>
        {
            Assert.StartsWith("seed-", r.SiteId, StringComparison.Ordinal);
            Assert.Contains("/seed-", r.Source, StringComparison.Ordinal);
            Assert.True(r.PersonId is null || r.PersonId.StartsWith("p-seed-", StringComparison.Ordinal), r.PersonId);
        });
    }
}

using AccessControl.EntryLog;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// A row whose <c>detail</c> is not the JSON object the service writes (a database changed outside the service), among
/// the rows a start rebuilds its memory from (fire releases, fingerprint locks, escorted visitors): the start goes on,
/// without that row, and says which row it left out, rather than crash and keep every door shut for a cache.
/// </summary>
public sealed class TamperedDetailAtStartTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "ac-tampered-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static readonly Instant Before = EdgeHarness.BusinessHours - Duration.FromMinutes(1);

    public static TheoryData<string> Rows { get; } = new() { "fire release", "fingerprint lock", "escorted grant" };

    private static LogEntry Row(string which) => which switch
    {
        "fire release" => new LogEntry { At = Before, Kind = LogKinds.Safety, Reason = FireReasons.Release, SiteId = "demo", Detail = "{\"panel\":\"fire-panel-a\",\"doors\":" },
        "fingerprint lock" => new LogEntry { At = Before, Kind = LogKinds.Alarm, Reason = AlarmTypes.FingerprintFailures, SiteId = "demo", Card = "04A1B2C3", Detail = "[\"until\"]" },
        _ => new LogEntry
        {
            At = Before, Kind = LogKinds.Access, Decision = "grant", SiteId = "demo", ReaderId = "rdr-sr1-in", DoorId = "door-sr1", ZoneId = "demo-sr1",
            PersonId = "v-1", Detail = "{\"escort\": p-alice",
        },
    };

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [MemberData(nameof(Rows))]
    public async Task Start_WithARowItRebuildsFromWhoseDetailIsNotJson_StartsWithoutIt_AndNamesTheRowInAnError(string which)
    {
        string databasePath;
        await using (var first = await EdgeHarness.StartAsync(directory: directory))
        {
            databasePath = first.Edge.Database.Path;
        }

        var database = new Database(databasePath);
        long seq;
        using (var writer = new EntryLogWriter(database))
        {
            seq = writer.Append([Row(which)])[0].Seq;
        }

        database.CloseIdleConnections();

        var logs = new CapturingLoggerProvider();
        await using var edge = await EdgeHarness.StartAsync(directory: directory, logs: logs);

        Assert.Contains(logs.Lines, l => l.Contains($"The entry log's row {seq} has a detail that is not the JSON object the service writes", StringComparison.Ordinal)
            && l.Contains("accesscontrol log verify", StringComparison.Ordinal));
        Assert.False(edge.Edge.Pipeline.Fire.IsReleased);
    }
}

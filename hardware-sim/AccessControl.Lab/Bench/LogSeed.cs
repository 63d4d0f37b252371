using System.Globalization;
using AccessControl.EntryLog;
using AccessControl.Storage;
using NodaTime;

namespace AccessControl.Lab.Bench;

/// <summary>
/// Fills a new entry log with a month of plausible history before a bench: card swipes by 5,000 people at 40 readers
/// behind 20 doors on two sites, with door events between them, written through the service's own
/// <see cref="EntryLogWriter"/> (so they are hash-chained like any row). The devices and people are the seed's own
/// (<c>seed-*</c>): the bench's readers, their seqs and the demo card's anti-passback state start as on a new log.
/// </summary>
public static class LogSeed
{
    private const int People = 5_000;
    private const int Readers = 40;
    private const int BatchRows = 5_000;

    public static void Write(string databasePath, int rows, Instant now)
    {
        var database = new Database(databasePath);
        database.Migrate();
        using var writer = new EntryLogWriter(database);
        var random = new Random(20261129);
        var start = now - Duration.FromDays(30);
        var step = Duration.FromDays(30) / Math.Max(rows, 1);
        var deviceSeqs = new long[Readers + Readers / 2];
        var batch = new List<LogEntry>(BatchRows);
        for (var i = 0; i < rows; i++)
        {
            var at = start + step * i;
            var reader = random.Next(Readers);
            var door = reader / 2;
            var site = door < 10 ? "seed-dc1" : "seed-dc2";
            if (i % 5 == 4)
            {
                var controller = Readers + door % (Readers / 2);
                batch.Add(new LogEntry
                {
                    At = at, Kind = LogKinds.Door, SiteId = site, DoorId = $"seed-door-{door}", Source = $"doors/seed-ctl-{door}",
                    EventId = $"seed-{i:x}", DeviceSeq = ++deviceSeqs[controller], DeviceAt = at, Reason = i % 10 == 4 ? "opened" : "closed",
                });
            }
            else
            {
                var grant = random.Next(10) != 0;
                batch.Add(new LogEntry
                {
                    At = at, Kind = LogKinds.Access, SiteId = site, ReaderId = $"seed-rdr-{reader}", DoorId = $"seed-door-{door}",
                    ZoneId = $"seed-zone-{door}", PersonId = "p-seed-" + random.Next(People).ToString(CultureInfo.InvariantCulture),
                    Card = random.NextInt64().ToString("X14", CultureInfo.InvariantCulture)[..14], Source = $"readers/seed-rdr-{reader}",
                    EventId = $"seed-{i:x}", DeviceSeq = ++deviceSeqs[reader], DeviceAt = at,
                    Decision = grant ? "grant" : "deny", Reason = grant ? "granted" : "no_access_to_zone", UnlockSeconds = grant ? 5 : null,
                    Detail = """{"technology":"desfire-ev3"}""",
                });
            }

            if (batch.Count == BatchRows)
            {
                writer.Append(batch);
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            writer.Append(batch);
        }
    }
}

using AccessControl.EntryLog;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// A range of the time rows happened (<see cref="LogTime.Happened"/>): a swipe a reader buffered while cut off and
/// replayed later is found at the device's time of it, not at the time the service recorded it; through the index,
/// past its watermark and without one alike.
/// </summary>
public sealed class HappenedTimeQueryTests : IDisposable
{
    private static readonly Instant October = Instant.FromUtc(2025, 10, 1, 0, 0);
    private static readonly Instant November = Instant.FromUtc(2025, 11, 1, 0, 0);

    private readonly TestLog log = TestLog.Create();
    private readonly LogIndex index;

    public HappenedTimeQueryTests() => index = new LogIndex(log.Database);

    public void Dispose()
    {
        index.Dispose();
        log.Dispose();
    }

    /// <summary>Where the rows are: no index file (the log alone), all indexed, or written after the index's last round.</summary>
    public static TheoryData<string> IndexStates => ["no index", "indexed", "past the watermark"];

    [Theory]
    [MemberData(nameof(IndexStates))]
    [Trait("control", "NIST-AU-6")]
    public void AHappenedRange_FindsASwipeBufferedTheNightBefore_ThatTheRecordedRangeMisses(string state)
    {
        var (october, buffered, november) = AppendTheNightOfTheOutage(state);

        var recordedInOctober = Seqs(new LogFilter { From = October, To = November, DoorId = "door-sr1" });
        var happenedInOctober = Seqs(new LogFilter { From = October, To = November, DoorId = "door-sr1", Time = LogTime.Happened });
        var happenedInNovember = Seqs(new LogFilter { From = November, DoorId = "door-sr1", Time = LogTime.Happened });

        Assert.Equal([october], recordedInOctober); // the buffered swipe was recorded on November 1st
        Assert.Equal([october, buffered], happenedInOctober);
        Assert.Equal([november], happenedInNovember);
    }

    [Theory]
    [MemberData(nameof(IndexStates))]
    [Trait("control", "NIST-AU-6")]
    public void AHappenedRange_PlacesARefusedReplayAtItsRecordedTime_NotAtTheYearsOffTimeItClaimed(string state)
    {
        var recordedAt = Instant.FromUtc(2025, 10, 15, 12, 0);
        var refused = Append(state, new LogEntry
        {
            At = recordedAt, Kind = LogKinds.Access, SiteId = "dc1", DoorId = "door-sr1", ReaderId = "rdr-sr1-in", PersonId = "p-1",
            Source = "readers/rdr-sr1-in", EventId = "ev-old", DeviceAt = Instant.FromUtc(2019, 6, 1, 3, 0), Offline = true,
            Decision = "deny", Reason = "replay_suspected",
        });

        Assert.Equal([refused], Seqs(new LogFilter { From = October, To = November, Time = LogTime.Happened }));
        Assert.Empty(Seqs(new LogFilter { From = Instant.FromUtc(2019, 1, 1, 0, 0), To = Instant.FromUtc(2020, 1, 1, 0, 0), Time = LogTime.Happened }));
    }

    [Theory]
    [MemberData(nameof(IndexStates))]
    [Trait("control", "NIST-AU-6")]
    public void PagingAHappenedRangeByItsCursor_GivesEachRowOnce_InLogOrder(string state)
    {
        var (october, buffered, _) = AppendTheNightOfTheOutage(state);
        var filter = new LogFilter { From = October, To = November, Time = LogTime.Happened, Limit = 1 };

        var seen = new List<long>();
        for (var page = Seqs(filter); page.Count > 0; page = Seqs(filter with { AfterSeq = seen[^1] }))
        {
            seen.AddRange(page);
        }

        Assert.Equal([october, buffered], seen);
    }

    [Fact]
    public void TheIndex_HoldsWhenEachRowHappened_AsTheLogSaysIt()
    {
        AppendTheNightOfTheOutage("indexed");

        var check = index.Check();

        Assert.NotNull(check);
        Assert.Equal(0, check.Differing);
    }

    [Theory]
    [InlineData(null, "ix_log_index_happened")]
    [InlineData("site", "ix_log_index_site_happened")]
    [InlineData("door", "ix_log_index_door_happened")]
    [InlineData("person", "ix_log_index_person_happened")]
    public void AHappenedRange_IsAnsweredThroughItsIndex_NotByReadingTheWholeLog(string? also, string expectedIndex)
    {
        AppendTheNightOfTheOutage("indexed");
        var filter = new LogFilter
        {
            From = October, To = November, Time = LogTime.Happened,
            SiteId = also == "site" ? "dc1" : null, DoorId = also == "door" ? "door-sr1" : null, PersonId = also == "person" ? "p-1" : null,
        };
        using var snapshot = LogSnapshot.Open(log.Database);
        using var command = EntryLogQuery.IndexedCommand(snapshot, filter);
        command.CommandText = "EXPLAIN QUERY PLAN " + command.CommandText;

        var plan = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.Contains(plan, line => line.StartsWith("SEARCH i ", StringComparison.Ordinal)
            && line.Contains($"INDEX {expectedIndex} (", StringComparison.Ordinal) && line.Contains("happened_at>? AND happened_at<?", StringComparison.Ordinal));
        Assert.DoesNotContain(plan, line => line.StartsWith("SCAN", StringComparison.Ordinal));
    }

    /// <summary>
    /// Server room door-sr1: a live swipe on October 31st, one its reader buffered at 23:50 that night and replayed when
    /// it came back at 08:00 on November 1st, and a live one just after. Returns their seqs.
    /// </summary>
    private (long October, long Buffered, long November) AppendTheNightOfTheOutage(string state)
    {
        var night = Instant.FromUtc(2025, 10, 31, 23, 50);
        var morning = Instant.FromUtc(2025, 11, 1, 8, 0);
        var october = Append(state, Swipe(night - Duration.FromHours(2), night - Duration.FromHours(2), offline: false, "ev-1"));
        var buffered = Append(state, Swipe(morning, night, offline: true, "ev-2"));
        var november = Append(state, Swipe(morning + Duration.FromMinutes(1), morning + Duration.FromMinutes(1), offline: false, "ev-3"));
        return (october, buffered, november);
    }

    private static LogEntry Swipe(Instant at, Instant deviceAt, bool offline, string eventId) => new()
    {
        At = at, Kind = LogKinds.Access, SiteId = "dc1", DoorId = "door-sr1", ReaderId = "rdr-sr1-in", PersonId = "p-1", Card = "0A0B0C",
        Source = "readers/rdr-sr1-in", EventId = eventId, DeviceAt = deviceAt, Offline = offline, Decision = "grant", Reason = "granted",
    };

    /// <summary>Appends a row, and brings the index up to it, or leaves it behind, as <paramref name="state"/> says.</summary>
    private long Append(string state, LogEntry entry)
    {
        if (state == "past the watermark")
        {
            index.CatchUpFully();
        }

        var seq = log.Writer.Append([entry]).Single().Seq;
        if (state == "indexed")
        {
            index.CatchUpFully();
        }

        return seq;
    }

    private List<long> Seqs(LogFilter filter)
    {
        return [.. new EntryLogQuery(log.Database).Find(filter).Select(r => r.Seq)];
    }
}

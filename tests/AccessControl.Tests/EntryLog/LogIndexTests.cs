using AccessControl.EntryLog;
using AccessControl.Events;
using Dapper;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// The entry log's query index lives in a file of its own, filled in the background (LogIndex). Whatever state it is in
/// (behind, missing, damaged, of another log), a query gives exactly the rows the log itself holds.
/// </summary>
public sealed class LogIndexTests : IDisposable
{
    private static readonly string[] Sites = ["dc1", "dc2"];
    private static readonly string[] Doors = ["door-hall-a", "door-hall-b", "door-sr1"];

    private readonly TestLog log = TestLog.Create();
    private const string EscortedBy = "{\"escort\":\"";

    private readonly LogIndex index;
    private readonly List<(long Seq, string Escort)> escorted = [];
    private int next;

    public LogIndexTests()
    {
        index = new LogIndex(log.Database);
        AppendVaried(200);
    }

    public void Dispose()
    {
        index.Dispose();
        log.Dispose();
    }

    /// <summary>Filters over every indexed column and the others, alone and combined, with ranges that cut through the log.</summary>
    public static TheoryData<string> FilterNames => [.. Filters().Keys];

    [Fact]
    public void CatchUp_CopiesEveryCommittedRow_AndRecordsItsWatermark()
    {
        var round = index.CatchUp();

        Assert.True(round.Rebuilt); // there was no index yet
        Assert.Equal(log.Writer.HeadSeq, round.Watermark);
        Assert.Equal(log.Writer.HeadSeq, round.Copied);
        Assert.Equal(0, index.CatchUp().Copied);
        using var snapshot = LogSnapshot.Open(log.Database);
        Assert.Equal(log.Writer.HeadSeq, snapshot.Watermark);
    }

    [Fact]
    public void CatchUp_CopiesAtMostOneBatchPerRound_AndCatchUpFullyRunsRoundsUntilTheHead()
    {
        var first = index.CatchUp(batchRows: 50);
        Assert.Equal(50, first.Copied);
        Assert.Equal(50, first.Watermark);

        var rest = index.CatchUpFully(batchRows: 50);

        Assert.Equal(log.Writer.HeadSeq - 50, rest.Copied);
        Assert.Equal(log.Writer.HeadSeq, rest.Watermark);
    }

    [Theory]
    [MemberData(nameof(FilterNames))]
    [Trait("control", "NIST-AU-6")]
    public void Find_GivesTheRowsOfAScan_WhenTheIndexIsBehindTheLog(string name)
    {
        var filter = Filters()[name];
        var scanned = Ids(new EntryLogQuery(log.Database).Find(filter)); // no index file yet: the log alone

        index.CatchUp(batchRows: 120); // the index holds the first 120 rows; the rest are past its watermark

        var found = Ids(new EntryLogQuery(log.Database).Find(filter));
        Assert.NotEmpty(scanned);
        Assert.Equal(scanned, found);
    }

    [Theory]
    [MemberData(nameof(FilterNames))]
    [Trait("control", "NIST-AU-6")]
    public void Find_GivesTheRowsOfAScan_WhenTheIndexHoldsTheWholeLog(string name)
    {
        var filter = Filters()[name];
        var scanned = Ids(new EntryLogQuery(log.Database).Find(filter));

        index.CatchUpFully();

        Assert.Equal(scanned, Ids(new EntryLogQuery(log.Database).Find(filter)));
    }

    [Fact]
    public void Find_SeesARowTheMomentItIsCommitted_BeforeAnyRoundIndexesIt()
    {
        index.CatchUpFully();
        var written = log.Writer.Append([new LogEntry { At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Access, SiteId = "dc1", PersonId = "p-new", Decision = "grant", Reason = "granted" }]);

        var found = new EntryLogQuery(log.Database).Find(new LogFilter { PersonId = "p-new", From = log.Clock.GetCurrentInstant() - Duration.FromMinutes(1) });

        Assert.Equal(written.Single().Seq, Assert.Single(found).Seq);
    }

    [Fact]
    public void Find_WithALimit_TakesTheIndexedRowsFirst_ThenTheRowsPastTheWatermark_InLogOrder()
    {
        index.CatchUp(batchRows: 150);
        var all = Ids(new EntryLogQuery(log.Database).Find(new LogFilter { SiteId = "dc1", Limit = EntryLogQuery.MaxLimit }));

        var pages = new List<long>();
        long? after = null;
        while (true)
        {
            var page = new EntryLogQuery(log.Database).Find(new LogFilter { SiteId = "dc1", AfterSeq = after, Limit = 7 });
            if (page.Count == 0)
            {
                break;
            }

            pages.AddRange(page.Select(r => r.Seq));
            after = page[^1].Seq;
        }

        Assert.Equal(all, pages);
        Assert.Contains(all, seq => seq <= 150);
        Assert.Contains(all, seq => seq > 150);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void AnIndexOfAnotherLog_IsNotUsed_AndTheNextRoundRebuildsIt()
    {
        index.CatchUpFully();
        var filter = new LogFilter { PersonId = "p-3" };
        var before = Ids(new EntryLogQuery(log.Database).Find(filter));
        Assert.NotEmpty(before);

        // The database is replaced by another log (a restore, a copy from another edge): same seqs, other rows.
        using (var other = TestLog.Create(rows: 250))
        {
            using (var connection = other.Database.Open())
            {
                TestLog.Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE)");
            }

            log.Writer.Dispose();
            SqliteConnection.ClearAllPools();
            File.Copy(other.Database.Path, log.Database.Path, overwrite: true);
            File.Delete(log.Database.Path + "-wal");
            File.Delete(log.Database.Path + "-shm");
        }

        using (var snapshot = LogSnapshot.Open(log.Database))
        {
            Assert.Equal(0, snapshot.Watermark);
        }

        var scanned = Ids(new EntryLogQuery(log.Database).Find(filter));
        var round = index.CatchUp();

        Assert.True(round.Rebuilt);
        Assert.Contains("replaced or restored", round.Why, StringComparison.Ordinal);
        Assert.Equal(scanned, Ids(new EntryLogQuery(log.Database).Find(filter)));
        Assert.NotEqual(before, scanned);
    }

    [Fact]
    public void BetweenRounds_TheIndexFileStaysOpen_SoItsWalIsNotMovedAndDeletedEverySecond_AndDisposeMovesIt()
    {
        index.CatchUpFully();
        AppendVaried(50);
        index.CatchUp();

        var keptBetweenRounds = File.Exists(index.Path + "-wal") && new FileInfo(index.Path + "-wal").Length > 0;
        index.Dispose();

        Assert.True(keptBetweenRounds);
        Assert.False(File.Exists(index.Path + "-wal") && new FileInfo(index.Path + "-wal").Length > 0);
        using var snapshot = LogSnapshot.Open(log.Database);
        Assert.Equal(log.Writer.HeadSeq, snapshot.Watermark);
    }

    [Theory]
    [InlineData("overwritten with another index file")]
    [InlineData("deleted alone")]
    [Trait("control", "NIST-AU-9")]
    public void AnIndexFileChangedBehindTheService_IsBuiltAgain_NeverReadWithTheWalItKeptBetweenRounds(string change)
    {
        index.CatchUpFully();
        AppendVaried(120);
        index.CatchUp(); // these rows now sit in the index's WAL, beside the file
        var filter = new LogFilter { PersonId = "p-2" };
        var expected = Ids(new EntryLogQuery(log.Database).Find(filter));

        if (change == "deleted alone")
        {
            File.Delete(index.Path);
        }
        else
        {
            // Another edge's index, whole (its WAL moved into it): with our WAL beside it, SQLite would read a mixture.
            using var other = TestLog.Create(rows: 250);
            using (var otherIndex = new LogIndex(other.Database))
            {
                otherIndex.CatchUpFully();
            }

            File.Copy(LogIndex.PathFor(other.Database), index.Path, overwrite: true);
        }

        var round = index.CatchUp();

        Assert.True(round.Rebuilt);
        Assert.Equal("the index file was changed or removed outside the service", round.Why);
        Assert.Equal(log.Writer.HeadSeq, round.Watermark);
        Assert.Equal(0, index.Check()!.Differing);
        Assert.Equal(expected, Ids(new EntryLogQuery(log.Database).Find(filter)));
    }

    [Fact]
    public void ADamagedIndexFile_IsNotUsed_AndTheNextRoundBuildsItAgain()
    {
        index.CatchUpFully();
        index.Dispose(); // damaged while the service is stopped; a change while it runs is the test above
        var filter = new LogFilter { DoorId = "door-sr1" };
        var expected = Ids(new EntryLogQuery(log.Database).Find(filter));
        SqliteConnection.ClearAllPools();
        File.WriteAllBytes(index.Path, [.. Enumerable.Repeat((byte)0x5A, 8192)]);
        File.Delete(index.Path + "-wal");
        File.Delete(index.Path + "-shm");

        Assert.Equal(expected, Ids(new EntryLogQuery(log.Database).Find(filter)));
        var round = index.CatchUp();

        Assert.True(round.Rebuilt);
        Assert.Contains("damaged", round.Why, StringComparison.Ordinal);
        Assert.Equal(log.Writer.HeadSeq, round.Watermark);
        Assert.Equal(expected, Ids(new EntryLogQuery(log.Database).Find(filter)));
    }

    [Fact]
    public void AnIndexFileDeletedWhileAQueryHasItOpen_IsBuiltAgainByTheNextRound()
    {
        index.CatchUpFully();
        var filter = new LogFilter { PersonId = "p-1" };
        var expected = Ids(new EntryLogQuery(log.Database).Find(filter));
        using var reading = LogSnapshot.Open(log.Database);
        Assert.True(reading.Indexed);

        File.Delete(index.Path);
        File.Delete(index.Path + "-wal");
        File.Delete(index.Path + "-shm");
        var round = index.CatchUpFully();

        Assert.True(round.Rebuilt);
        Assert.Equal(log.Writer.HeadSeq, round.Watermark);
        using (var after = LogSnapshot.Open(log.Database))
        {
            Assert.Equal(log.Writer.HeadSeq, after.Watermark);
        }

        Assert.Equal(expected, Ids(new EntryLogQuery(log.Database).Find(filter)));
    }

    [Fact]
    public void AnIndexOfAnotherSchemaVersion_IsRebuilt()
    {
        index.CatchUpFully();
        index.Dispose(); // an index file left by another version, found at start
        using (var connection = new SqliteConnection($"Data Source={index.Path};Pooling=False"))
        {
            connection.Open();
            TestLog.Execute(connection, "UPDATE index_meta SET schema_version = 0");
        }

        using (var snapshot = LogSnapshot.Open(log.Database))
        {
            Assert.Equal(0, snapshot.Watermark);
        }

        var round = index.CatchUp();

        Assert.True(round.Rebuilt);
        Assert.Contains("schema version 0", round.Why, StringComparison.Ordinal);
        Assert.Equal(log.Writer.HeadSeq, round.Copied);
    }

    [Fact]
    [Trait("control", "NIST-PE-8")]
    [Trait("control", "PCI-9.3.4")]
    public void FindByEscort_GivesTheRowsNamingThemAsEscort_NotTheirOwn_WhetherIndexedOrPastTheWatermark()
    {
        var expected = escorted.Where(e => e.Escort == "p-1").Select(e => e.Seq).ToList();
        var filter = new LogFilter { Escort = "p-1", Limit = EntryLogQuery.MaxLimit };

        var scanned = Ids(new EntryLogQuery(log.Database).Find(filter));
        index.CatchUp(batchRows: 120);
        var half = Ids(new EntryLogQuery(log.Database).Find(filter));
        index.CatchUpFully();
        var whole = Ids(new EntryLogQuery(log.Database).Find(filter));

        Assert.Contains(expected, seq => seq <= 120);
        Assert.Contains(expected, seq => seq > 120);
        Assert.Equal(expected, scanned);
        Assert.Equal(expected, half);
        Assert.Equal(expected, whole);
        // p-1 is also the person of rows that name no escort, and of rows whose detail says "escort" in other ways.
        Assert.Contains(new EntryLogQuery(log.Database).Find(new LogFilter { PersonId = "p-1" }), r => !expected.Contains(r.Seq));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void AnIndexWhoseEscortWasAltered_IsFoundByTheCheck()
    {
        index.CatchUpFully();
        var row = escorted[3].Seq;
        index.Dispose();
        using (var connection = new SqliteConnection($"Data Source={index.Path};Pooling=False"))
        {
            connection.Open();
            TestLog.Execute(connection, $"UPDATE log_index SET escort_id = 'p-else' WHERE seq = {row}");
        }

        using var reopened = new LogIndex(log.Database);
        var check = reopened.Check()!;

        Assert.Equal((1, row), (check.Differing, check.FirstDifferingSeq));
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "NIST-PE-8")]
    public void AnIndexOfSchemaVersion2_IsNotUsed_AndIsRebuiltWithTheEscorts_EveryFilterAnsweringAsTheLogItself()
    {
        var truth = Filters().ToDictionary(f => f.Key, f => Ids(new EntryLogQuery(log.Database).Find(f.Value))); // no index yet
        index.CatchUpFully();
        index.Dispose();

        // The file as version 2 left it: the same tables without the escort column and its index.
        using (var connection = new SqliteConnection($"Data Source={index.Path};Pooling=False"))
        {
            connection.Open();
            TestLog.Execute(connection, "DROP INDEX ix_log_index_escort_at; ALTER TABLE log_index DROP COLUMN escort_id; UPDATE index_meta SET schema_version = 2");
        }

        using (var snapshot = LogSnapshot.Open(log.Database))
        {
            Assert.Equal(0, snapshot.Watermark);
        }

        var withTheOldFile = Filters().ToDictionary(f => f.Key, f => Ids(new EntryLogQuery(log.Database).Find(f.Value)));
        using var upgraded = new LogIndex(log.Database);
        var round = upgraded.CatchUpFully();

        Assert.True(round.Rebuilt);
        Assert.Equal($"the index was of schema version 2, not {LogIndex.SchemaVersion}", round.Why);
        Assert.Equal(log.Writer.HeadSeq, round.Copied);
        Assert.Equal(0, upgraded.Check()!.Differing);
        foreach (var (name, filter) in Filters())
        {
            Assert.True(truth[name].SequenceEqual(withTheOldFile[name]), name);
            Assert.True(truth[name].SequenceEqual(Ids(new EntryLogQuery(log.Database).Find(filter))), name);
        }

        using var after = LogSnapshot.Open(log.Database);
        Assert.Equal(log.Writer.HeadSeq, after.Watermark);
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    public void PurgedRows_LeaveTheIndex_AndTheIndexStaysUsable()
    {
        index.CatchUpFully();
        log.Writer.Checkpoint();
        var cutOff = TestLog.Start + Duration.FromMinutes(10);

        // The purge stops before the first row recorded at or after the cut-off; this log's clock stepped back, so
        // older-dated rows after it stay (LogSnapshot.LastSeqBefore).
        var expectedBound = new EntryLogQuery(log.Database).Find(new LogFilter { Limit = EntryLogQuery.MaxLimit }).Where(r => r.At >= cutOff).Min(r => r.Seq) - 1;

        var purge = log.PurgeAYearOn(cutOff);
        var round = index.CatchUp();

        Assert.Equal(LogPurgeOutcome.Purged, purge.Outcome);
        Assert.Equal(expectedBound, purge.ToSeq);
        Assert.Equal(purge.Rows, round.Dropped);
        Assert.All(new EntryLogQuery(log.Database).Find(new LogFilter { To = cutOff, Limit = EntryLogQuery.MaxLimit }), r => Assert.True(r.Seq > expectedBound));
        using var snapshot = LogSnapshot.Open(log.Database);
        Assert.True(snapshot.Indexed);
    }

    [Fact]
    public void TheSwipesCommit_UpdatesNoQueryIndex_OnlyTheRedeliveryIndexAndTwoPartialOnes()
    {
        using var connection = log.Database.OpenReadOnly();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entry_log' AND sql IS NOT NULL ORDER BY name";
        var names = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                names.Add(reader.GetString(0));
            }
        }

        // A new index here costs every swipe's commit its pages: put it in LogIndex instead (docs/benchmarks.md).
        Assert.Equal(["ix_entry_log_device_seq_reset", "ix_entry_log_fire", "ux_entry_log_source_event"], names);
    }

    [Theory]
    [InlineData("person", "ix_log_index_person_at")]
    [InlineData("door", "ix_log_index_door_at")]
    [InlineData("escort", "ix_log_index_escort_at")]
    public void AFilterOnPersonDoorOrEscort_IsAnsweredThroughItsIndex(string column, string expectedIndex)
    {
        index.CatchUpFully();
        using var snapshot = LogSnapshot.Open(log.Database);
        using var command = snapshot.Command($"EXPLAIN QUERY PLAN SELECT i.seq FROM ix.log_index i CROSS JOIN entry_log e ON e.seq = i.seq WHERE i.seq <= 1000 AND i.{column}_id = 'x' AND i.at >= 0 ORDER BY i.seq LIMIT 10");
        var plan = new List<string>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.Contains(plan, line => line.Contains(expectedIndex, StringComparison.Ordinal));
    }

    [Fact]
    public void FirstSeqSince_IsTheFirstRowAtOrAfterTheInstant_EvenWhenTheClockSteppedBack()
    {
        var since = log.Clock.GetCurrentInstant();
        log.Clock.Advance(Duration.FromMinutes(5));
        var late = log.Writer.Append([new LogEntry { At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Reason = "late" }]).Single();
        log.Clock.Advance(Duration.FromMinutes(-10)); // the service's clock was corrected backwards
        log.Writer.Append([new LogEntry { At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Reason = "earlier" }]);

        long? scanned;
        using (var snapshot = LogSnapshot.Open(log.Database))
        {
            scanned = snapshot.FirstSeqSince(since);
        }

        index.CatchUpFully();
        using var indexed = LogSnapshot.Open(log.Database);
        Assert.True(indexed.Indexed);
        Assert.Equal(late.Seq, scanned);
        Assert.Equal(late.Seq, indexed.FirstSeqSince(since));
        Assert.Null(indexed.FirstSeqSince(log.Clock.GetCurrentInstant() + Duration.FromHours(1)));
    }

    [Fact]
    [Trait("control", "NIST-SC-23")]
    public void DeviceSeqBaselines_AreTheSameReadThroughTheIndexAsFromTheLogAlone()
    {
        var scanned = DeviceSeqBaselines.Load(log.Database, window: 16);

        index.CatchUp(batchRows: 100);
        var half = DeviceSeqBaselines.Load(log.Database, window: 16);
        index.CatchUpFully();
        var whole = DeviceSeqBaselines.Load(log.Database, window: 16);

        Assert.NotEmpty(scanned);
        foreach (var loaded in new[] { half, whole })
        {
            Assert.Equal(scanned.Keys.Order(), loaded.Keys.Order());
            foreach (var (source, seqs) in scanned)
            {
                Assert.Equal(seqs.Order(), loaded[source].Order());
            }
        }
    }

    /// <summary>
    /// What start-up rebuilds replay protection from, compared with the log read row by row here: while the index is
    /// rebuilt (none), part built (a device's reset past its watermark), or whole with rows past it since the reset.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-SC-23")]
    public void DeviceSeqBaselines_AreEachDevicesSeqsWithinItsWindowSinceItsLastReset_WhateverTheIndexHolds()
    {
        const int Window = 16;
        index.CatchUp(batchRows: 100);
        Reset("readers/rdr-door-hall-a", baseline: 3);
        Reset("doors/door-sr1", baseline: null);
        AppendVaried(40);
        Reset("readers/rdr-door-hall-b", baseline: 7);

        var rebuilding = ScanOnly(() => DeviceSeqBaselines.Load(log.Database, Window));
        var partBuilt = DeviceSeqBaselines.Load(log.Database, Window);
        var expectedBefore = ExpectedBaselines(Window);
        index.CatchUpFully();
        Reset("readers/rdr-door-sr1", baseline: 1);
        AppendVaried(20);
        var pastTheWatermark = DeviceSeqBaselines.Load(log.Database, Window);
        var expectedAfter = ExpectedBaselines(Window);

        using var snapshot = LogSnapshot.Open(log.Database);
        Assert.True(snapshot.Indexed && snapshot.Watermark < log.Writer.HeadSeq);
        Assert.Contains("readers/rdr-door-hall-a", expectedBefore.Keys);
        foreach (var (expected, loaded) in new[] { (expectedBefore, rebuilding), (expectedBefore, partBuilt), (expectedAfter, pastTheWatermark) })
        {
            Assert.Equal(expected.Keys.Order(), loaded.Keys.Order());
            foreach (var (source, seqs) in expected)
            {
                Assert.Equal(seqs, loaded[source].Order());
            }
        }
    }

    [Fact]
    public void Lag_SaysHowFarBehindTheLogTheIndexIs_AndWhyItMustBeBuiltAgain()
    {
        var none = index.Lag();
        index.CatchUp(batchRows: 50);
        var behind = index.Lag();
        index.CatchUpFully();
        var current = index.Lag();
        index.Dispose();
        SqliteConnection.ClearAllPools();
        using (var connection = new SqliteConnection($"Data Source={index.Path};Pooling=False"))
        {
            connection.Open();
            using var downgrade = connection.CreateCommand();
            downgrade.CommandText = "UPDATE index_meta SET schema_version = 2";
            downgrade.ExecuteNonQuery();
        }

        var older = index.Lag();

        Assert.Equal(new LogIndexLag(0, log.Writer.HeadSeq, "there was no index yet"), none);
        Assert.Equal(new LogIndexLag(50, log.Writer.HeadSeq - 50, null), behind);
        Assert.Equal(new LogIndexLag(log.Writer.HeadSeq, 0, null), current);
        Assert.Equal(new LogIndexLag(0, log.Writer.HeadSeq, $"the index was of schema version 2, not {LogIndex.SchemaVersion}"), older);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void TheNewestGrantOfEachPersonAtEachReader_IsTheSameReadThroughTheIndexAsFromTheLogAlone_AlsoAfterAPurge()
    {
        var scanned = PassbackHistory.LatestGrants(log.Database).Order().ToList();

        index.CatchUp(batchRows: 100);
        var half = PassbackHistory.LatestGrants(log.Database).Order().ToList();
        index.CatchUpFully();
        var whole = PassbackHistory.LatestGrants(log.Database).Order().ToList();

        Assert.True(scanned.Count > 5);
        Assert.Equal(scanned, half);
        Assert.Equal(scanned, whole);

        log.Writer.Checkpoint();
        Assert.Equal(LogPurgeOutcome.Purged, log.PurgeAYearOn(TestLog.Start + Duration.FromMinutes(12)).Outcome);
        // The index has not seen the purge yet: its grants up to the purge bound must not count.
        var purgedScan = ScanOnly(() => PassbackHistory.LatestGrants(log.Database).Order().ToList());
        Assert.NotEqual(scanned, purgedScan);
        Assert.Equal(purgedScan, PassbackHistory.LatestGrants(log.Database).Order().ToList());
        index.CatchUp();
        Assert.Equal(purgedScan, PassbackHistory.LatestGrants(log.Database).Order().ToList());
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void TheNewestGrantOfEachPersonAtEachReader_IsTheirLiveGrantOfTheHighestSeq_WhateverTheIndexHolds()
    {
        // Offline replays and denies newer than a person's grant at a reader, and the clock stepped back: only the seq
        // of a live grant says which is newest.
        index.CatchUp(batchRows: 100);
        AppendGrants(offline: true);
        var rebuilding = ScanOnly(() => PassbackHistory.LatestGrants(log.Database).Order().ToList());
        var partBuilt = PassbackHistory.LatestGrants(log.Database).Order().ToList();
        var expectedBefore = ExpectedLatestGrants();
        index.CatchUpFully();
        log.Clock.Advance(Duration.FromMinutes(-30));
        AppendGrants(offline: false);
        AppendGrants(offline: true);
        var pastTheWatermark = PassbackHistory.LatestGrants(log.Database).Order().ToList();

        using var snapshot = LogSnapshot.Open(log.Database);
        Assert.True(snapshot.Indexed && snapshot.Watermark < log.Writer.HeadSeq);
        Assert.True(expectedBefore.Count > 5);
        Assert.Equal(expectedBefore, rebuilding);
        Assert.Equal(expectedBefore, partBuilt);
        Assert.Equal(ExpectedLatestGrants(), pastTheWatermark);
        Assert.NotEqual(expectedBefore, pastTheWatermark);
    }

    private static Dictionary<string, LogFilter> Filters()
    {
        var t = TestLog.Start;
        return new()
        {
            ["time range"] = new LogFilter { From = t + Duration.FromMinutes(8), To = t + Duration.FromMinutes(18) },
            ["from only"] = new LogFilter { From = t + Duration.FromMinutes(12) },
            ["to only"] = new LogFilter { To = t + Duration.FromMinutes(10) },
            ["site"] = new LogFilter { SiteId = "dc2" },
            ["door"] = new LogFilter { DoorId = "door-sr1" },
            ["person"] = new LogFilter { PersonId = "p-3" },
            ["person and range"] = new LogFilter { PersonId = "p-2", From = t + Duration.FromMinutes(4), To = t + Duration.FromMinutes(20) },
            ["site, door and decision"] = new LogFilter { SiteId = "dc1", DoorId = "door-hall-b", Decision = "deny" },
            ["site and reader"] = new LogFilter { SiteId = "dc2", ReaderId = "rdr-door-sr1" },
            ["site and kind"] = new LogFilter { SiteId = "dc1", Kind = LogKinds.Door },
            ["range and reason"] = new LogFilter { From = t + Duration.FromMinutes(6), Reason = "granted" },
            ["door with a small limit"] = new LogFilter { DoorId = "door-hall-a", Limit = 5 },
            ["site after a seq"] = new LogFilter { SiteId = "dc1", AfterSeq = 130 },
            ["reason alone (not indexed)"] = new LogFilter { Reason = "granted" },
            ["escort"] = new LogFilter { Escort = "p-1" },
            ["escort, range and decision"] = new LogFilter { Escort = "p-2", From = t + Duration.FromMinutes(4), To = t + Duration.FromMinutes(20), Decision = "grant" },
            ["escort and site after a seq"] = new LogFilter { Escort = "p-2", SiteId = "dc2", AfterSeq = 100 },
            ["escort with a small limit"] = new LogFilter { Escort = "p-2", Limit = 5 },
            ["happened range"] = new LogFilter { From = t + Duration.FromMinutes(8), To = t + Duration.FromMinutes(18), Time = LogTime.Happened },
            ["door and happened range"] = new LogFilter { DoorId = "door-sr1", From = t + Duration.FromMinutes(4), Time = LogTime.Happened },
        };
    }

    /// <summary>Runs a read with the index file out of the way: what the log alone says.</summary>
    private T ScanOnly<T>(Func<T> read)
    {
        SqliteConnection.ClearAllPools();
        var aside = index.Path + ".aside";
        File.Move(index.Path, aside);
        try
        {
            return read();
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            File.Move(aside, index.Path);
        }
    }

    /// <summary>An operator's reset of a device's seq baseline, as the admin route writes it.</summary>
    private void Reset(string source, long? baseline) =>
        log.Writer.Append([new LogEntry { At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Reason = DeviceSeqBaselines.ResetReason, Source = source, DeviceSeq = baseline, Actor = "test" }]);

    /// <summary>Per device, the seqs since its last reset that are within <paramref name="window"/> of its highest: from every row of the log.</summary>
    private Dictionary<string, List<long>> ExpectedBaselines(int window)
    {
        using var connection = log.Database.OpenReadOnly();
        var rows = connection.Query<(long Seq, string? Source, long? DeviceSeq, string? Reason)>("SELECT seq, source, device_seq, reason FROM entry_log").ToList();
        var expected = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        foreach (var bySource in rows.Where(r => r.Source is not null).GroupBy(r => r.Source!))
        {
            var reset = bySource.Where(r => r.Reason == DeviceSeqBaselines.ResetReason).Select(r => r.Seq).DefaultIfEmpty(0).Max();
            var seqs = bySource.Where(r => r.Seq >= reset && r.DeviceSeq is not null).Select(r => r.DeviceSeq!.Value).ToList();
            if (seqs.Count > 0)
            {
                expected[bySource.Key] = [.. seqs.Where(seq => seq > seqs.Max() - window - 1).Order()];
            }
        }

        return expected;
    }

    /// <summary>The newest live grant (by seq) of each person at each reader, with its door and zone: from every row of the log.</summary>
    private List<(string Person, string Reader, long Seq, string? Door, string? Zone)> ExpectedLatestGrants()
    {
        using var connection = log.Database.OpenReadOnly();
        var rows = connection.Query<(string? Person, string? Reader, long Seq, string? Door, string? Zone, string Kind, string? Decision, bool Offline)>(
            "SELECT person_id, reader_id, seq, door_id, zone_id, kind, decision, offline FROM entry_log").ToList();
        return [.. rows
            .Where(r => r.Kind == LogKinds.Access && r.Decision == "grant" && !r.Offline && r.Person is not null && r.Reader is not null)
            .GroupBy(r => (r.Person, r.Reader))
            .Select(g => g.MaxBy(r => r.Seq))
            .Select(r => (r.Person!, r.Reader!, r.Seq, r.Door, r.Zone))
            .Order()];
    }

    /// <summary>A grant of p-1 and p-4 at each door (into a zone, or out of the site at door-sr1), and a deny after it.</summary>
    private void AppendGrants(bool offline)
    {
        foreach (var person in new[] { "p-1", "p-4" })
        {
            foreach (var door in Doors)
            {
                log.Writer.Append([
                    new LogEntry
                    {
                        At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Access, SiteId = "dc1", DoorId = door, ReaderId = "rdr-" + door,
                        ZoneId = door == "door-sr1" ? null : "zone-" + door + (offline ? "-offline" : ""), PersonId = person,
                        Decision = "grant", Reason = "granted", Offline = offline,
                    },
                    new LogEntry
                    {
                        At = log.Clock.GetCurrentInstant(), Kind = LogKinds.Access, SiteId = "dc1", DoorId = door, ReaderId = "rdr-" + door,
                        ZoneId = "zone-denied", PersonId = person, Decision = "deny", Reason = "no_access_to_zone",
                    },
                ]);
            }
        }
    }

    private static List<long> Ids(IReadOnlyList<LogEntry> rows) => [.. rows.Select(r => r.Seq)];

    /// <summary>Rows over two sites, three doors, five people and two devices' seqs, with the clock going back once.</summary>
    private void AppendVaried(int count)
    {
        for (var batch = 0; batch < count / 4; batch++)
        {
            var entries = new List<LogEntry>();
            for (var k = 0; k < 4; k++, next++)
            {
                var door = Doors[next % Doors.Length];
                entries.Add(new LogEntry
                {
                    At = log.Clock.GetCurrentInstant(),
                    Kind = next % 5 == 0 ? LogKinds.Door : LogKinds.Access,
                    SiteId = Sites[next / 3 % Sites.Length],
                    DoorId = next % 7 == 0 ? null : door,
                    ReaderId = "rdr-" + door,
                    PersonId = next % 4 == 0 ? null : "p-" + (next % 5),
                    Source = next % 5 == 0 ? "doors/" + door : "readers/rdr-" + door,
                    EventId = "varied-" + next,
                    DeviceSeq = next,
                    Decision = next % 3 == 0 ? "grant" : "deny",
                    Reason = next % 3 == 0 ? "granted" : "no_access_to_zone",
                    Detail = DetailOf(next),
                });
            }

            log.Clock.Advance(batch == 20 ? Duration.FromMinutes(-3) : Duration.FromSeconds(30));
            foreach (var row in log.Writer.Append(entries))
            {
                if (row.Detail is { } detail && detail.StartsWith(EscortedBy, StringComparison.Ordinal))
                {
                    escorted.Add((row.Seq, detail[EscortedBy.Length..detail.IndexOf('"', EscortedBy.Length)]));
                }
            }
        }
    }

    /// <summary>
    /// Every third row names an escort (p-1 or p-2, who are also the person of other rows), as an escorted entry's
    /// detail does; a few name "escort" otherwise: not as a person, nested, or in a detail that is no JSON at all.
    /// </summary>
    private static string? DetailOf(int n) => n % 13 == 0
        ? (n / 13 % 3) switch
        {
            0 => """{"escort":true}""",
            1 => """{"after":{"escort":"p-1"}}""",
            _ => "\"escort\":\"p-1\" (not JSON)",
        }
        : n % 3 == 0 ? EscortedBy + "p-" + (1 + (n / 3 % 2)) + "\",\"technology\":\"desfire-ev3\"}" : null;
}

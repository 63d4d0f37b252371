using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Health;
using NodaTime;

namespace AccessControl.Tests.Health;

/// <summary>The health checks as a pure function of what the probe read.</summary>
public class EdgeHealthTests
{
    private static readonly HealthInputs Well = new()
    {
        Log = LogHealth.Writable,
        BrokerConnected = true,
        QueueDepth = 3,
        QueueCapacity = 100_000,
        DiskFreeBytes = 50L << 30,
        DiskTotalBytes = 100L << 30,
        LogHead = 1_000_000,
        IndexWatermark = 999_000,
        Readers = 12,
        ReadersOffline = 0,
        Controllers = 3,
        ControllersOffline = 0,
        Doors = 4,
        DoorsOffline = 0,
        DoorsReleased = 0,
        OutageJournal = OutageJournalState.Open,
    };

    private static HealthCheck Check(HealthInputs inputs, string name) => EdgeHealth.Evaluate(inputs).Checks.Single(c => c.Name == name);

    [Fact]
    public void AllWell_IsOk_AndNamesEveryCheck()
    {
        var report = EdgeHealth.Evaluate(Well);

        Assert.Equal(HealthStatus.Ok, report.Status);
        Assert.Equal(["entry-log", "broker", "pipeline-queue", "disk", "log-index", "readers", "door-controllers", "life-safety", "outage-journal", "log-integrity"], report.Checks.Select(c => c.Name));
        Assert.All(report.Checks, c => Assert.Equal(HealthStatus.Ok, c.Status));
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public void LogOutage_IsFailing_AndSaysSinceWhenWhatAndThatSwipesAreDenied()
    {
        var since = Instant.FromUtc(2026, 11, 29, 10, 15, 2);
        var report = EdgeHealth.Evaluate(Well with { Log = new LogHealth(since, 42, 7, "SqliteException 13") });

        var log = report.Checks.Single(c => c.Name == "entry-log");
        Assert.Equal((HealthStatus.Failing, HealthStatus.Failing), (report.Status, log.Status));
        Assert.Contains("since 2026-11-29T10:15:02", log.Detail, StringComparison.Ordinal);
        Assert.Contains("SqliteException 13", log.Detail, StringComparison.Ordinal);
        Assert.Contains("denied log_failure", log.Detail, StringComparison.Ordinal);
        Assert.Contains("42 rows kept", log.Detail, StringComparison.Ordinal);
        Assert.Contains("in memory only", log.Detail, StringComparison.Ordinal);
        Assert.Contains("7 more lost", log.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public void LogOutage_WithItsRowsInTheOutageJournal_SaysHowManyAreOnDisk()
    {
        var since = Instant.FromUtc(2026, 11, 29, 10, 15, 2);
        var report = EdgeHealth.Evaluate(Well with { Log = new LogHealth(since, 42, 0, "SqliteException 13") { RowsOnDisk = 42 } });

        var log = report.Checks.Single(c => c.Name == "entry-log");
        Assert.Contains("42 rows kept to be logged late (42 of them also in the outage journal on disk)", log.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("lost", log.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(OutageJournalState.Open, HealthStatus.Ok, "kept on disk too")]
    [InlineData(OutageJournalState.Off, HealthStatus.Ok, "in memory only")]
    [InlineData(OutageJournalState.Unavailable, HealthStatus.Degraded, "could not be made or opened at start")]
    [Trait("control", "NIST-AU-5")]
    public void AnOutageJournalThatCouldNotBeMade_IsDegraded_AndSaysAnOutagesRowsWouldBeInMemoryOnly(OutageJournalState state, HealthStatus expected, string says)
    {
        var journal = Check(Well with { OutageJournal = state }, "outage-journal");

        Assert.Equal(expected, journal.Status);
        Assert.Contains(says, journal.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void BrokerNotConnected_IsFailing()
    {
        Assert.Equal(HealthStatus.Failing, EdgeHealth.Evaluate(Well with { BrokerConnected = false }).Status);
    }

    [Fact]
    public void TheWorstCheckIsTheWholes()
    {
        var degraded = Well with { ReadersOffline = 2 };

        Assert.Equal(HealthStatus.Degraded, EdgeHealth.Evaluate(degraded).Status);
        Assert.Equal(HealthStatus.Failing, EdgeHealth.Evaluate(degraded with { BrokerConnected = false }).Status);
        Assert.Contains("2 of 12 readers offline", Check(degraded, "readers").Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(50_000, HealthStatus.Ok)]
    [InlineData(50_001, HealthStatus.Degraded)]
    [InlineData(99_999, HealthStatus.Degraded)]
    [InlineData(100_000, HealthStatus.Failing)]
    public void PipelineQueue_DegradedPastHalf_FailingWhenFull(int depth, HealthStatus expected)
    {
        Assert.Equal(expected, Check(Well with { QueueDepth = depth }, "pipeline-queue").Status);
    }

    [Theory]
    [InlineData(50L << 30, 100L << 30, HealthStatus.Ok)]
    [InlineData(9L << 30, 100L << 30, HealthStatus.Degraded)]      // under a tenth
    [InlineData(3L << 30, 10L << 30, HealthStatus.Ok)]              // over a tenth and over 2 GiB
    [InlineData((2L << 30) - 1, 4L << 30, HealthStatus.Degraded)]  // under 2 GiB
    [InlineData((256L << 20) - 1, 4L << 30, HealthStatus.Failing)] // under 256 MiB
    public void Disk_DegradedWhenLow_FailingWhenTheNextCommitsMayNotFit(long free, long total, HealthStatus expected)
    {
        Assert.Equal(expected, Check(Well with { DiskFreeBytes = free, DiskTotalBytes = total }, "disk").Status);
    }

    [Fact]
    public void Disk_NotMeasured_IsNoReasonForAlarm()
    {
        var disk = Check(Well with { DiskFreeBytes = null, DiskTotalBytes = null }, "disk");

        Assert.Equal((HealthStatus.Ok, "free space not measured"), (disk.Status, disk.Detail));
    }

    [Fact]
    public void LogIndex_FarBehind_IsDegraded_AndNotMeasuredBeforeItsFirstRound()
    {
        var behind = Check(Well with { IndexWatermark = 1_000_000 - 100_001 }, "log-index");
        var notYet = Check(Well with { IndexWatermark = null }, "log-index");

        Assert.Equal(HealthStatus.Degraded, behind.Status);
        Assert.Contains("100001 rows behind", behind.Detail, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Ok, notYet.Status);
        Assert.Equal(HealthStatus.Ok, Check(Well, "log-index").Status);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public void DoorControllersOffline_AreDegradedAsReadersOfflineAre_AndSayHowManyDoorsGoUnreported()
    {
        var report = EdgeHealth.Evaluate(Well with { ControllersOffline = 1, DoorsOffline = 2 });
        var controllers = report.Checks.Single(c => c.Name == "door-controllers");

        Assert.Equal(HealthStatus.Degraded, report.Status);
        Assert.Equal(Check(Well with { ReadersOffline = 1 }, "readers").Status, controllers.Status);
        Assert.Equal("1 of 3 door controllers offline, 2 of 4 doors with them: their position and exit button are not reported (door_controller_offline alarms name them)",
            controllers.Detail);
        Assert.Equal("none of 3 door controllers offline", Check(Well, "door-controllers").Detail);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void DoorsReleasedByAFireAlarm_AreDegraded_UntilReset()
    {
        var fire = Check(Well with { DoorsReleased = 4 }, "life-safety");

        Assert.Equal(HealthStatus.Degraded, fire.Status);
        Assert.Contains("4 doors released", fire.Detail, StringComparison.Ordinal);
    }

    private static readonly Instant VerifiedAt = Instant.FromUtc(2026, 11, 29, 3, 0);

    private static LogVerification Verified(LogBreak? broken = null, LogIndexCheck? index = null) => new()
    {
        Ok = broken is null,
        Rows = 36,
        FirstSeq = 1,
        HeadSeq = 36,
        PurgedUpTo = 0,
        DatabaseCheckpoints = 4,
        FileCheckpoints = 4,
        CheckpointsMatched = 4,
        FirstBroken = broken,
        Index = index,
    };

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void LogIntegrity_IsFailingWhenTheLastVerificationFoundTheLogBroken_DegradedWhenOnlyTheIndexDiffersOrItCouldNotRun_ElseOk()
    {
        static (HealthStatus Status, string Detail) Of(LogWatchState state)
        {
            var check = Check(Well with { LogIntegrity = state }, "log-integrity");
            return (check.Status, check.Detail);
        }

        var broken = Of(new LogWatchState { On = true, Last = Verified(new LogBreak(12, LogBreaks.ContentChanged, "row 12's content does not match its hash")), LastAt = VerifiedAt });
        var brokenThenFailed = Of(new LogWatchState
        {
            On = true, Last = Verified(new LogBreak(12, LogBreaks.ContentChanged, "x")), LastAt = VerifiedAt, Failure = "IOException", FailedAt = VerifiedAt,
        });
        var index = Of(new LogWatchState { On = true, Last = Verified(index: new LogIndexCheck(36, 36, 1, 10)), LastAt = VerifiedAt });
        var failed = Of(new LogWatchState { On = true, Failure = "SqliteException", FailedAt = VerifiedAt });
        var verified = Of(new LogWatchState { On = true, Last = Verified(index: new LogIndexCheck(36, 36, 0, null)), LastAt = VerifiedAt });

        Assert.Equal((HealthStatus.Failing, "the entry log failed verification at 2026-11-29T03:00:00Z: content_changed at seq 12 (row 12's content does not match its hash) (log_integrity alarms name each finding; run accesscontrol log verify)"),
            broken);
        Assert.Equal(HealthStatus.Failing, brokenThenFailed.Status);
        Assert.Equal((HealthStatus.Degraded, "verified 36 rows up to seq 36 at 2026-11-29T03:00:00Z, but the query index differs from the log in 1 rows (first at seq 10): queries through it could miss rows (see docs/log-integrity.md, section 3)"),
            index);
        Assert.Equal((HealthStatus.Degraded, "the entry log could not be verified at 2026-11-29T03:00:00Z (SqliteException: the service's log says why); it is tried again at the next interval"),
            failed);
        Assert.Equal((HealthStatus.Ok, "verified 36 rows up to seq 36 at 2026-11-29T03:00:00Z"), verified);
        Assert.Equal((HealthStatus.Ok, "not verified yet since the start"), Of(new LogWatchState { On = true }));
        Assert.Equal(HealthStatus.Ok, Of(new LogWatchState { On = false }).Status);
        Assert.StartsWith("off", Of(new LogWatchState { On = false }).Detail, StringComparison.Ordinal);
    }
}

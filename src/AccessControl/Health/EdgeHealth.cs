using System.Globalization;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Protocol;
using NodaTime;

namespace AccessControl.Health;

/// <summary>How well the edge does what it is for; the worst of its checks is the whole's.</summary>
public enum HealthStatus
{
    /// <summary>Deciding, logging and hearing every device as it should.</summary>
    Ok,

    /// <summary>Deciding and logging, with something an operator should look at (a reader offline, a disk filling up).</summary>
    Degraded,

    /// <summary>Not doing its job: swipes cannot be logged (so they are all denied), or no device can reach it.</summary>
    Failing,
}

/// <summary>One check: a stable name, its status, and a sentence for the operator (no personal data, no secret, no path).</summary>
public sealed record HealthCheck(string Name, HealthStatus Status, string Detail);

/// <summary>The edge's health at one moment: the worst status of its checks, and each of them.</summary>
public sealed record HealthReport(HealthStatus Status, IReadOnlyList<HealthCheck> Checks);

/// <summary>What the checks read, gathered at one moment by <see cref="HealthProbe"/>.</summary>
public sealed record HealthInputs
{
    public required LogHealth Log { get; init; }

    public required bool BrokerConnected { get; init; }

    public required int QueueDepth { get; init; }

    public required int QueueCapacity { get; init; }

    /// <summary>Free bytes on the data folder's file system; null when it could not be read.</summary>
    public long? DiskFreeBytes { get; init; }

    public long? DiskTotalBytes { get; init; }

    /// <summary>The entry log's last row.</summary>
    public required long LogHead { get; init; }

    /// <summary>The query index's watermark after its last round; null before the first round since the start.</summary>
    public long? IndexWatermark { get; init; }

    public required int Readers { get; init; }

    public required int ReadersOffline { get; init; }

    public required int Controllers { get; init; }

    public required int ControllersOffline { get; init; }

    public required int Doors { get; init; }

    /// <summary>Doors driven by a controller that is offline.</summary>
    public required int DoorsOffline { get; init; }

    public required int DoorsReleased { get; init; }

    public required OutageJournalState OutageJournal { get; init; }

    /// <summary>What the service's own verification of the entry log last found (by default: none run yet).</summary>
    public LogWatchState LogIntegrity { get; init; } = new() { On = true };
}

/// <summary>
/// The edge's health checks, as a pure function of what <see cref="HealthProbe"/> read (docs/operations.md, "Health").
/// </summary>
public static class EdgeHealth
{
    /// <summary>Below this much free space on the data folder's file system the edge is failing: the log's next commits may not fit.</summary>
    public const long DiskFailingBelowBytes = 256L * 1024 * 1024;

    /// <summary>Below this much free space (or <see cref="DiskDegradedBelowShare"/> of the file system) it is degraded.</summary>
    public const long DiskDegradedBelowBytes = 2L * 1024 * 1024 * 1024;

    public const double DiskDegradedBelowShare = 0.10;

    /// <summary>A pipeline queue fuller than this share is degraded: the service is falling behind its devices.</summary>
    public const double QueueDegradedAboveShare = 0.5;

    /// <summary>An index further behind the log than this many rows is degraded: queries scan the rows not yet indexed.</summary>
    public const long IndexDegradedBehindRows = 100_000;

    public static HealthReport Evaluate(HealthInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        HealthCheck[] checks =
        [
            Log(inputs.Log),
            Broker(inputs.BrokerConnected),
            Queue(inputs.QueueDepth, inputs.QueueCapacity),
            Disk(inputs.DiskFreeBytes, inputs.DiskTotalBytes),
            Index(inputs.LogHead, inputs.IndexWatermark),
            Readers(inputs.Readers, inputs.ReadersOffline),
            Controllers(inputs.Controllers, inputs.ControllersOffline, inputs.Doors, inputs.DoorsOffline),
            Fire(inputs.DoorsReleased),
            Journal(inputs.OutageJournal),
            Integrity(inputs.LogIntegrity),
        ];
        return new HealthReport(checks.Max(c => c.Status), checks);
    }

    private static HealthCheck Log(LogHealth log) => log.OutageSince is not { } since
        ? new("entry-log", HealthStatus.Ok, "every commit succeeds")
        : new("entry-log", HealthStatus.Failing,
            $"commits fail since {WireFormat.FormatInstant(since)} ({log.Error ?? "unknown error"}): every swipe is denied {AccessReason.LogFailure.ToCode()}; " +
            $"{log.RowsKept} rows kept to be logged late ({(log.RowsOnDisk > 0 ? $"{log.RowsOnDisk} of them also in the outage journal on disk" : "in memory only")})" +
            (log.RowsLost > 0 ? $", {log.RowsLost} more lost past the capacity" : ""));

    private static HealthCheck Broker(bool connected) => connected
        ? new("broker", HealthStatus.Ok, "connected: device messages reach the service")
        : new("broker", HealthStatus.Failing, "not connected: no reader or door controller reaches the service");

    private static HealthCheck Queue(int depth, int capacity) =>
        depth >= capacity ? new("pipeline-queue", HealthStatus.Failing, $"full ({depth} of {capacity}): new events wait at the broker")
        : depth > capacity * QueueDegradedAboveShare ? new("pipeline-queue", HealthStatus.Degraded, $"{depth} of {capacity} waiting: the service is falling behind its devices")
        : new("pipeline-queue", HealthStatus.Ok, $"{depth} of {capacity} waiting");

    private static HealthCheck Disk(long? free, long? total)
    {
        if (free is not { } bytes)
        {
            return new("disk", HealthStatus.Ok, "free space not measured");
        }

        var text = $"{Size(bytes)} free" + (total is { } all ? $" of {Size(all)}" : "") + " on the data folder's file system";
        return bytes < DiskFailingBelowBytes ? new("disk", HealthStatus.Failing, text + ": the entry log's next commits may not fit")
            : bytes < DiskDegradedBelowBytes || (total is > 0 && bytes < total * DiskDegradedBelowShare) ? new("disk", HealthStatus.Degraded, text + ": running low")
            : new("disk", HealthStatus.Ok, text);
    }

    private static HealthCheck Index(long head, long? watermark)
    {
        if (watermark is not { } indexed)
        {
            return new("log-index", HealthStatus.Ok, "not measured yet (its first round since the start has not run)");
        }

        var behind = Math.Max(0, head - indexed);
        return behind > IndexDegradedBehindRows
            ? new("log-index", HealthStatus.Degraded, $"{behind} rows behind the log: queries scan the rows not yet indexed until it catches up")
            : new("log-index", HealthStatus.Ok, $"{behind} rows behind the log");
    }

    private static HealthCheck Readers(int readers, int offline) => offline > 0
        ? new("readers", HealthStatus.Degraded, $"{offline} of {readers} readers offline ({AlarmTypes.ReaderOffline} alarms name them)")
        : new("readers", HealthStatus.Ok, $"none of {readers} readers offline");

    private static HealthCheck Controllers(int controllers, int offline, int doors, int doorsOffline) => offline > 0
        ? new("door-controllers", HealthStatus.Degraded,
            $"{offline} of {controllers} door controllers offline, {doorsOffline} of {doors} doors with them: their position and exit button are not reported ({AlarmTypes.DoorControllerOffline} alarms name them)")
        : new("door-controllers", HealthStatus.Ok, $"none of {controllers} door controllers offline");

    private static HealthCheck Fire(int released) => released > 0
        ? new("life-safety", HealthStatus.Degraded, $"{released} doors released by a fire alarm until an operator resets it")
        : new("life-safety", HealthStatus.Ok, "no door released by a fire alarm");

    // Not failing: swipes are decided and logged as ever; what is at stake is the rows of an outage that may never come.
    private static HealthCheck Journal(OutageJournalState state) => state switch
    {
        OutageJournalState.Unavailable => new("outage-journal", HealthStatus.Degraded,
            "could not be made or opened at start (no room for it, say; the log says why): the rows of an entry-log outage would be kept in memory only, " +
            "and lost if the service stopped before the log could be written again; it is tried again every minute, and made once there is room for it"),
        OutageJournalState.Off => new("outage-journal", HealthStatus.Ok, "off: the rows of an entry-log outage are kept in memory only"),
        _ => new("outage-journal", HealthStatus.Ok, "ready: the rows of an entry-log outage are kept on disk too"),
    };

    // Failing, not degraded: whatever the cause, the log an auditor relies on no longer says what happened. Decisions go on.
    private static HealthCheck Integrity(LogWatchState watch)
    {
        const string Name = "log-integrity";
        if (watch is { Last: { Ok: false } broken, LastAt: { } brokenAt })
        {
            return new(Name, HealthStatus.Failing,
                $"the entry log failed verification at {WireFormat.FormatInstant(brokenAt)}: {LogWatch.Findings(broken)[0].Text} " +
                $"({AlarmTypes.LogIntegrity} alarms name each finding; run accesscontrol log verify)");
        }

        if (watch is { Failure: { } failure, FailedAt: { } failedAt })
        {
            return new(Name, HealthStatus.Degraded,
                $"the entry log could not be verified at {WireFormat.FormatInstant(failedAt)} ({failure}: the service's log says why); it is tried again at the next interval");
        }

        if (watch is { Last: { } last, LastAt: { } at })
        {
            var verified = $"verified {last.Rows} rows up to seq {last.HeadSeq} at {WireFormat.FormatInstant(at)}";
            return last.IndexAltered
                ? new(Name, HealthStatus.Degraded, $"{verified}, but {LogWatch.Findings(last)[0].Text} (see docs/log-integrity.md, section 3)")
                : new(Name, HealthStatus.Ok, verified);
        }

        return watch.On
            ? new(Name, HealthStatus.Ok, "not verified yet since the start")
            : new(Name, HealthStatus.Ok, "off: the service does not verify the entry log itself (AccessControl:LogIntegrity:VerifyInterval is 0)");
    }

    private static string Size(long bytes) => bytes >= 1L << 30
        ? (bytes / (double)(1L << 30)).ToString("0.0 GiB", CultureInfo.InvariantCulture)
        : (bytes / (double)(1L << 20)).ToString("0 MiB", CultureInfo.InvariantCulture);
}

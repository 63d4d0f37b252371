using System.Text.Json;
using System.Text.Json.Serialization;
using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// A retention purge that was refused, as the log records it: a <c>security</c> row <see cref="Action"/> naming who asked,
/// the cut-off asked for, the minimum retention in force, and why (<see cref="Code"/>, <see cref="Message"/>). A refused
/// purge deletes nothing; the row is what lets an auditor see that someone tried to cut the log short
/// (docs/log-integrity.md §5), in a row the chain protects like any other.
/// </summary>
/// <param name="MinimumRetention">The minimum the purge was checked against: the configured one, also when it is not allowed.</param>
/// <param name="RetentionReason">The configured reason for a shorter minimum (null when none).</param>
public sealed record LogPurgeRefusal(string Code, Instant Before, string Actor, Duration MinimumRetention, string? RetentionReason, string Message)
{
    /// <summary>The OS account the purge ran as (<see cref="EntryLog.OsAccount"/>), recorded beside <see cref="Actor"/>; null when unknown.</summary>
    public OsAccount? OsAccount { get; init; }

    /// <summary>The row's <c>reason</c>, like the other refusals' <c>&lt;action&gt;.refused</c>.</summary>
    public const string Action = "log.purge.refused";

    /// <summary><c>--before</c> is later than now minus the minimum retention.</summary>
    public const string WithinMinimumRetention = "within_minimum_retention";

    /// <summary>The configured minimum is shorter than <see cref="LogRetention.Floor"/>.</summary>
    public const string MinimumBelowFloor = "minimum_below_floor";

    /// <summary>The configured minimum is longer than <see cref="LogRetention.Ceiling"/>.</summary>
    public const string MinimumAboveCeiling = "minimum_above_ceiling";

    /// <summary>The configured minimum is shorter than <see cref="LogRetention.Standard"/> and no reason is configured for it.</summary>
    public const string MinimumWithoutReason = "minimum_without_reason";

    /// <summary>No checkpoint is signed yet: nothing can be purged (rows go only up to the last checkpoint).</summary>
    public const string NoCheckpoint = "no_checkpoint";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// The refusal of a purge under a configured minimum retention that is not allowed (<see cref="LogRetention.Problem"/>:
    /// below the floor, above the ceiling, or shorter than a year without a reason); null when the minimum is allowed.
    /// </summary>
    public static LogPurgeRefusal? ForSettings(Instant before, string actor, Duration minimum, string? reason) =>
        LogRetention.Check(minimum, reason) is { } problem
            ? new(problem.Code, before, actor, minimum, string.IsNullOrWhiteSpace(reason) ? null : reason.Trim(),
                $"refused: {LogIntegrityOptions.MinimumRetentionSetting}: {problem.Message} ({LogIntegrityOptions.MinimumRetentionRange}). Nothing was purged")
            : null;

    /// <summary>The <c>security</c> row that records the refusal, dated <paramref name="now"/>.</summary>
    public LogEntry ToEntry(Instant now) => new()
    {
        At = now,
        Kind = LogKinds.Security,
        Actor = Actor,
        Reason = Action,
        Detail = JsonSerializer.Serialize(
            new Detail(Code, EntryLogWriter.Rfc3339.Format(Before), LogRetention.Iso8601(MinimumRetention), RetentionReason, Message, OsAccount?.User, OsAccount?.Uid, OsAccount?.LoginUid, OsAccount?.LoginUser), Json),
    };

    /// <summary>The row's <c>detail</c>: <c>{"code","before","minimumRetention","retentionReason","message","osUser","osUid"}</c>, then <c>"loginUid"</c> and <c>"loginUser"</c> when set.</summary>
    internal sealed record Detail(string Code, string Before, string MinimumRetention, string? RetentionReason, string Message, string? OsUser, long? OsUid,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? LoginUid,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LoginUser);
}

/// <summary>A purge was refused, and the row that records the refusal could not be written either. Nothing was deleted.</summary>
public sealed class LogPurgeRefusalNotRecordedException(string refusal, Exception inner)
    : IOException($"{refusal}; the refusal could not be recorded in the entry log either: {inner.Message}", inner);

/// <summary>
/// A purge that found nothing to delete could not record its row: the newest bound in <c>log_purge</c> names a purge row
/// the log does not hold (or one of another range), so the row would say where the chain resumes with data nobody
/// vouches for. Nothing was written; <c>log verify</c> reports what was changed.
/// </summary>
public sealed class LogPurgeInconsistentException(string inconsistency) : InvalidOperationException(inconsistency);

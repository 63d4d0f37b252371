using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>Kinds of entry-log row.</summary>
public static class LogKinds
{
    public const string Access = "access";
    public const string Door = "door";
    public const string Alarm = "alarm";
    public const string Device = "device";
    public const string Admin = "admin";
    public const string Security = "security";
    public const string Malformed = "malformed";

    /// <summary>The log about itself: its chain's <c>genesis</c> (upgrade of an older log) and retention <c>purge</c>s (docs/log-integrity.md).</summary>
    public const string Integrity = "integrity";

    /// <summary>Reason of the <see cref="Integrity"/> row that records the one-time sealing of rows older than the chain.</summary>
    public const string GenesisReason = "genesis";

    /// <summary>Reason of the <see cref="Integrity"/> row that records a retention purge.</summary>
    public const string PurgeReason = "purge";

    /// <summary>
    /// Reason of the <see cref="Integrity"/> row the service writes at start when it finds rows after the last signed
    /// checkpoint: the checkpoint it is about to make will sign them, so the log says first that they were found so.
    /// </summary>
    public const string UnsignedAtStartReason = "unsigned_at_start";

    /// <summary>
    /// Reason of the <see cref="Integrity"/> row the service writes at a start the operator allowed on a database older
    /// than its checkpoint file (<see cref="LogRollback"/>): the rows after its head were lost, and the log says so.
    /// </summary>
    public const string RollbackAcceptedReason = "log_rollback_accepted";

    /// <summary>Life safety: fire releases of fail-safe doors, panel clears and operator resets (docs/operations.md).</summary>
    public const string Safety = "safety";

    public static IReadOnlyList<string> All { get; } = [Access, Door, Alarm, Device, Admin, Security, Malformed, Integrity, Safety];
}

/// <summary>
/// One row of the entry log, as appended. Immutable; <see cref="Seq"/> is assigned by the writer, one more than the
/// chain's head (0 until the row is written).
/// </summary>
public sealed record LogEntry
{
    public long Seq { get; init; }

    public required Instant At { get; init; }

    public required string Kind { get; init; }

    public string? SiteId { get; init; }

    public string? ReaderId { get; init; }

    public string? DoorId { get; init; }

    public string? ZoneId { get; init; }

    public string? PersonId { get; init; }

    public string? Card { get; init; }

    /// <summary><c>readers/&lt;id&gt;</c> or <c>doors/&lt;id&gt;</c>: with <see cref="EventId"/> the idempotency key.</summary>
    public string? Source { get; init; }

    public string? EventId { get; init; }

    public long? DeviceSeq { get; init; }

    public Instant? DeviceAt { get; init; }

    public bool Offline { get; init; }

    /// <summary><c>grant</c>, <c>deny</c> or <c>pending</c> (card accepted, fingerprint asked for) on access rows.</summary>
    public string? Decision { get; init; }

    /// <summary>A reason code on access rows, an alarm type on alarm rows.</summary>
    public string? Reason { get; init; }

    public int? UnlockSeconds { get; init; }

    public string? Actor { get; init; }

    /// <summary>JSON with anything else worth keeping.</summary>
    public string? Detail { get; init; }
}

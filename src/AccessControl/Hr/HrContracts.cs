using AccessControl.Admin;
using NodaTime;

namespace AccessControl.Hr;

/// <summary>The body of <c>POST /api/v1/hr/events</c>: the events of one batch, applied in order.</summary>
public sealed record HrEventBatchInput(IReadOnlyList<HrEventInput?>? Events);

/// <summary>One HR event as sent. Text fields stay text until validated, so every problem is reported by field.</summary>
/// <param name="EventId">The HR system's id: the idempotency key.</param>
/// <param name="Type"><c>termination</c> or <c>transfer</c>.</param>
/// <param name="EffectiveAt">RFC 3339; omitted means now. A future termination is kept and applied when due.</param>
/// <param name="AccessLevels">A transfer's new set of access levels (replaces the old set); not allowed on a termination.</param>
public sealed record HrEventInput(string? EventId, string? Type, string? PersonId, string? EffectiveAt, IReadOnlyList<string?>? AccessLevels);

/// <summary>The answer: one result per event, in the order sent.</summary>
public sealed record HrBatchResult(IReadOnlyList<HrEventResult> Results);

/// <summary>What happened to one event (<see cref="Outcome"/> is one of <see cref="HrOutcomes"/>).</summary>
public sealed record HrEventResult(
    string? EventId,
    string Outcome,
    string? PersonId = null,
    Instant? EffectiveAt = null,
    string? Message = null,
    IReadOnlyList<FieldError>? Errors = null,
    HrChanges? Changes = null);

/// <summary>What an applied event changed.</summary>
/// <param name="VisitsInProgress">Visits the person hosts or solely escorts with visitors on site: left to the front desk.</param>
public sealed record HrChanges(
    string PersonStatus,
    IReadOnlyList<string> AccessLevels,
    IReadOnlyList<string> CredentialsRevoked,
    int FingerprintTemplatesRevoked,
    IReadOnlyList<string> OperatorsDisabled,
    IReadOnlyList<long> VisitsCancelled,
    IReadOnlyList<long> VisitsEscortRemoved,
    IReadOnlyList<string> VisitorsCheckedOut,
    IReadOnlyList<long> VisitsInProgress)
{
    /// <summary>
    /// A termination received after it took effect: the person's grants from its effective time on, which it came too
    /// late to refuse (each site with some raised <c>access_after_termination</c>). 0 otherwise.
    /// </summary>
    public int GrantsAfterEffective { get; init; }
}

/// <summary>The outcome codes of an HR event.</summary>
public static class HrOutcomes
{
    /// <summary>Done now: every change is in the entry log and live.</summary>
    public const string Applied = "applied";

    /// <summary>The same event (same id, same content) was applied before; nothing was changed.</summary>
    public const string AlreadyApplied = "already_applied";

    /// <summary>Future-dated: recorded, and applied by the periodic job when due.</summary>
    public const string Scheduled = "scheduled";

    /// <summary>No such person: nothing recorded, so the event can be sent again once the person exists.</summary>
    public const string UnknownPerson = "unknown_person";

    /// <summary>Malformed or refers to things that do not exist; <see cref="HrEventResult.Errors"/> names the fields.</summary>
    public const string Invalid = "invalid";

    /// <summary>The event id was used before for a different event: refused, the first one stands.</summary>
    public const string Conflict = "conflict";

    /// <summary>A scheduled event that could no longer be applied when due (a level deleted meanwhile).</summary>
    public const string Failed = "failed";

    /// <summary>The audit log or a database could not be written. Send it again: what was done stays done, the rest follows.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>Outcomes after which the HR system has nothing left to do.</summary>
    public static bool IsSuccess(string outcome) => outcome is Applied or AlreadyApplied or Scheduled;
}

/// <summary>The event types.</summary>
public static class HrEventTypes
{
    public const string Termination = "termination";
    public const string Transfer = "transfer";
}

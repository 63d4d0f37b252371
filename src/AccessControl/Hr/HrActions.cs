using AccessControl.EntryLog;

namespace AccessControl.Hr;

/// <summary>
/// What the HR feed records (<see cref="HrFeedService"/>, actor <see cref="HrFeedService.Actor"/>):
/// <c>&lt;action&gt;.failed</c> when the event store could not be written after the row. The changes an event makes
/// are recorded under their own actions (<see cref="Cardholding.CardholderActions"/>, <see cref="Visitors.VisitActions"/>,
/// <see cref="Admin.OperatorTokenActions"/>).
/// </summary>
[WrittenAs(ActionRows.Itself | ActionRows.Failed)]
public static class HrActions
{
    /// <summary>An event was received and stored, before it is applied (now, or when due).</summary>
    public const string Event = "hr.event";

    /// <summary>An event was applied; detail lists its changes.</summary>
    public const string Applied = "hr.applied";

    /// <summary>A scheduled event could no longer be applied when due.</summary>
    public const string Failed = "hr.failed";

    /// <summary>An event refused before anything was recorded; nothing was stored, so nothing can fail after it.</summary>
    [WrittenAs(ActionRows.Itself)]
    public const string Rejected = "hr.rejected";
}

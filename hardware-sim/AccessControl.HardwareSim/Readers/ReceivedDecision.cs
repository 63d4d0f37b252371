using AccessControl.Protocol;

namespace AccessControl.HardwareSim.Readers;

/// <summary>
/// A decision a reader received for one of its card events, with what the reader knows about that event,
/// so that a printer or a test can show "who swiped what, and what came back" without tracking eventIds.
/// </summary>
/// <param name="Offline">
/// The card event went out marked <c>"offline":true</c>: made while the reader was offline and replayed later, or
/// re-sent after waiting <see cref="Devices.DeviceOptions.MarkOfflineAfter"/> for a decision.
/// </param>
/// <param name="Elapsed">From the swipe to the decision, on the reader's time provider (includes any time offline).</param>
public sealed record ReceivedDecision(
    string ReaderId,
    string EventId,
    long Seq,
    string Card,
    string Technology,
    bool Offline,
    DecisionMessage Decision,
    TimeSpan Elapsed)
{
    /// <summary>The <c>pending</c> decision that came before (two-factor entry); null when the event was answered directly.</summary>
    public DecisionMessage? PendingDecision { get; init; }
}

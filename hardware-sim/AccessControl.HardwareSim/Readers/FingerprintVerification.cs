using AccessControl.HardwareSim.Devices;
using AccessControl.Protocol;

namespace AccessControl.HardwareSim.Readers;

/// <summary>
/// A <c>verify_fingerprint</c> request a fingerprint reader holds: what the reader shows about it. The templates
/// themselves stay inside the reader and are forgotten when the request ends.
/// </summary>
/// <param name="Timeout">How long the reader waits for a finger (the command's <c>timeoutSeconds</c>).</param>
/// <param name="TemplateIds">Ids of the templates sent, in the order sent.</param>
public sealed record VerifyRequest(string RequestId, string CommandId, string? CardEventId, TimeSpan Timeout, IReadOnlyList<string> TemplateIds);

/// <summary>How a verify request ended.</summary>
public enum VerifyRequestEnd
{
    /// <summary>A finger was captured and the <c>fingerprint_match</c> event made.</summary>
    Answered,

    /// <summary>A <c>cancel_fingerprint</c> command with its requestId arrived.</summary>
    Cancelled,

    /// <summary>Its timeout passed without a finger; nothing was sent (the service times out on its own).</summary>
    TimedOut,

    /// <summary>A newer verify request replaced it: the reader holds one at a time.</summary>
    Superseded,

    /// <summary>The reader was stopped.</summary>
    Stopped,

    /// <summary>
    /// None of its templates is in a format the reader reads: it asked for no finger, sent nothing and showed a fault
    /// (the service times the card out). A score for templates it cannot read would be a mismatch counting toward a lockout.
    /// </summary>
    NoUsableTemplate,
}

/// <summary>A verify request that ended, and how; its templates are gone from the reader.</summary>
public sealed record VerifyRequestEnded(VerifyRequest Request, VerifyRequestEnd How);

/// <summary>
/// A finger captured for a verify request: the best score over the request's templates, and the
/// <c>fingerprint_match</c> event made for it, whose <see cref="PendingEvent.Decision"/> is the service's answer.
/// </summary>
/// <param name="TemplateId">The template that scored best; null when the request had none.</param>
public sealed record FingerprintCapture(string RequestId, string? CardEventId, string PersonId, string Finger, int Score, string? TemplateId, PendingEvent Event)
{
    /// <summary>The service's grant or deny for the <c>fingerprint_match</c> event.</summary>
    public Task<DecisionMessage> Decision => Event.Decision;
}

/// <summary>A decision a fingerprint reader received for one of its <c>fingerprint_match</c> events.</summary>
/// <param name="Elapsed">From the capture to the decision, on the reader's time provider.</param>
public sealed record ReceivedFingerprintDecision(
    string ReaderId,
    string EventId,
    string RequestId,
    int Score,
    string? TemplateId,
    bool Offline,
    DecisionMessage Decision,
    TimeSpan Elapsed);

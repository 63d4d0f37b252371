using AccessControl.Protocol;

namespace AccessControl.HardwareSim.Devices;

/// <summary>Where an event is in its life inside a device's buffer.</summary>
public enum PendingEventState
{
    /// <summary>Waiting to be published: new, made offline, or due for a re-send.</summary>
    Queued,

    /// <summary>Being published right now.</summary>
    InFlight,

    /// <summary>Published; waiting for the decision that acknowledges it.</summary>
    AwaitingDecision,

    /// <summary>Refused by the broker (PUBACK <c>0x80</c> or above, but not <c>0x95</c>): kept, and re-sent when its timer fires.</summary>
    Refused,

    /// <summary>
    /// Acknowledged by a <c>pending</c> decision (two-factor entry): no longer re-sent, waiting for the final decision
    /// with the same eventId.
    /// </summary>
    AwaitingFinalDecision,

    /// <summary>Acknowledged, overwritten or abandoned; no longer in the buffer.</summary>
    Retired,
}

/// <summary>
/// One event held by a device until it is acknowledged. Its payload is fixed when it is made, so a re-send is
/// byte-for-byte the same message: same eventId, same seq, same <c>at</c>, and <c>"offline":true</c> when it was
/// made while the device was disconnected. The one change a re-send may make (reader-protocol §7.2) is
/// <c>"offline":true</c> on a live event that has waited too long (<see cref="MarkOffline"/>).
/// </summary>
public sealed class PendingEvent
{
    private readonly TaskCompletionSource<DecisionMessage>? decision;
    private readonly TaskCompletionSource<DecisionMessage>? acknowledgement;
    private readonly TaskCompletionSource handedOff = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly EventStamp stamp;
    private readonly Func<EventStamp, byte[]> render;

    internal PendingEvent(string topic, EventStamp stamp, Func<EventStamp, byte[]> render, bool awaitsDecision, long createdTimestamp, object? tag)
    {
        this.stamp = stamp;
        this.render = render;
        Topic = topic;
        Offline = stamp.Offline;
        Payload = render(stamp);
        AwaitsDecision = awaitsDecision;
        CreatedTimestamp = createdTimestamp;
        Tag = tag;
        if (awaitsDecision)
        {
            decision = new TaskCompletionSource<DecisionMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            acknowledgement = new TaskCompletionSource<DecisionMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
    }

    public string Topic { get; }

    public string EventId => stamp.EventId;

    public long Seq => stamp.Seq;

    /// <summary>
    /// Marked <c>"offline":true</c> on the wire: made while disconnected, or still unanswered
    /// <see cref="DeviceOptions.MarkOfflineAfter"/> after it was made (see <see cref="MarkOffline"/>).
    /// </summary>
    public bool Offline { get; private set; }

    public ReadOnlyMemory<byte> Payload { get; private set; }

    /// <summary>Whether only a decision acknowledges it (card events); otherwise the broker's PUBACK does.</summary>
    public bool AwaitsDecision { get; }

    /// <summary><see cref="TimeProvider.GetTimestamp"/> of the device's time provider when the event was made.</summary>
    public long CreatedTimestamp { get; }

    /// <summary>What the device subclass wants to remember about the event (e.g. the card).</summary>
    public object? Tag { get; }

    /// <summary>Means nothing later (a heartbeat): not made while offline, and dropped rather than kept when the broker refuses it.</summary>
    internal bool Perishable { get; init; }

    /// <summary>
    /// Completes with the final decision (grant or deny); canceled when the event is overwritten in a full buffer, the
    /// device stops, or a <c>pending</c> decision is not followed by the final one within
    /// <see cref="DeviceOptions.FinalDecisionTimeout"/>.
    /// </summary>
    public Task<DecisionMessage> Decision => decision?.Task ?? Task.FromCanceled<DecisionMessage>(new CancellationToken(true));

    /// <summary>
    /// Completes with the first decision for the event, the one that stops its re-sending: a <c>pending</c> decision
    /// when the zone wants a fingerprint too (a reader shows "present finger" then), otherwise the final decision itself.
    /// Canceled like <see cref="Decision"/>.
    /// </summary>
    public Task<DecisionMessage> Acknowledgement => acknowledgement?.Task ?? Task.FromCanceled<DecisionMessage>(new CancellationToken(true));

    /// <summary>The <c>pending</c> decision that acknowledged the event, if there was one; null until then or without.</summary>
    public DecisionMessage? PendingDecision { get; private set; }

    /// <summary>
    /// Completes when the event is safe: accepted by the broker, or held in the buffer because the device is offline.
    /// Lets a caller wait for "the device has done its part" without waiting for a reconnection.
    /// </summary>
    public Task HandedOff => handedOff.Task;

    internal PendingEventState State { get; set; }

    /// <summary>Successful publishes so far.</summary>
    internal int Publishes { get; set; }

    /// <summary>Re-sends on the current connection (reset by a reconnection); each one doubles the wait before the next.</summary>
    internal int ResendsThisConnection { get; set; }

    internal ITimer? ResendTimer { get; set; }

    /// <summary>The broker's last refusal of the event (PUBACK reason code and string); null while none.</summary>
    internal string? LastRefusal { get; set; }

    /// <summary>Gives up on the final decision after a pending one (see <see cref="DeviceOptions.FinalDecisionTimeout"/>).</summary>
    internal ITimer? FinalDecisionTimer { get; set; }

    internal LinkedListNode<PendingEvent>? Node { get; set; }

    internal void MarkHandedOff() => handedOff.TrySetResult();

    /// <summary>
    /// Re-renders the payload with <c>"offline":true</c>, all else unchanged: the service refuses a live event whose
    /// <c>at</c> is more than 5 minutes old as a replay, but takes an offline replay up to 24 hours old.
    /// </summary>
    internal void MarkOffline()
    {
        Offline = true;
        Payload = render(stamp with { Offline = true });
    }

    internal bool CompleteDecision(DecisionMessage message)
    {
        acknowledgement?.TrySetResult(message);
        return decision?.TrySetResult(message) ?? false;
    }

    internal void CompletePending(DecisionMessage message)
    {
        PendingDecision = message;
        acknowledgement?.TrySetResult(message);
    }

    internal void Abandon()
    {
        acknowledgement?.TrySetCanceled();
        decision?.TrySetCanceled();
        handedOff.TrySetResult();
    }
}

/// <summary>What the device fixes about an event when it makes it; everything a payload needs besides the device's own data.</summary>
/// <param name="Offline">The device is offline: the event will be replayed later and must say so on the wire.</param>
public readonly record struct EventStamp(string EventId, long Seq, NodaTime.Instant At, bool Offline);

using AccessControl.Devices;
using AccessControl.HardwareSim.Devices;
using AccessControl.Protocol;
using NodaTime;

namespace AccessControl.HardwareSim.Readers;

/// <summary>
/// A simulated card reader on one side of a door. A card presented to it becomes a card event on
/// <c>{root}/readers/{id}/events</c>; the reader then waits for the decision with the same eventId on
/// <c>{root}/readers/{id}/decisions</c>, which is both the answer and the acknowledgement (see
/// <see cref="SimulatedDevice"/> for re-sending, buffering and offline replay). At a two-factor door the first answer
/// is <c>pending</c> (<c>fingerprint_required</c>: the display asks for a finger) and the final grant or deny follows
/// with the same eventId once the door's fingerprint reader has answered. It also sends heartbeats and
/// tamper events. Like a real reader it only shows the decision: the door is unlocked by the service commanding
/// the door controller.
/// </summary>
public class CardReader : SimulatedDevice
{
    private readonly CardReaderOptions readerOptions;
    private readonly IReadOnlyList<string> statusTopics;
    private readonly IReadOnlyList<string> subscriptions;
    // Like firmware that persists its counter, seq never goes back across restarts (replay protection refuses a used seq):
    // it starts from the first event's time in microseconds, which is above every seq an earlier boot used at fewer than a million events a second.
    private long seq = -1;

    public CardReader(string readerId, DeviceOptions options, DeviceSecrets secrets, IClock clock, TimeProvider time, CardReaderOptions? readerOptions = null)
        : base(readerId, options, secrets, clock, time)
    {
        this.readerOptions = readerOptions ?? new CardReaderOptions();
        this.readerOptions.Validate();
        statusTopics = [Topics.ReaderStatus(readerId)];
        subscriptions = [Topics.ReaderDecisions(readerId)];
    }

    public string ReaderId => DeviceId;

    /// <summary>Raised for every final decision (grant or deny) that answers one of this reader's card events (duplicates are not raised).</summary>
    public event Action<ReceivedDecision>? DecisionReceived;

    /// <summary>
    /// Raised when a card event is answered <c>pending</c> (two-factor entry: the display would say "present finger");
    /// the final decision follows through <see cref="DecisionReceived"/>. Repeated pending decisions are not raised.
    /// </summary>
    public event Action<ReceivedDecision>? PendingDecisionReceived;

    protected override IReadOnlyList<string> StatusTopics => statusTopics;

    protected override IReadOnlyList<string> Subscriptions => subscriptions;

    /// <summary>
    /// Presents a card: publishes a card event with a new eventId and the next seq (or buffers it while offline)
    /// and completes with the final decision that answers it (after a <c>pending</c> one at a two-factor door). <paramref name="cancellationToken"/> stops the waiting,
    /// not the event: the reader keeps it until it is answered, as firmware would.
    /// </summary>
    /// <param name="card">The UID as the reader read it, e.g. <c>04A1B2C3D4E5F6</c>; sent as given.</param>
    /// <param name="technology">A technology token such as <c>desfire-ev3</c>.</param>
    /// <exception cref="TaskCanceledException">
    /// The event was overwritten in a full buffer, the reader was stopped, or no final decision followed a pending one
    /// within <see cref="DeviceOptions.FinalDecisionTimeout"/>.
    /// </exception>
    public Task<DecisionMessage> PresentCardAsync(string card, string technology, CancellationToken cancellationToken = default) =>
        PresentCard(card, technology).Decision.WaitAsync(cancellationToken);

    /// <summary>
    /// Like <see cref="PresentCardAsync"/>, but returns the held event: eventId, seq, offline flag, the final
    /// <see cref="PendingEvent.Decision"/> and the first answer (<see cref="PendingEvent.Acknowledgement"/>, pending or final).
    /// </summary>
    public PendingEvent PresentCard(string card, string technology)
    {
        ArgumentException.ThrowIfNullOrEmpty(card);
        ArgumentException.ThrowIfNullOrEmpty(technology);
        return Enqueue(
            Topics.ReaderEvents(ReaderId),
            awaitsDecision: true,
            keepWhileOffline: true,
            NextSeq,
            s => WireFormat.Write(new ReaderEvent(s.EventId, s.Seq, s.At, ReaderEventType.Card, card, technology, s.Offline, null)),
            new CardSwipe(card, technology))!;
    }

    /// <summary>
    /// Reports that the reader's cover was opened or it was pulled off the wall. Completes when the event is safe:
    /// accepted by the broker, or buffered because the reader is offline.
    /// </summary>
    public Task TamperAsync(string? detail = null, CancellationToken cancellationToken = default)
    {
        var item = Enqueue(
            Topics.ReaderEvents(ReaderId),
            awaitsDecision: false,
            keepWhileOffline: true,
            NextSeq,
            s => WireFormat.Write(new ReaderEvent(s.EventId, s.Seq, s.At, ReaderEventType.Tamper, null, null, s.Offline, detail)))!;
        return item.HandedOff.WaitAsync(cancellationToken);
    }


    protected override TimeSpan HeartbeatInterval => readerOptions.HeartbeatInterval;


    protected override Task HandleDecisionAsync(string readerId, DecisionMessage decision)
    {
        if (readerId != ReaderId)
        {
            return Task.CompletedTask;
        }

        var item = TryAcknowledge(decision.EventId, decision);
        if (item?.Tag is not CardSwipe swipe)
        {
            Log($"decision for unknown or already answered event {decision.EventId ?? "(none)"}: {(decision.Pending ? "pending" : decision.Grant ? "grant" : "deny")} {decision.Reason}");
            return Task.CompletedTask;
        }

        var raise = decision.Pending ? PendingDecisionReceived : DecisionReceived;
        raise?.Invoke(new ReceivedDecision(
            ReaderId,
            item.EventId,
            item.Seq,
            swipe.Card,
            swipe.Technology,
            item.Offline,
            decision,
            Time.GetElapsedTime(item.CreatedTimestamp))
        {
            PendingDecision = item.PendingDecision,
        });
        return Task.CompletedTask;
    }

    protected override PendingEvent? EnqueueHeartbeat() =>
        Enqueue(
            Topics.ReaderEvents(ReaderId),
            awaitsDecision: false,
            keepWhileOffline: false,
            NextSeq,
            s => WireFormat.Write(new ReaderEvent(s.EventId, s.Seq, s.At, ReaderEventType.Heartbeat, null, null, s.Offline, null)));

    // Called by the base under its buffer lock, so a plain increment is enough.
    private long NextSeq() => seq = seq < 0 ? BootSeq() + 1 : seq + 1;

    private sealed record CardSwipe(string Card, string Technology);
}

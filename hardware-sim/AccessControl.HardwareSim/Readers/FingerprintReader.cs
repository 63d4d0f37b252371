using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using AccessControl.Devices;
using AccessControl.Fingerprints;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.Protocol;
using NodaTime;

namespace AccessControl.HardwareSim.Readers;

/// <summary>
/// A simulated fingerprint reader beside a card reader at a two-factor door. It matches on the device, as OSDP's
/// BIOMATCH readers do: the service sends it the enrolled templates of the person whose card was just accepted
/// (<c>verify_fingerprint</c> on <c>{root}/readers/{id}/commands</c>); the reader captures the live finger, scores it
/// against each template with the <see cref="SyntheticFingers"/> matcher and publishes one <c>fingerprint_match</c>
/// event with the best score. That event is acknowledged by its decision like a card event (re-sent until answered,
/// buffered while offline). No finger, no event: the service times out.
/// </summary>
/// <remarks>
/// The reader holds one request at a time (a new one supersedes the old) and forgets its templates when it answers,
/// is cancelled (<c>cancel_fingerprint</c>) or its <c>timeoutSeconds</c> pass. It reads only templates in the
/// <see cref="SyntheticFingers.Format"/>: others are skipped, and a request with none it can read asks for no finger
/// and sends nothing. A repeated commandId (a QoS 1 redelivery) is ignored. A finger presented with no request
/// rests on the sensor for <see cref="FingerprintReaderOptions.FingerDwell"/> and is captured if a request arrives
/// meanwhile. It sends heartbeats and status like a card reader.
/// </remarks>
public class FingerprintReader : SimulatedDevice
{
    private readonly FingerprintReaderOptions readerOptions;
    private readonly IReadOnlyList<string> statusTopics;
    private readonly IReadOnlyList<string> subscriptions;
    private readonly object state = new();
    private readonly RecentCommandIds recentCommands = new();
    private readonly Random random;
    private ActiveRequest? active;
    private RestingFinger? resting;
    private TaskCompletionSource<VerifyRequest> nextRequest = NewRequestSignal();
    // Like firmware that persists its counter, seq never goes back across restarts (replay protection refuses a used seq):
    // it starts from the first event's time in microseconds, which is above every seq an earlier boot used at fewer than a million events a second.
    private long seq = -1;

    public FingerprintReader(string readerId, DeviceOptions options, DeviceSecrets secrets, IClock clock, TimeProvider time, FingerprintReaderOptions? readerOptions = null)
        : base(readerId, options, secrets, clock, time)
    {
        this.readerOptions = readerOptions ?? new FingerprintReaderOptions();
        this.readerOptions.Validate();
        statusTopics = [Topics.ReaderStatus(readerId)];
        subscriptions = [Topics.ReaderCommands(readerId), Topics.ReaderDecisions(readerId)];
        random = new Random(this.readerOptions.Seed ?? SeedOf(readerId));
    }

    public string ReaderId => DeviceId;

    /// <summary>Raised when a verify request is accepted (before a resting finger, if any, is captured for it).</summary>
    public event Action<VerifyRequest>? VerifyRequested;

    /// <summary>Raised when a verify request ends: answered, cancelled, timed out, superseded or stopped.</summary>
    public event Action<VerifyRequestEnded>? VerifyRequestEnded;

    /// <summary>Raised when a finger is captured for a request and its <c>fingerprint_match</c> event made.</summary>
    public event Action<FingerprintCapture>? FingerCaptured;

    /// <summary>Raised for every decision that answers one of this reader's <c>fingerprint_match</c> events (duplicates are not raised).</summary>
    public event Action<ReceivedFingerprintDecision>? DecisionReceived;

    /// <summary>The verify request the reader holds now; null when it holds none (and so no templates).</summary>
    public VerifyRequest? CurrentRequest
    {
        get
        {
            lock (state)
            {
                return active?.Request;
            }
        }
    }

    protected override IReadOnlyList<string> StatusTopics => statusTopics;

    protected override IReadOnlyList<string> Subscriptions => subscriptions;

    /// <summary>Completes with the request the reader holds, at once if it holds one, else with the next one to arrive.</summary>
    public Task<VerifyRequest> WhenVerifyRequestedAsync(CancellationToken cancellationToken = default)
    {
        lock (state)
        {
            return active is { } current ? Task.FromResult(current.Request) : nextRequest.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Puts a finger on the sensor: the right one (an enrolled finger of the cardholder), or a wrong one (another of
    /// their fingers, or someone else's). When the reader holds a verify request the finger is captured at once;
    /// otherwise it rests for <see cref="FingerprintReaderOptions.FingerDwell"/> and is captured if a request arrives.
    /// A finger already resting is lifted first.
    /// </summary>
    /// <param name="personId">Whose finger; any text, usually the person id (<c>p-mkoch</c>).</param>
    /// <param name="finger">One of <see cref="Fingers.All"/>.</param>
    /// <param name="cancellationToken">Lifts the finger (the task is then canceled) if it has not been captured yet.</param>
    /// <returns>The capture, or null when the finger was lifted without a request (dwell over, <see cref="PresentNothing"/>, another finger).</returns>
    public Task<FingerprintCapture?> PresentFingerAsync(string personId, string finger, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(personId);
        if (!Fingers.IsValid(finger))
        {
            throw new ArgumentException($"Finger '{finger}' is not one of {string.Join(", ", Fingers.All)}.", nameof(finger));
        }

        RestingFinger? lifted;
        RestingFinger touch;
        Answer? answer = null;
        lock (state)
        {
            lifted = resting;
            resting = null;
            touch = new RestingFinger(personId, finger);
            if (active is { } request)
            {
                active = null;
                answer = CaptureLocked(request, touch);
            }
            else
            {
                resting = touch;
                touch.Dwell = Time.CreateTimer(_ => Lift(touch), null, readerOptions.FingerDwell, Timeout.InfiniteTimeSpan);
                touch.Cancellation = cancellationToken.Register(() => Lift(touch, canceled: true));
            }
        }

        lifted?.Finish(null);
        if (answer is not null)
        {
            Raise(answer);
        }

        return touch.Captured;
    }

    /// <summary>
    /// The person presents no finger (walks away, or just waits): a resting finger is lifted and nothing is sent.
    /// A held request ends on its own when its timeout passes; the service times out on its side.
    /// </summary>
    public void PresentNothing()
    {
        RestingFinger? lifted;
        lock (state)
        {
            lifted = resting;
            resting = null;
        }

        lifted?.Finish(null);
    }

    protected override TimeSpan HeartbeatInterval => readerOptions.HeartbeatInterval;

    protected override void OnStopping()
    {
        ActiveRequest? ended;
        RestingFinger? lifted;
        lock (state)
        {
            ended = active;
            active = null;
            lifted = resting;
            resting = null;
            ended?.Timeout?.Dispose();
        }

        lifted?.Finish(null);
        if (ended is not null)
        {
            VerifyRequestEnded?.Invoke(new VerifyRequestEnded(ended.Request, VerifyRequestEnd.Stopped));
        }
    }

    protected override Task HandleReaderCommandAsync(string readerId, ReaderCommand command)
    {
        if (readerId != ReaderId)
        {
            return Task.CompletedTask;
        }

        lock (state)
        {
            if (!recentCommands.Add(command.CommandId))
            {
                // Handled already: a verify delivered again would ask for a finger for a request it has answered.
                Log($"repeated command {command.CommandId} ({command.Command} {command.RequestId}): ignored");
                return Task.CompletedTask;
            }
        }

        if (command.Command == ReaderCommands.VerifyFingerprint)
        {
            Verify(command);
        }
        else
        {
            Cancel(command.RequestId);
        }

        return Task.CompletedTask;
    }

    protected override Task HandleDecisionAsync(string readerId, DecisionMessage decision)
    {
        if (readerId != ReaderId)
        {
            return Task.CompletedTask;
        }

        var item = TryAcknowledge(decision.EventId, decision);
        if (item?.Tag is not MatchTag match)
        {
            Log($"decision for unknown or already answered event {decision.EventId ?? "(none)"}: {(decision.Grant ? "grant" : "deny")} {decision.Reason}");
            return Task.CompletedTask;
        }

        DecisionReceived?.Invoke(new ReceivedFingerprintDecision(
            ReaderId,
            item.EventId,
            match.RequestId,
            match.Score,
            match.TemplateId,
            item.Offline,
            decision,
            Time.GetElapsedTime(item.CreatedTimestamp)));
        return Task.CompletedTask;
    }

    private void Verify(ReaderCommand command)
    {
        var timeout = command.TimeoutSeconds > 0 ? TimeSpan.FromSeconds(command.TimeoutSeconds) : readerOptions.DefaultRequestTimeout;
        var info = new VerifyRequest(command.RequestId, command.CommandId, command.CardEventId, timeout, [.. command.Templates.Select(t => t.TemplateId)]);
        var usable = command.Templates.Where(t => t.Format == SyntheticFingers.Format).ToImmutableArray();
        var request = new ActiveRequest(info, usable);
        ActiveRequest? superseded;
        TaskCompletionSource<VerifyRequest> signal;
        Answer? answer = null;
        lock (state)
        {
            superseded = active;
            superseded?.Timeout?.Dispose();
            signal = nextRequest;
            nextRequest = NewRequestSignal();
            if (usable.IsEmpty)
            {
                // Nothing to score against: a score of 0 would be a mismatch, and three lock the card. The finger
                // resting on the sensor stays for a request the reader can answer.
                active = null;
            }
            else if (resting is { } touch)
            {
                resting = null;
                active = null;
                answer = CaptureLocked(request, touch);
            }
            else
            {
                active = request;
                request.Timeout = Time.CreateTimer(_ => Expire(request), null, timeout, Timeout.InfiniteTimeSpan);
            }
        }

        Log($"verify request {info.RequestId} for card event {info.CardEventId ?? "(none)"}: {info.TemplateIds.Count} template(s), {timeout.TotalSeconds:0.###} s");
        if (superseded is not null)
        {
            VerifyRequestEnded?.Invoke(new VerifyRequestEnded(superseded.Request, VerifyRequestEnd.Superseded));
        }

        signal.TrySetResult(info);
        VerifyRequested?.Invoke(info);
        if (usable.IsEmpty)
        {
            Log($"fault: verify request {info.RequestId} has no template in a format this reader reads ({string.Join(", ", command.Templates.Select(t => t.Format).Distinct())}); nothing sent");
            VerifyRequestEnded?.Invoke(new VerifyRequestEnded(info, VerifyRequestEnd.NoUsableTemplate));
        }

        if (answer is not null)
        {
            Raise(answer);
        }
    }

    private void Cancel(string requestId)
    {
        ActiveRequest? cancelled = null;
        lock (state)
        {
            if (active is { } current && current.Request.RequestId == requestId)
            {
                cancelled = current;
                active = null;
                current.Timeout?.Dispose();
            }
        }

        if (cancelled is null)
        {
            Log($"cancel for request {requestId}, which the reader does not hold: ignored");
            return;
        }

        Log($"verify request {requestId} cancelled; templates dropped");
        VerifyRequestEnded?.Invoke(new VerifyRequestEnded(cancelled.Request, VerifyRequestEnd.Cancelled));
    }

    private void Expire(ActiveRequest request)
    {
        lock (state)
        {
            if (!ReferenceEquals(active, request))
            {
                return;
            }

            active = null;
            request.Timeout?.Dispose();
        }

        Log($"verify request {request.Request.RequestId}: no finger within {request.Request.Timeout.TotalSeconds:0.###} s; templates dropped, nothing sent");
        VerifyRequestEnded?.Invoke(new VerifyRequestEnded(request.Request, VerifyRequestEnd.TimedOut));
    }

    private void Lift(RestingFinger touch, bool canceled = false)
    {
        lock (state)
        {
            if (!ReferenceEquals(resting, touch))
            {
                return;
            }

            resting = null;
        }

        if (canceled)
        {
            touch.Cancel();
        }
        else
        {
            touch.Finish(null);
        }
    }

    /// <summary>Captures the finger for the request and makes the event; the request is no longer active. Under the state lock.</summary>
    private Answer CaptureLocked(ActiveRequest request, RestingFinger touch)
    {
        request.Timeout?.Dispose();
        var sample = SyntheticFingers.Capture(touch.PersonId, touch.Finger, random);
        var best = -1;
        string? bestTemplate = null;
        foreach (var template in request.Templates)
        {
            var score = SyntheticFingers.Score(sample, template.Data.Span);
            if (score > best)
            {
                best = score;
                bestTemplate = template.TemplateId;
            }
        }

        var match = new MatchTag(request.Request.RequestId, Math.Max(best, 0), bestTemplate);
        var item = Enqueue(
            Topics.ReaderEvents(ReaderId),
            awaitsDecision: true,
            keepWhileOffline: true,
            NextSeq,
            s => WireFormat.Write(new ReaderEvent(s.EventId, s.Seq, s.At, ReaderEventType.FingerprintMatch, null, null, s.Offline, null)
            {
                RequestId = match.RequestId,
                Score = match.Score,
                TemplateId = match.TemplateId,
            }),
            match)!;
        var capture = new FingerprintCapture(match.RequestId, request.Request.CardEventId, touch.PersonId, touch.Finger, match.Score, match.TemplateId, item);
        return new Answer(request, touch, capture);
    }

    private void Raise(Answer answer)
    {
        Log($"verify request {answer.Capture.RequestId}: finger captured, score {answer.Capture.Score} ({answer.Capture.TemplateId ?? "no template"}); templates dropped");
        answer.Touch.Finish(answer.Capture);
        FingerCaptured?.Invoke(answer.Capture);
        VerifyRequestEnded?.Invoke(new VerifyRequestEnded(answer.Request.Request, VerifyRequestEnd.Answered));
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

    private static int SeedOf(string readerId) =>
        BinaryPrimitives.ReadInt32BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes(readerId)));

    private static TaskCompletionSource<VerifyRequest> NewRequestSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record MatchTag(string RequestId, int Score, string? TemplateId);

    private sealed record Answer(ActiveRequest Request, RestingFinger Touch, FingerprintCapture Capture);

    private sealed class ActiveRequest(VerifyRequest request, ImmutableArray<FingerprintTemplate> templates)
    {
        public VerifyRequest Request { get; } = request;

        public ImmutableArray<FingerprintTemplate> Templates { get; } = templates;

        public ITimer? Timeout { get; set; }
    }

    private sealed class RestingFinger(string personId, string finger)
    {
        private readonly TaskCompletionSource<FingerprintCapture?> captured = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string PersonId { get; } = personId;

        public string Finger { get; } = finger;

        public ITimer? Dwell { get; set; }

        public CancellationTokenRegistration Cancellation { get; set; }

        public Task<FingerprintCapture?> Captured => captured.Task;

        public void Finish(FingerprintCapture? capture)
        {
            Release();
            captured.TrySetResult(capture);
        }

        public void Cancel()
        {
            Release();
            captured.TrySetCanceled();
        }

        private void Release()
        {
            Dwell?.Dispose();
            Cancellation.Dispose();
        }
    }
}

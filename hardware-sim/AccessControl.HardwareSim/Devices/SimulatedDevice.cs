using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;
using AccessControl.Devices;
using AccessControl.Display;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;
using NodaTime;
using Polly;
using Polly.Retry;

namespace AccessControl.HardwareSim.Devices;

/// <summary>
/// The protocol half of a simulated device: what every reader or door-controller firmware on the MQTT reader
/// protocol v1 does, whatever the device is. Subclasses add the device (a card reader, a door controller) by
/// overriding the <c>Handle…</c> methods and calling <see cref="Enqueue"/>, the way OSDP.Net's simulated
/// devices override the handlers of their protocol base.
/// </summary>
/// <remarks>
/// <para>
/// Connection: the device logs in with its id as username and <see cref="DeviceSecrets.For"/> as password,
/// registers its offline status as retained MQTT last will, subscribes to its topics and publishes a retained
/// online status. A background loop pings the broker every <see cref="DeviceOptions.ConnectionCheckInterval"/>
/// and reconnects through a Polly pipeline (exponential back-off with jitter, retrying for ever). The disconnect event
/// only wakes that loop: reconnecting from inside it is what MQTTnet warns against. Sessions are not persistent;
/// subscriptions are made again on every connection.
/// </para>
/// <para>
/// Events: every event goes through one ordered buffer and one sender, so the broker sees them in the order they
/// were made. An event made while disconnected is held and later replayed with <c>"offline":true</c>. A card event
/// stays in the buffer until its decision arrives; without one it is re-sent, identical, after
/// <see cref="DeviceOptions.ResendInterval"/>, then after twice as long each time up to
/// <see cref="DeviceOptions.MaxResendInterval"/>, for as long as it takes (reader-protocol §7.2); a reconnection
/// re-sends it at once and starts the back-off again. An event still held <see cref="DeviceOptions.MarkOfflineAfter"/>
/// (4 minutes) after it was made is re-sent with <c>"offline":true</c>, otherwise unchanged: the service would refuse
/// it as a replay once its <c>at</c> is 5 minutes old, but takes an offline replay for 24 hours. A <c>pending</c> decision (two-factor entry) acknowledges
/// the event too, but its final decision is the next grant or deny with the same eventId. The buffer is a ring of
/// <see cref="DeviceOptions.BufferCapacity"/> events: when full the oldest is overwritten.
/// </para>
/// <para>
/// PUBACK reason codes (reader-protocol §3): below <c>0x80</c> the broker took the event. From <c>0x80</c> up it did
/// not: the event is kept and re-sent like an unanswered one, except for two codes that re-sending cannot change.
/// <c>0x95</c> (packet too large) drops the event and reports a <see cref="DeviceFaultKind.PayloadTooLarge"/> fault.
/// <c>0x87</c> (not authorized: e.g. the device was removed by a site reload while connected) keeps the event, re-sends
/// it only every <see cref="DeviceOptions.MaxResendInterval"/>, reports a <see cref="DeviceFaultKind.NotAuthorized"/>
/// fault, and after <see cref="DeviceOptions.NotAuthorizedTimeout"/> of <c>0x87</c> stops re-sending and disconnects
/// (<see cref="DeviceFaultKind.GaveUpNotAuthorized"/>): a removed device is then refused at CONNECT, one that was not
/// resumes from its buffer once connected again. This holds for every device and every event: card readers, fingerprint
/// readers and door controllers alike. Faults are raised through <see cref="FaultReported"/> and logged.
/// </para>
/// <para>
/// Time: <c>at</c> stamps come from the injected <see cref="IClock"/> (to the millisecond); resend, back-off and
/// connection-check timers run on the injected <see cref="TimeProvider"/>, so tests drive them without sleeping.
/// Only the timeout of a network operation (<see cref="DeviceOptions.ConnectTimeout"/>) is real time.
/// </para>
/// </remarks>
public abstract class SimulatedDevice : IAsyncDisposable
{
    private ITimer? heartbeatTimer;
    private readonly object gate = new();
    private readonly LinkedList<PendingEvent> buffer = new();
    private readonly Dictionary<string, PendingEvent> byEventId = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PendingEvent> awaitingFinal = new(StringComparer.Ordinal);
    private readonly string password;
    private readonly string bootId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private readonly SemaphoreSlim connectionGate = new(1, 1);
    private readonly Channel<bool> connectionWake = NewWakeChannel();
    private readonly Channel<bool> sendWake = NewWakeChannel();
    private readonly CancellationTokenSource lifetime = new();
    private readonly ResiliencePipeline<ConnectOutcome> connectPipeline;

    private IMqttClient? client;
    private bool connected;
    private bool paused;
    private bool stopped;
    private int started;
    private int stopRequested;
    private long eventCounter;
    private Task connectionLoop = Task.CompletedTask;
    private Task sendLoop = Task.CompletedTask;
    private TaskCompletionSource connectedSignal = NewSignal();
    private TaskCompletionSource disconnectedSignal = NewCompletedSignal();

    // Time.GetTimestamp() of the first PUBACK 0x87 since the broker last took a message or the device last connected.
    private long? notAuthorizedSince;

    private long sent;
    private long acked;
    private long resent;
    private long buffered;
    private long dropped;

    protected SimulatedDevice(string deviceId, DeviceOptions options, DeviceSecrets secrets, IClock clock, TimeProvider time)
    {
        // A device id is its MQTT username and client id (docs/reader-protocol.md §3): no ':' (Mosquitto's password file).
        if (!WireFormat.IsValidDeviceId(deviceId))
        {
            throw new ArgumentException($"Device id '{deviceId}' must be 1 to 64 characters of A-Z a-z 0-9 . _ -", nameof(deviceId));
        }

        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(time);
        options.Validate();

        DeviceId = deviceId;
        Options = options;
        Clock = clock;
        Time = time;
        Topics = new Topics(options.TopicRoot);
        password = secrets.For(deviceId);
        connectPipeline = BuildConnectPipeline();
    }

    /// <summary>The device's id: its MQTT username and client id.</summary>
    public string DeviceId { get; }

    public DeviceOptions Options { get; }

    /// <summary>Whether the device is connected, subscribed and has announced itself online.</summary>
    public bool IsConnected
    {
        get
        {
            lock (gate)
            {
                return connected;
            }
        }
    }

    public DeviceCounters Counters
    {
        get
        {
            lock (gate)
            {
                return new DeviceCounters(sent, acked, resent, buffered, dropped, buffer.Count);
            }
        }
    }

    /// <summary>Raised (outside any lock) when the device comes online (true) or loses its connection (false).</summary>
    public event Action<SimulatedDevice, bool>? ConnectionChanged;

    /// <summary>
    /// Raised (outside any lock) when the device would show a fault: the broker refused one of its events with a
    /// reason code that re-sending does not change (PUBACK <c>0x95</c> or <c>0x87</c>, see the remarks).
    /// </summary>
    public event Action<DeviceFault>? FaultReported;

    protected Topics Topics { get; }

    protected IClock Clock { get; }

    protected TimeProvider Time { get; }

    /// <summary>
    /// Status topics announced online on every connection. The first one also carries the MQTT last will,
    /// because a connection can have only one.
    /// </summary>
    protected abstract IReadOnlyList<string> StatusTopics { get; }

    /// <summary>Topics the device subscribes to (QoS 1) on every connection.</summary>
    protected abstract IReadOnlyList<string> Subscriptions { get; }

    /// <summary>Starts the connection and sender loops and returns at once; the device connects in the background.</summary>
    public void Start()
    {
        if (Interlocked.Exchange(ref started, 1) == 1)
        {
            return;
        }

        lock (gate)
        {
            ObjectDisposedException.ThrowIf(stopped, this);
        }

        var interval = HeartbeatInterval;
        if (interval > TimeSpan.Zero)
        {
            heartbeatTimer = Time.CreateTimer(_ => EnqueueHeartbeat(), null, interval, interval);
        }

        OnStarted();
        var token = lifetime.Token;
        connectionLoop = Task.Run(() => ConnectionLoopAsync(token), CancellationToken.None);
        sendLoop = Task.Run(() => SendLoopAsync(token), CancellationToken.None);
    }

    /// <summary>Starts the device and waits until it is online (for as long as <paramref name="cancellationToken"/> allows).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        Start();
        return WhenConnectedAsync(cancellationToken);
    }

    /// <summary>Completes when the device is online; at once if it already is.</summary>
    public Task WhenConnectedAsync(CancellationToken cancellationToken = default)
    {
        lock (gate)
        {
            return connectedSignal.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Completes when the device is offline; at once if it already is.</summary>
    public Task WhenDisconnectedAsync(CancellationToken cancellationToken = default)
    {
        lock (gate)
        {
            return disconnectedSignal.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Simulates a cut cable or a power loss: the TCP connection is torn down without an MQTT DISCONNECT, so the
    /// broker publishes the device's last will. The device then stays offline, buffering its events, until
    /// <see cref="RestoreConnectionAsync"/>.
    /// </summary>
    public async Task DropConnectionAsync()
    {
        await connectionGate.WaitAsync();
        try
        {
            lock (gate)
            {
                paused = true;
            }

            DisposeClient();
            Log("connection dropped (no DISCONNECT sent; the broker publishes the last will)");
        }
        finally
        {
            connectionGate.Release();
        }

        MarkDisconnected();
    }

    /// <summary>Ends a <see cref="DropConnectionAsync"/>: the device reconnects and waits until it is online again.</summary>
    public Task RestoreConnectionAsync(CancellationToken cancellationToken = default)
    {
        lock (gate)
        {
            paused = false;
        }

        connectionWake.Writer.TryWrite(true);
        return WhenConnectedAsync(cancellationToken);
    }

    /// <summary>
    /// Shuts the device down cleanly: announces offline status, disconnects with MQTT DISCONNECT (so no last will),
    /// stops its loops and cancels what was still waiting for a decision.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref stopRequested, 1) == 1)
        {
            return;
        }

        // Device timers stop first, so that none of them makes an event on a stopped device.
        heartbeatTimer?.Dispose();
        OnStopping();
        lock (gate)
        {
            stopped = true;
        }

        await DisconnectCleanlyAsync(CancellationToken.None);
        await lifetime.CancelAsync();
        await Task.WhenAll(connectionLoop, sendLoop);

        List<PendingEvent> abandoned;
        lock (gate)
        {
            abandoned = [.. buffer, .. awaitingFinal.Values];
            foreach (var item in abandoned)
            {
                RetireLocked(item);
            }
        }

        foreach (var item in abandoned)
        {
            item.Abandon();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        lifetime.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Sends a heartbeat now (a timer sends one every <see cref="HeartbeatInterval"/>). A heartbeat means nothing later,
    /// so none is made while offline; the result is false then.
    /// </summary>
    public async Task<bool> SendHeartbeatAsync(CancellationToken cancellationToken = default)
    {
        if (EnqueueHeartbeat() is not { } item)
        {
            return false;
        }

        await item.HandedOff.WaitAsync(cancellationToken);
        return true;
    }

    // ---- for subclasses ---------------------------------------------------------------------------

    /// <summary>How often the device sends a heartbeat by itself, from <see cref="Start"/> to <see cref="StopAsync"/>; zero for never.</summary>
    protected abstract TimeSpan HeartbeatInterval { get; }

    /// <summary>Queues one heartbeat on the device's events topic; null when none is made (offline).</summary>
    protected abstract PendingEvent? EnqueueHeartbeat();

    /// <summary>Called once by <see cref="Start"/>, before the loops run: start device timers here.</summary>
    protected virtual void OnStarted()
    {
    }

    /// <summary>Called once by <see cref="StopAsync"/>, while events can still be made: stop device timers here.</summary>
    protected virtual void OnStopping()
    {
    }

    /// <summary>Called on every connection, after subscribing and announcing online, before buffered events are replayed.</summary>
    protected virtual Task OnConnectedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A decision arrived on a decisions topic this device subscribed to. Runs on the MQTT receive loop: keep it short.</summary>
    protected virtual Task HandleDecisionAsync(string readerId, DecisionMessage decision) => Task.CompletedTask;

    /// <summary>A command arrived on a door commands topic this device subscribed to. Runs on the MQTT receive loop: keep it short.</summary>
    protected virtual Task HandleDoorCommandAsync(string doorId, DoorCommand command) => Task.CompletedTask;

    /// <summary>A command arrived on a reader commands topic this device subscribed to. Runs on the MQTT receive loop: keep it short.</summary>
    protected virtual Task HandleReaderCommandAsync(string readerId, ReaderCommand command) => Task.CompletedTask;

    /// <summary>A message on one of the device's topics could not be parsed. Real firmware ignores it; so does the default.</summary>
    protected virtual Task HandleMalformedAsync(string topic, string error)
    {
        Log($"ignored malformed message on {topic}: {error}");
        return Task.CompletedTask;
    }

    /// <summary>A message on a topic the base class does not interpret.</summary>
    protected virtual Task HandleOtherMessageAsync(string topic, ReadOnlySequence<byte> payload)
    {
        Log($"ignored message on {topic}");
        return Task.CompletedTask;
    }

    /// <summary>
    /// Makes an event and puts it in the buffer, then wakes the sender. Under the buffer lock, so that events are
    /// sent in seq order, the device picks a new eventId (unique per device and across restarts), takes the next seq
    /// from <paramref name="nextSeq"/>, reads the clock for <c>at</c> and notes whether it is offline;
    /// <paramref name="render"/> turns that stamp into the complete payload.
    /// </summary>
    /// <param name="awaitsDecision">A card event: kept and re-sent until a decision with its eventId arrives.</param>
    /// <param name="keepWhileOffline">False for events that mean nothing later (heartbeats): while offline they are not made at all.</param>
    /// <param name="tag">Anything the subclass wants back with the event (see <see cref="PendingEvent.Tag"/>).</param>
    /// <returns>The held event, or null when the device is offline and <paramref name="keepWhileOffline"/> is false.</returns>
    protected PendingEvent? Enqueue(string topic, bool awaitsDecision, bool keepWhileOffline, Func<long> nextSeq, Func<EventStamp, byte[]> render, object? tag = null)
    {
        PendingEvent item;
        PendingEvent? evicted = null;
        bool offline;
        lock (gate)
        {
            offline = !connected;
            if (offline && !keepWhileOffline)
            {
                return null;
            }

            ObjectDisposedException.ThrowIf(stopped, this);

            var stamp = new EventStamp($"{bootId}-{++eventCounter:D6}", nextSeq(), Now(), offline);
            item = new PendingEvent(topic, stamp, render, awaitsDecision, Time.GetTimestamp(), tag) { Perishable = !keepWhileOffline };
            if (buffer.Count >= Options.BufferCapacity)
            {
                evicted = EvictOldestLocked();
            }

            item.Node = buffer.AddLast(item);
            byEventId[item.EventId] = item;
            if (offline)
            {
                buffered++;
            }
        }

        if (evicted is not null)
        {
            evicted.Abandon();
            Log($"buffer full: overwrote event {evicted.EventId} (seq {evicted.Seq})");
        }

        if (offline)
        {
            item.MarkHandedOff();
        }
        else
        {
            sendWake.Writer.TryWrite(true);
        }

        return item;
    }

    /// <summary>
    /// Matches a decision to the held event it answers. A final decision (grant or deny) retires the event and
    /// completes its <see cref="PendingEvent.Decision"/>. A <c>pending</c> decision only acknowledges it: the event
    /// leaves the re-send buffer and waits (at most <see cref="DeviceOptions.FinalDecisionTimeout"/>) for the final
    /// decision with the same eventId.
    /// </summary>
    /// <returns>The event, when the decision is news for it; null when no held event has that id, or it repeats a pending decision.</returns>
    protected PendingEvent? TryAcknowledge(string? eventId, DecisionMessage decision)
    {
        if (eventId is null)
        {
            return null;
        }

        PendingEvent? item;
        lock (gate)
        {
            if (byEventId.TryGetValue(eventId, out item) && item.AwaitsDecision)
            {
                RetireLocked(item);
                acked++;
                if (decision.Pending)
                {
                    item.State = PendingEventState.AwaitingFinalDecision;
                    awaitingFinal[eventId] = item;
                    item.FinalDecisionTimer = Time.CreateTimer(OnFinalDecisionOverdue, item, Options.FinalDecisionTimeout, Timeout.InfiniteTimeSpan);
                }
            }
            else if (!decision.Pending && awaitingFinal.Remove(eventId, out item))
            {
                RetireLocked(item);
            }
            else
            {
                return null;
            }
        }

        if (decision.Pending)
        {
            item.CompletePending(decision);
        }
        else
        {
            item.CompleteDecision(decision);
        }

        return item;
    }

    private void OnFinalDecisionOverdue(object? state)
    {
        var item = (PendingEvent)state!;
        lock (gate)
        {
            if (!awaitingFinal.Remove(item.EventId))
            {
                return;
            }

            RetireLocked(item);
        }

        Log($"no final decision for event {item.EventId} within {Options.FinalDecisionTimeout.TotalSeconds:0.###} s of its pending decision; gave up");
        item.Abandon();
    }

    /// <summary>The time to stamp on a message: the injected clock, to the millisecond, as reader firmware keeps it.</summary>
    /// <summary>The seq a device starts counting from at boot: the clock in microseconds, so it is above any seq of an earlier boot.</summary>
    protected long BootSeq() => Options.SeqFromClock ? Clock.GetCurrentInstant().ToUnixTimeMilliseconds() * 1000 : 0;

    protected Instant Now() => Instant.FromUnixTimeMilliseconds(Clock.GetCurrentInstant().ToUnixTimeMilliseconds());

    /// <summary>
    /// One line of the device log, through <see cref="TerminalText"/>: much of it quotes what the broker or the service
    /// sent (a decision's reason, a topic, a parse error, the broker's reason string), and <c>--verbose</c> prints it
    /// on the terminal, where an ESC, a newline or a bidi override would act instead of being read.
    /// </summary>
    protected void Log(string message) => Options.Log?.Invoke(TerminalText.Show($"{DeviceId}: {message}"));

    // ---- connection -------------------------------------------------------------------------------

    private enum ConnectOutcome
    {
        Connected,
        Failed,
        Paused,
    }

    private ResiliencePipeline<ConnectOutcome> BuildConnectPipeline() =>
        new ResiliencePipelineBuilder<ConnectOutcome> { TimeProvider = Time }
            .AddRetry(new RetryStrategyOptions<ConnectOutcome>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Result: ConnectOutcome.Failed } => true,
                    { Exception: MqttCommunicationException or IOException } => true,
                    { Exception: OperationCanceledException } => !args.Context.CancellationToken.IsCancellationRequested,
                    _ => false,
                }),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = Options.ReconnectDelay,
                MaxDelay = Options.MaxReconnectDelay,
                OnRetry = args =>
                {
                    var why = args.Outcome.Exception is { } ex ? $"{ex.GetType().Name}: {ex.Message}" : "refused by the broker";
                    Log($"connection attempt {args.AttemptNumber + 1} failed ({why}); next in {args.RetryDelay.TotalSeconds:0.###} s");
                    return ValueTask.CompletedTask;
                },
            })
            .Build();

    private async Task ConnectionLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                bool isPaused;
                lock (gate)
                {
                    isPaused = paused;
                }

                if (isPaused)
                {
                    await WaitForWakeAsync(connectionWake, null, cancellationToken);
                    continue;
                }

                if (await IsHealthyAsync(cancellationToken))
                {
                    // A publish that timed out on a live connection left its event queued: try it again.
                    sendWake.Writer.TryWrite(true);
                }
                else
                {
                    await LoseConnectionAsync(cancellationToken);
                    await connectPipeline.ExecuteAsync(static (self, token) => self.ConnectOnceAsync(token), this, cancellationToken);
                }

                await WaitForWakeAsync(connectionWake, Options.ConnectionCheckInterval, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // A watchdog, like firmware has: an unexpected failure is reported and the loop carries on after a pause.
                Log($"connection loop failed unexpectedly, retrying after {Options.ConnectionCheckInterval}: {ex}");
                await WaitForWakeAsync(connectionWake, Options.ConnectionCheckInterval, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        IMqttClient? current;
        lock (gate)
        {
            current = connected ? client : null;
        }

        if (current is null || !current.IsConnected)
        {
            return false;
        }

        using var io = NetworkTimeout(cancellationToken);
        return await current.TryPingAsync(io.Token);
    }

    private async Task LoseConnectionAsync(CancellationToken cancellationToken)
    {
        bool wasConnected;
        await connectionGate.WaitAsync(cancellationToken);
        try
        {
            lock (gate)
            {
                wasConnected = connected;
            }

            DisposeClient();
        }
        finally
        {
            connectionGate.Release();
        }

        if (wasConnected)
        {
            Log("connection lost (no answer to ping)");
            MarkDisconnected();
        }
    }

    private async ValueTask<ConnectOutcome> ConnectOnceAsync(CancellationToken cancellationToken)
    {
        await connectionGate.WaitAsync(cancellationToken);
        ConnectOutcome outcome;
        try
        {
            outcome = await ConnectLockedAsync(cancellationToken);
        }
        finally
        {
            connectionGate.Release();
        }

        if (outcome == ConnectOutcome.Connected)
        {
            sendWake.Writer.TryWrite(true);
            ConnectionChanged?.Invoke(this, true);
        }

        return outcome;
    }

    private async Task<ConnectOutcome> ConnectLockedAsync(CancellationToken stopping)
    {
        using var io = NetworkTimeout(stopping);
        var cancellationToken = io.Token;
        IMqttClient? candidate = null;
        var online = false;
        try
        {
            lock (gate)
            {
                if (paused || stopped)
                {
                    return ConnectOutcome.Paused;
                }
            }

            DisposeClient();
            candidate = new MqttClientFactory().CreateMqttClient();
            var self = candidate;
            self.ApplicationMessageReceivedAsync += OnMessageReceivedAsync;
            self.DisconnectedAsync += e => OnClientDisconnectedAsync(self, e);

            var result = await self.ConnectAsync(BuildClientOptions(), cancellationToken);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                Log($"broker refused the connection: {result.ResultCode} {result.ReasonString}");
                return ConnectOutcome.Failed;
            }

            lock (gate)
            {
                client = self;
            }

            var subscribe = new MqttClientSubscribeOptionsBuilder();
            foreach (var topic in Subscriptions)
            {
                subscribe.WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce);
            }

            var subscribed = await self.SubscribeAsync(subscribe.Build(), cancellationToken);
            foreach (var item in subscribed.Items)
            {
                if (item.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2)
                {
                    Log($"broker refused subscription to {item.TopicFilter.Topic}: {item.ResultCode}");
                }
            }

            var status = WireFormat.Write(new DeviceStatus(DeviceState.Online, Now(), Options.Firmware));
            foreach (var topic in StatusTopics)
            {
                await self.PublishAsync(Message(topic, status, retain: true), cancellationToken);
            }

            await OnConnectedAsync(cancellationToken);

            lock (gate)
            {
                connected = true;
                RequeueAfterReconnectLocked();
                connectedSignal.TrySetResult();
                if (disconnectedSignal.Task.IsCompleted)
                {
                    disconnectedSignal = NewSignal();
                }
            }

            online = true;
            Log($"online at {Options.Broker}");
            return ConnectOutcome.Connected;
        }
        finally
        {
            if (!online && candidate is not null)
            {
                lock (gate)
                {
                    if (ReferenceEquals(client, candidate))
                    {
                        client = null;
                    }
                }

                candidate.Dispose();
            }
        }
    }

    private MqttClientOptions BuildClientOptions()
    {
        // The broker sends the will unchanged when the connection dies, so its "at" is the time of connection:
        // the service should take the time it receives the will as the time the device went offline.
        var will = WireFormat.Write(new DeviceStatus(DeviceState.Offline, Now(), Options.Firmware));
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(Options.Broker.Host, Options.Broker.Port)
            .WithClientId(DeviceId)
            .WithCredentials(DeviceId, password)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(Options.KeepAlive)
            .WithTimeout(Options.ConnectTimeout)
            .WithWillTopic(StatusTopics[0])
            .WithWillPayload(will)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithWillRetain(true);
        if (Options.Tls is { } tls)
        {
            // With a certificate the broker takes the identity from it; the password is still sent and still checked by the embedded broker.
            builder.WithTlsOptions(tls.For(DeviceId, Options.Broker.Host));
        }

        return builder.Build();
    }

    private Task OnClientDisconnectedAsync(IMqttClient source, MqttClientDisconnectedEventArgs e)
    {
        lock (gate)
        {
            if (!ReferenceEquals(source, client))
            {
                return Task.CompletedTask;
            }
        }

        Log($"disconnected: {e.Reason} {e.Exception?.Message}");
        MarkDisconnected();

        // Only wake the loop; it reconnects. Reconnecting from here would re-enter the client from its own event.
        connectionWake.Writer.TryWrite(true);
        return Task.CompletedTask;
    }

    private void MarkDisconnected()
    {
        lock (gate)
        {
            if (!connected)
            {
                return;
            }

            connected = false;
            disconnectedSignal.TrySetResult();
            if (connectedSignal.Task.IsCompleted)
            {
                connectedSignal = NewSignal();
            }
        }

        ConnectionChanged?.Invoke(this, false);
    }

    private void DisposeClient()
    {
        IMqttClient? old;
        lock (gate)
        {
            old = client;
            client = null;
        }

        // Dispose closes the socket without an MQTT DISCONNECT: to the broker that is an unclean drop.
        old?.Dispose();
    }

    private async Task AnnounceOfflineAndDisconnectAsync()
    {
        IMqttClient? current;
        lock (gate)
        {
            current = connected ? client : null;
        }

        if (current is null || !current.IsConnected)
        {
            return;
        }

        using var io = NetworkTimeout(CancellationToken.None);
        try
        {
            var status = WireFormat.Write(new DeviceStatus(DeviceState.Offline, Now(), Options.Firmware));
            foreach (var topic in StatusTopics)
            {
                await current.PublishAsync(Message(topic, status, retain: true), io.Token);
            }

            await current.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), io.Token);
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            Log($"could not say goodbye cleanly: {ex.Message}");
        }
    }

    // ---- messages ---------------------------------------------------------------------------------

    private async Task OnMessageReceivedAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        var payload = e.ApplicationMessage.Payload;
        var address = Topics.Parse(topic);
        switch (address.Kind)
        {
            case TopicKind.ReaderDecisions:
                var decision = WireFormat.ParseDecision(payload);
                await (decision.Success ? HandleDecisionAsync(address.DeviceId, decision.Value!) : HandleMalformedAsync(topic, decision.Error!));
                break;
            case TopicKind.ReaderCommands:
                var readerCommand = WireFormat.ParseReaderCommand(payload);
                await (readerCommand.Success ? HandleReaderCommandAsync(address.DeviceId, readerCommand.Value!) : HandleMalformedAsync(topic, readerCommand.Error!));
                break;
            case TopicKind.DoorCommands when payload.IsEmpty:
                // An empty retained message clears a retained command: nothing to do.
                break;
            case TopicKind.DoorCommands:
                var command = WireFormat.ParseDoorCommand(payload);
                await (command.Success ? HandleDoorCommandAsync(address.DeviceId, command.Value!) : HandleMalformedAsync(topic, command.Error!));
                break;
            default:
                await HandleOtherMessageAsync(topic, payload);
                break;
        }
    }

    // ---- sending ----------------------------------------------------------------------------------

    private enum PublishOutcome
    {
        /// <summary>PUBACK below 0x80 (0x00, or 0x10 no matching subscribers): the broker took it.</summary>
        Accepted,

        /// <summary>PUBACK 0x80 or above, other than the two below: not taken, re-send it.</summary>
        Refused,

        /// <summary>PUBACK 0x95 packet too large: never taken, whatever happens.</summary>
        TooLarge,

        /// <summary>PUBACK 0x87 not authorized: the device may not use the topic (now).</summary>
        NotAuthorized,

        /// <summary>No PUBACK: the connection failed or the publish timed out.</summary>
        Failed,
    }

    // Mosquitto 2.0 and the embedded broker answer an over-limit payload with 0x95, which MQTTnet's enum does not name.
    private const MqttClientPublishReasonCode PacketTooLarge = (MqttClientPublishReasonCode)0x95;

    private async Task SendLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await WaitForWakeAsync(sendWake, null, cancellationToken);
                while (TryTakeNextToSend(out var item, out var current))
                {
                    var outcome = await PublishEventAsync(current, item, cancellationToken);
                    if (CompletePublish(item, outcome))
                    {
                        await GiveUpConnectionAsync(cancellationToken);
                        break;
                    }

                    if (outcome == PublishOutcome.Failed)
                    {
                        connectionWake.Writer.TryWrite(true);
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private bool TryTakeNextToSend(out PendingEvent item, out IMqttClient current)
    {
        lock (gate)
        {
            if (connected && client is not null)
            {
                for (var node = buffer.First; node is not null; node = node.Next)
                {
                    if (node.Value.State == PendingEventState.Queued)
                    {
                        item = node.Value;
                        item.State = PendingEventState.InFlight;
                        if (!item.Offline && !item.Perishable && Time.GetElapsedTime(item.CreatedTimestamp) >= Options.MarkOfflineAfter)
                        {
                            item.MarkOffline();
                            Log($"event {item.EventId} unanswered for {Options.MarkOfflineAfter.TotalMinutes:0.###} min; re-sent with \"offline\":true from now on");
                        }

                        current = client;
                        return true;
                    }
                }
            }
        }

        item = null!;
        current = null!;
        return false;
    }

    private async Task<PublishOutcome> PublishEventAsync(IMqttClient current, PendingEvent item, CancellationToken cancellationToken)
    {
        using var io = NetworkTimeout(cancellationToken);
        try
        {
            var result = await current.PublishAsync(Message(item.Topic, item.Payload, retain: false), io.Token);
            if ((int)result.ReasonCode < 0x80)
            {
                return PublishOutcome.Accepted;
            }

            item.LastRefusal = $"PUBACK 0x{(int)result.ReasonCode:x2} {result.ReasonString}".TrimEnd();
            Log($"broker refused event {item.EventId}: {item.LastRefusal}");
            return result.ReasonCode switch
            {
                PacketTooLarge => PublishOutcome.TooLarge,
                MqttClientPublishReasonCode.NotAuthorized => PublishOutcome.NotAuthorized,
                _ => PublishOutcome.Refused,
            };
        }
        catch (Exception ex) when (IsConnectionFailure(ex))
        {
            // While stopping, StopAsync disconnects the client under an event in flight and only then cancels: the
            // publish may fail either way, and the event stays in the buffer (StopAsync abandons what is left). Before,
            // a disconnect noticed after the cancellation escaped the send loop and failed the device's DisposeAsync.
            if (!cancellationToken.IsCancellationRequested)
            {
                Log($"could not publish event {item.EventId}, kept in buffer: {ex.GetType().Name}: {ex.Message}");
            }

            return PublishOutcome.Failed;
        }
    }

    /// <returns>True when the device must stop re-sending and disconnect: <see cref="DeviceOptions.NotAuthorizedTimeout"/> of 0x87 has passed.</returns>
    private bool CompletePublish(PendingEvent item, PublishOutcome outcome)
    {
        DeviceFault? fault = null;
        var giveUp = false;
        lock (gate)
        {
            if (outcome == PublishOutcome.Accepted)
            {
                notAuthorizedSince = null;
                item.LastRefusal = null;
                item.Publishes++;
                if (item.Publishes == 1)
                {
                    sent++;
                }
                else
                {
                    resent++;
                }
            }

            if (item.State == PendingEventState.InFlight)
            {
                switch (outcome)
                {
                    case PublishOutcome.Failed:
                        item.State = PendingEventState.Queued;
                        break;
                    case PublishOutcome.Accepted when item.AwaitsDecision:
                        item.State = PendingEventState.AwaitingDecision;
                        ArmResendLocked(item, NextResendDelay(item));
                        break;
                    case PublishOutcome.Accepted:
                        RetireLocked(item);
                        acked++;
                        break;
                    case PublishOutcome.TooLarge:
                        RetireLocked(item);
                        fault = FaultLocked(DeviceFaultKind.PayloadTooLarge, item);
                        break;
                    case PublishOutcome.NotAuthorized:
                        notAuthorizedSince ??= Time.GetTimestamp();
                        giveUp = Time.GetElapsedTime(notAuthorizedSince.Value) >= Options.NotAuthorizedTimeout;
                        fault = FaultLocked(giveUp ? DeviceFaultKind.GaveUpNotAuthorized : DeviceFaultKind.NotAuthorized, item);
                        KeepRefusedLocked(item, giveUp ? null : Options.MaxResendInterval);
                        break;
                    case PublishOutcome.Refused:
                        KeepRefusedLocked(item, NextResendDelay(item));
                        break;
                }
            }
        }

        if (fault is not null)
        {
            Log($"fault {fault.Kind}: event {fault.EventId} (seq {fault.Seq}) {fault.Detail}"
                + (fault.Kind switch
                {
                    DeviceFaultKind.PayloadTooLarge => "; dropped, never re-sent",
                    DeviceFaultKind.NotAuthorized => $"; kept, re-sent every {Options.MaxResendInterval.TotalSeconds:0.###} s",
                    _ => $"; refused for {Options.NotAuthorizedTimeout.TotalMinutes:0.###} min, stopped re-sending and disconnecting",
                }));
            FaultReported?.Invoke(fault);
        }

        if (fault?.Kind == DeviceFaultKind.PayloadTooLarge)
        {
            item.Abandon();
        }

        item.MarkHandedOff();
        return giveUp;
    }

    private DeviceFault FaultLocked(DeviceFaultKind kind, PendingEvent item) =>
        new(kind, item.EventId, item.Seq, Time.GetElapsedTime(item.CreatedTimestamp), item.LastRefusal ?? "");

    /// <summary>
    /// A refused event stays in the buffer and is re-sent after <paramref name="delay"/>; with none, only after the next
    /// reconnection. A perishable one (a heartbeat) is dropped: it would mean nothing later.
    /// </summary>
    private void KeepRefusedLocked(PendingEvent item, TimeSpan? delay)
    {
        if (item.Perishable)
        {
            RetireLocked(item);
            return;
        }

        item.State = PendingEventState.Refused;
        if (delay is { } due)
        {
            ArmResendLocked(item, due);
        }
    }

    private void ArmResendLocked(PendingEvent item, TimeSpan delay)
    {
        item.ResendTimer?.Dispose();
        item.ResendTimer = Time.CreateTimer(OnResendDue, item, delay, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Stops re-sending after <see cref="DeviceOptions.NotAuthorizedTimeout"/> of 0x87: disconnects cleanly and lets the connection loop try again.</summary>
    private async Task GiveUpConnectionAsync(CancellationToken cancellationToken)
    {
        await DisconnectCleanlyAsync(cancellationToken);
        connectionWake.Writer.TryWrite(true);
    }

    /// <summary>Announces offline status, sends MQTT DISCONNECT (so the broker drops the last will) and closes the client.</summary>
    private async Task DisconnectCleanlyAsync(CancellationToken cancellationToken)
    {
        await connectionGate.WaitAsync(cancellationToken);
        try
        {
            await AnnounceOfflineAndDisconnectAsync();
            DisposeClient();
        }
        finally
        {
            connectionGate.Release();
        }

        MarkDisconnected();
    }

    private void OnResendDue(object? state)
    {
        var item = (PendingEvent)state!;
        lock (gate)
        {
            item.ResendTimer?.Dispose();
            item.ResendTimer = null;
            if (item.State is not (PendingEventState.AwaitingDecision or PendingEventState.Refused))
            {
                return;
            }

            item.ResendsThisConnection++;
            item.State = PendingEventState.Queued;
        }

        Log($"{(item.LastRefusal is null ? "no decision" : "refused")} for event {item.EventId}; re-sending (re-send {item.ResendsThisConnection} on this connection)");
        sendWake.Writer.TryWrite(true);
    }

    /// <summary>The wait before the next re-send: <see cref="DeviceOptions.ResendInterval"/>, doubled per re-send so far, at most <see cref="DeviceOptions.MaxResendInterval"/>.</summary>
    private TimeSpan NextResendDelay(PendingEvent item)
    {
        var delay = Options.ResendInterval * Math.Pow(2, Math.Min(item.ResendsThisConnection, 30));
        return delay < Options.MaxResendInterval ? delay : Options.MaxResendInterval;
    }

    private void RequeueAfterReconnectLocked()
    {
        notAuthorizedSince = null;
        foreach (var item in buffer)
        {
            item.ResendsThisConnection = 0;
            if (item.State is PendingEventState.AwaitingDecision or PendingEventState.Refused)
            {
                item.ResendTimer?.Dispose();
                item.ResendTimer = null;
                item.State = PendingEventState.Queued;
            }
        }
    }

    private PendingEvent? EvictOldestLocked()
    {
        for (var node = buffer.First; node is not null; node = node.Next)
        {
            if (node.Value.State != PendingEventState.InFlight)
            {
                var victim = node.Value;
                RetireLocked(victim);
                dropped++;
                return victim;
            }
        }

        return null;
    }

    private void RetireLocked(PendingEvent item)
    {
        if (item.Node is { List: not null } node)
        {
            buffer.Remove(node);
        }

        byEventId.Remove(item.EventId);
        awaitingFinal.Remove(item.EventId);
        item.ResendTimer?.Dispose();
        item.ResendTimer = null;
        item.FinalDecisionTimer?.Dispose();
        item.FinalDecisionTimer = null;
        item.State = PendingEventState.Retired;
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private async Task WaitForWakeAsync(Channel<bool> wake, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (wake.Reader.TryRead(out _))
        {
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var woken = wake.Reader.WaitToReadAsync(stop.Token).AsTask();
        if (timeout is { } delay)
        {
            await Task.WhenAny(woken, Task.Delay(delay, Time, stop.Token));
        }
        else
        {
            await ((Task)woken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await stop.CancelAsync();
        cancellationToken.ThrowIfCancellationRequested();
        wake.Reader.TryRead(out _);
    }

    /// <summary>
    /// A timeout for one network operation, in real time: it bounds real I/O, which a simulated clock cannot speed
    /// up (and which a test clock jumping ahead must not cut short). Only the device's behaviour runs on <see cref="Time"/>.
    /// </summary>
    private CancellationTokenSource NetworkTimeout(CancellationToken stopping)
    {
        var io = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        io.CancelAfter(Options.ConnectTimeout);
        return io;
    }

    private static MqttApplicationMessage Message(string topic, ReadOnlyMemory<byte> payload, bool retain) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayloadSegment(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain)
            .Build();

    private static bool IsConnectionFailure(Exception ex) =>
        ex is MqttCommunicationException or OperationCanceledException or ObjectDisposedException or IOException;

    private static Channel<bool> NewWakeChannel() =>
        Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static TaskCompletionSource NewCompletedSignal()
    {
        var signal = NewSignal();
        signal.SetResult();
        return signal;
    }
}

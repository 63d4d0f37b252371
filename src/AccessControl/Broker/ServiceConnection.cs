using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using AccessControl.Devices;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace AccessControl.Broker;

/// <summary>A message the service received, copied out of the MQTT client's buffers so it can outlive the handler.</summary>
/// <param name="Retained">
/// Delivered from the broker's retained store (at subscribe), not as it was published: the service subscribes without
/// retain-as-published, so a broker clears the flag on what it forwards live (MQTT 5, 3.3.1.3).
/// </param>
public sealed record ReceivedMessage(string Topic, ReadOnlyMemory<byte> Payload, bool Retained);

/// <summary>Whether the broker took a message (PUBACK received), or why not. Not being connected is an expected outcome, not an exception.</summary>
public readonly record struct PublishOutcome(bool Accepted, string? Failure)
{
    public static PublishOutcome Ok { get; } = new(true, null);

    public static PublishOutcome Failed(string why) => new(false, why);
}

/// <summary>
/// The service's own MQTT connection (username <see cref="DeviceSecrets.ServiceUsername"/>), to the embedded broker
/// or an external one. Keeps itself connected: a background loop pings the broker and, when the connection is gone,
/// reconnects through a Polly retry pipeline (exponential backoff with jitter) and subscribes again to
/// <see cref="Topics.ServiceSubscriptions"/>. Received messages are copied into <see cref="Received"/> and handled
/// elsewhere, because MQTTnet delivers one message at a time per client and a slow handler would stall the reader.
/// </summary>
/// <remarks>
/// With <see cref="BrokerOptions.PublisherConnection"/> (the default) the service also logs in as
/// <see cref="DeviceSecrets.ServicePublisherUsername"/> and publishes over that second connection, which subscribes to
/// nothing: an answer then never waits for the main connection's send lock (taken by the PUBACK of every event received)
/// and its PUBACK never queues in the loop that reads the events. The same background loop keeps it up; while it is
/// down, publishes go over the main connection, so it can only make answers quicker, never stop them.
/// Reconnection happens only in the background loop, never inside MQTTnet's DisconnectedAsync handlers (re-entering
/// the client from its own disconnect path deadlocks or races it); each connection's handler only wakes the loop. The session is
/// clean: messages published while the service is away are not queued for it; readers keep and replay offline events.
/// With <see cref="BrokerOptions.ReceiveThreads"/> (the default) each connection is read by a thread of its own
/// (<see cref="BlockingTcpChannel"/>), and <c>deliver</c> runs on the subscribing connection's (<see cref="DirectDeliveryAdapter"/>).
/// Event handlers (<see cref="Connected"/>, <see cref="Disconnected"/>, <see cref="ConnectFailed"/>) run on the loop,
/// the client's task or a reading thread, and must return quickly and never wait synchronously on the connection.
/// </remarks>
public sealed class ServiceConnection : IServiceLink
{
    private readonly BrokerOptions options;
    private readonly TimeProvider time;
    private readonly Topics topics;
    private readonly IMqttClient client;
    private readonly MqttClientOptions clientOptions;
    private readonly IMqttClient? publisher;
    private readonly MqttClientOptions? publisherOptions;
    private string? publisherProblem;
    private long publisherRefusedAt;
    private readonly ResiliencePipeline<MqttClientConnectResult> connectPipeline;
    private readonly Channel<ReceivedMessage> received;
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource firstRound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? loop;
    private volatile bool subscribed;
    private readonly Func<ReceivedMessage, CancellationToken, ValueTask>? deliver;
    private bool deliveryWaiting;
    private readonly ServiceAdapterFactory? adapters;

    /// <param name="options">Must be valid (<see cref="BrokerOptions.Validate"/>); Host/Port are where to connect.</param>
    /// <param name="time">Drives retry delays, attempt timeouts and the ping interval.</param>
    /// <param name="deliver">
    /// Optional: where received messages go directly (the event pipeline), saving a hop through <see cref="Received"/>.
    /// It may wait (back-pressure), which holds back this client's reading as a full <see cref="Received"/> would.
    /// </param>
    public ServiceConnection(BrokerOptions options, DeviceSecrets secrets, TimeProvider time, Func<ReceivedMessage, CancellationToken, ValueTask>? deliver = null)
    {
        this.deliver = deliver;
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        this.options = options;
        this.time = time;
        topics = new Topics(options.TopicRoot);
        received = Channel.CreateBounded<ReceivedMessage>(new BoundedChannelOptions(options.ReceiveQueueCapacity)
        {
            SingleReader = false,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        clientOptions = BuildClientOptions(options, secrets, options.ClientId, DeviceSecrets.ServiceUsername);
        var factory = new MqttClientFactory();
        // The TLS material is loaded once, for the channel in use: ours (ClientSsl) or MQTTnet's (ClientTls, in BuildClientOptions).
        var tls = options.ReceiveThreads && options.Tls is { Enabled: true } enabled ? ClientSsl(enabled, options.Host) : null;
        client = options.ReceiveThreads
            ? factory.CreateMqttClient(adapters = new ServiceAdapterFactory(tls, "ac-mqtt-in", deliver is null ? null : DeliverDirectlyAsync, options.ReceiveQueueCapacity))
            : factory.CreateMqttClient();
        client.ApplicationMessageReceivedAsync += OnMessageReceivedAsync;
        client.DisconnectedAsync += OnDisconnectedAsync;
        // With a client certificate the certificate names the identity (Mosquitto: use_identity_as_username), and a
        // second login with the same certificate would take over the first one's session: one connection then.
        if (options.PublisherConnection && string.IsNullOrWhiteSpace(options.Tls?.ClientCertFile))
        {
            publisherOptions = BuildClientOptions(options, secrets, options.PublisherClientId, options.PublisherClientId);
            publisher = options.ReceiveThreads ? factory.CreateMqttClient(new ServiceAdapterFactory(tls, "ac-mqtt-out", null)) : factory.CreateMqttClient();
            publisher.DisconnectedAsync += OnPublisherDisconnectedAsync;
        }

        connectPipeline = BuildConnectPipeline();
    }

    private static MqttClientOptions BuildClientOptions(BrokerOptions options, DeviceSecrets secrets, string clientId, string username)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            .WithClientId(clientId)
            .WithCredentials(username, secrets.For(username))
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(options.KeepAlive)
            .WithTimeout(options.ConnectTimeout)
            // MQTT 5 flow control: the broker keeps no more unacknowledged messages in flight to the service than it can
            // hold while its pipeline is full (DirectDeliveryAdapter), instead of the 65,535 a client allows by default.
            .WithReceiveMaximum((ushort)Math.Clamp(options.ReceiveQueueCapacity, 1, ushort.MaxValue))
            // One write per packet: MQTTnet otherwise writes a PUBLISH's header and payload separately, two segments
            // (TCP_NODELAY) that wake the broker twice per decision (docs/benchmarks.md, fifth session).
            .WithoutPacketFragmentation();
        if (!options.ReceiveThreads && options.Tls is { Enabled: true } tls)
        {
            // The files are read once here; a renewed service certificate applies when the service restarts.
            builder.WithTlsOptions(ClientTls(tls, options.Host));
        }

        return builder.Build();
    }

    /// <summary>Raised when connected and subscribed (first time and after every reconnection).</summary>
    public event Action? Connected;

    /// <summary>Raised when an established connection is lost or closed, with a reason for the log.</summary>
    public event Action<string>? Disconnected;

    /// <summary>Raised for every failed connect or subscribe attempt, with a reason for the log (never a password).</summary>
    public event Action<string>? ConnectFailed;

    /// <summary>Connected and subscribed: messages for the service will arrive.</summary>
    public bool IsConnected => subscribed && client.IsConnected;

    /// <summary>With the reading threads: the most events ever kept behind a held-up delivery (MQTT 5 flow control bounds it).</summary>
    internal int HeldPeak => adapters?.HeldPeak ?? 0;

    /// <summary>Messages from the subscribed topics, in arrival order. Read it continuously; a full queue stops the MQTT client.</summary>
    public ChannelReader<ReceivedMessage> Received => received.Reader;

    /// <summary>
    /// Starts the background loop and returns after its first connection round (connected, or retries exhausted,
    /// in which case the loop keeps trying: check <see cref="IsConnected"/> or wait for <see cref="Connected"/>).
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(stopping.IsCancellationRequested, this);
        loop ??= Task.Run(() => RunAsync(stopping.Token), CancellationToken.None);
        await firstRound.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Whether publishes currently go over the second, publish-only connection.</summary>
    public bool PublishesSeparately => publisher is { IsConnected: true };

    /// <summary>Publishes with QoS 1 (over the publishing connection when it is up) and waits for the broker's PUBACK.</summary>
    public async Task<PublishOutcome> PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        var over = publisher is { IsConnected: true } separate ? separate : client;
        if (!over.IsConnected)
        {
            return PublishOutcome.Failed("not connected to the broker");
        }

        return await SendAsync(over, topic, payload, retain, cancellationToken);
    }

    /// <summary>Publishes over <paramref name="over"/>, found connected a moment ago: it may be torn down since.</summary>
    internal async Task<PublishOutcome> SendAsync(IMqttClient over, string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessage
        {
            Topic = topic,
            Payload = new ReadOnlySequence<byte>(payload),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
            Retain = retain,
            MessageExpiryInterval = retain ? 0 : CommandExpiry(topics, topic, payload),
        };

        try
        {
            var result = await over.PublishAsync(message, cancellationToken);
            return result.IsSuccess ? PublishOutcome.Ok : PublishOutcome.Failed($"broker answered {result.ReasonCode}");
        }
        catch (MqttCommunicationException e)
        {
            return PublishOutcome.Failed("connection lost while publishing: " + e.Message);
        }
        catch (Exception e) when (e is ObjectDisposedException or NullReferenceException && (!over.IsConnected || stopping.IsCancellationRequested))
        {
            // MQTTnet checks the connection once, then uses what closing it releases (the channel, the packet dispatcher,
            // the client itself when the service is disposed): closed in between, it throws these instead of its
            // not-connected exception. Nothing was acknowledged, so it is a failure like a lost connection. While still
            // connected (and not stopping) the same exceptions are bugs, and are left to say so.
            return PublishOutcome.Failed($"connection closed while publishing ({e.GetType().Name})");
        }
    }

    /// <summary>
    /// The MQTT 5 message expiry of a command that is only good for a while (0, no expiry, for anything else): an unlock
    /// its own seconds, a fingerprint request its <c>timeoutSeconds</c>. An external broker keeps the session of a device
    /// that connected with CleanSession=0 and would hand it, when it reconnects, every command queued meanwhile: a door
    /// opening for a person long gone, a reader asking for a finger nobody presents, with the person's templates kept
    /// in the broker all that time. With the expiry the broker drops a command it could not start delivering within the
    /// time it is good for. (The embedded broker keeps no session of a disconnected client; <see cref="InProcessLink"/>
    /// sets it all the same, so that devices see the same message from either broker.)
    /// </summary>
    internal static uint CommandExpiry(Topics topics, string topic, ReadOnlyMemory<byte> payload)
    {
        // Every publish passes here, a decision for each swipe among them: only a commands topic is parsed any further.
        if (!topic.EndsWith("/commands", StringComparison.Ordinal))
        {
            return 0;
        }

        var kind = topics.Parse(topic).Kind;
        if (kind == TopicKind.DoorCommands)
        {
            var command = WireFormat.ParseDoorCommand(new ReadOnlySequence<byte>(payload)).Value;
            return command is { Command: DoorCommands.Unlock, Seconds: > 0 } ? (uint)command.Seconds : 0;
        }

        if (kind == TopicKind.ReaderCommands)
        {
            var command = WireFormat.ParseReaderCommand(new ReadOnlySequence<byte>(payload)).Value;
            return command is { Command: ReaderCommands.VerifyFingerprint, TimeoutSeconds: > 0 } ? (uint)command.TimeoutSeconds : 0;
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (stopping.IsCancellationRequested)
        {
            return;
        }

        await stopping.CancelAsync();
        if (loop is not null)
        {
            await loop;
        }

        await SayGoodbyeAsync(client);
        if (publisher is not null)
        {
            await SayGoodbyeAsync(publisher);
            publisher.Dispose();
        }

        client.Dispose();
        received.Writer.TryComplete();
        stopping.Dispose();
    }

    private async Task SayGoodbyeAsync(IMqttClient which)
    {
        if (!which.IsConnected)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(options.ConnectTimeout, time);
            await which.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), timeout.Token);
        }
        catch (MqttCommunicationException)
        {
            // The broker is already gone; there is nobody left to say goodbye to.
        }
        catch (OperationCanceledException)
        {
            // Same: the goodbye timed out.
        }
    }

    private const System.Security.Authentication.SslProtocols TlsProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13;

    /// <summary>
    /// TLS with the service's own certificate (CN <c>ac-service</c>), trusting only the site CA for the broker's
    /// certificate, which must also carry the host name connected to. Shared with tools that connect like the service.
    /// </summary>
    public static MqttClientTlsOptions ClientTls(BrokerTlsOptions tls, string host)
    {
        var ca = Tls.TlsFiles.LoadCertificate(tls.CaFile);
        var builder = new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithSslProtocols(TlsProtocols)
            .WithTargetHost(tls.TargetHost ?? host)
            .WithCertificateValidationHandler(args => Tls.TlsFiles.IsTrustedServer(args.Certificate, args.SslPolicyErrors, ca));
        if (!string.IsNullOrWhiteSpace(tls.ClientCertFile))
        {
            builder.WithClientCertificates([Tls.TlsFiles.LoadCertificateWithKey(tls.ClientCertFile, tls.ClientKeyFile, tls.ClientCertPassword)]);
        }

        return builder.Build();
    }

    /// <summary>The same trust as <see cref="ClientTls"/>, for <see cref="BlockingTcpChannel"/>, which runs the TLS handshake itself.</summary>
    private static SslClientAuthenticationOptions ClientSsl(BrokerTlsOptions tls, string host)
    {
        var ca = Tls.TlsFiles.LoadCertificate(tls.CaFile);
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = tls.TargetHost ?? host,
            EnabledSslProtocols = TlsProtocols,
            RemoteCertificateValidationCallback = (_, certificate, _, errors) => Tls.TlsFiles.IsTrustedServer(certificate, errors, ca),
        };
        if (!string.IsNullOrWhiteSpace(tls.ClientCertFile))
        {
            ssl.ClientCertificates = [Tls.TlsFiles.LoadCertificateWithKey(tls.ClientCertFile, tls.ClientKeyFile, tls.ClientCertPassword)];
        }

        return ssl;
    }

    private ResiliencePipeline<MqttClientConnectResult> BuildConnectPipeline()
    {
        var builder = new ResiliencePipelineBuilder<MqttClientConnectResult> { TimeProvider = time };
        // One attempt per round is a valid setting; Polly refuses a retry strategy with no retries.
        if (options.ConnectAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions<MqttClientConnectResult>
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: { } e } => IsTransient(e, args.Context.CancellationToken),
                    { Result: { } r } => r.ResultCode != MqttClientConnectResultCode.Success,
                    _ => false,
                }),
                MaxRetryAttempts = options.ConnectAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                OnRetry = args =>
                {
                    ConnectFailed?.Invoke($"connect attempt {args.AttemptNumber + 1} failed: {Describe(args.Outcome)}; retrying in {args.RetryDelay.TotalMilliseconds:0} ms");
                    return ValueTask.CompletedTask;
                },
            });
        }

        return builder.AddTimeout(options.ConnectTimeout).Build();
    }

    private static bool IsTransient(Exception e, CancellationToken stop) => e switch
    {
        MqttCommunicationException or SocketException or TimeoutRejectedException => true,
        OperationCanceledException => !stop.IsCancellationRequested,
        _ => false,
    };

    private static string Describe(Outcome<MqttClientConnectResult> outcome) =>
        outcome.Exception is { } e
            ? $"{e.GetType().Name}: {e.Message}"
            : $"broker refused the connection ({outcome.Result?.ResultCode})";

    private async Task RunAsync(CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // A fresh wake signal before checking, so a disconnect during this round is never missed.
                var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref wake, woken);

                try
                {
                    if (!await IsAliveAsync(stop))
                    {
                        await ReconnectAsync(stop);
                    }

                    if (subscribed && publisher is not null && !(publisher.IsConnected && await publisher.TryPingAsync(stop)))
                    {
                        await ConnectPublisherAsync(publisher, stop);
                    }
                }
                catch (Exception e)
                {
                    if (stop.IsCancellationRequested)
                    {
                        // Disposed during the round: whatever it ran into no longer matters, and escaping from here
                        // would make DisposeAsync throw before it has closed and released the clients.
                        break;
                    }

                    // Nothing else reconnects the service: a surprise from the MQTT client must not end this loop.
                    // It is reported, and the next round starts from scratch.
                    subscribed = false;
                    ConnectFailed?.Invoke($"unexpected {e.GetType().Name} in the connection loop: {e.Message}");
                }

                firstRound.TrySetResult();
                using var interval = CancellationTokenSource.CreateLinkedTokenSource(stop);
                var delay = Task.Delay(options.PingInterval, time, interval.Token);
                await Task.WhenAny(delay, woken.Task);
                await interval.CancelAsync();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed: the loop ends here.
        }
        finally
        {
            firstRound.TrySetResult();
        }
    }

    /// <summary>How long the publishing login waits after the broker refused it: the broker's config will not change by itself.</summary>
    internal static readonly TimeSpan PublisherRetryAfterRefusal = TimeSpan.FromMinutes(1);

    /// <summary>
    /// One attempt per round (the main connection has the retries): a problem is reported once, not every round, and
    /// publishes meanwhile go over the main connection. After a refusal the next attempt waits
    /// <see cref="PublisherRetryAfterRefusal"/>, so a broker without the identity does not log a refused login every round.
    /// </summary>
    private async Task ConnectPublisherAsync(IMqttClient publishing, CancellationToken stop)
    {
        if (publisherRefusedAt != 0 && time.GetElapsedTime(publisherRefusedAt) < PublisherRetryAfterRefusal)
        {
            return;
        }

        string? problem;
        var refused = false;
        try
        {
            if (publishing.IsConnected)
            {
                await publishing.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), stop);
            }

            // MQTTnet bounds the attempt itself (WithTimeout: ConnectTimeout).
            var result = await publishing.ConnectAsync(publisherOptions!, stop);
            publisherStillClosingRounds = 0;
            refused = result.ResultCode != MqttClientConnectResultCode.Success;
            problem = refused ? $"the broker refused it ({result.ResultCode})" : null;
        }
        catch (InvalidOperationException e) when (StillClosing(publishing))
        {
            // Not a problem of the connection, and no reason to drop the main one: the next round tries again. Unless
            // it lasts (as for the main connection, ReconnectAsync): then it is a failure to connect like another.
            if (++publisherStillClosingRounds < StillClosingReportAfter)
            {
                return;
            }

            problem = StillClosingProblem(publisherStillClosingRounds, e);
        }
        catch (Exception e) when (IsTransient(e, stop))
        {
            problem = $"{e.GetType().Name}: {e.Message}";
        }

        if (problem is not null && problem != publisherProblem)
        {
            ConnectFailed?.Invoke($"publishing connection as {options.PublisherClientId}: {problem}; publishing over the main connection meanwhile");
        }

        publisherProblem = problem;
        publisherRefusedAt = refused ? time.GetTimestamp() : 0;
    }

    /// <summary>Connected, subscribed and answering a ping; or held up by a full pipeline, when the ping's answer may wait behind the messages not yet taken.</summary>
    private async Task<bool> IsAliveAsync(CancellationToken stop) =>
        subscribed && client.IsConnected && (Volatile.Read(ref deliveryWaiting) || await client.TryPingAsync(stop));

    /// <summary>
    /// Whether MQTTnet refused to connect <paramref name="which"/> because it is still closing the connection it lost.
    /// The client closes a lost connection on a task of its own (it first waits for its received-message handler, which
    /// may wait on a full pipeline) and refuses ConnectAsync meanwhile with an <see cref="InvalidOperationException"/>,
    /// the only one it throws for a client that is not connected and has valid options; only this loop connects it.
    /// </summary>
    private static bool StillClosing(IMqttClient which) => !which.IsConnected;

    /// <summary>Rounds in a row that found the lost connection still closing before that is reported as a failure to connect.</summary>
    private const int StillClosingReportAfter = 3;

    private int stillClosingRounds;

    private int publisherStillClosingRounds;

    private static string StillClosingProblem(int rounds, InvalidOperationException e) =>
        $"the MQTT client still refuses to connect after {rounds} rounds ({e.Message})";

    private async Task ReconnectAsync(CancellationToken stop)
    {
        subscribed = false;
        if (client.IsConnected)
        {
            // Connected but not usable (ping failed or subscribing failed): start over with a clean connection.
            try
            {
                await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), stop);
            }
            catch (MqttCommunicationException)
            {
                // Already broken; ConnectAsync below is what matters.
            }
        }

        MqttClientConnectResult result;
        try
        {
            result = await connectPipeline.ExecuteAsync(async token => await client.ConnectAsync(clientOptions, token), stop);
        }
        catch (InvalidOperationException e) when (StillClosing(client))
        {
            // The lost connection is still being closed; its DisconnectedAsync (OnDisconnectedAsync) wakes this loop
            // once it is, and the next round connects. Nothing to report: the loss itself is reported there. Unless it
            // lasts: a close that never ends (or a refusal this reading mistook for one) must not hide a service that
            // stays cut off from every device without a word.
            if (++stillClosingRounds >= StillClosingReportAfter)
            {
                ConnectFailed?.Invoke($"could not connect to {options.Host}:{options.Port}: {StillClosingProblem(stillClosingRounds, e)}");
            }

            return;
        }
        catch (Exception e) when (IsTransient(e, stop))
        {
            ConnectFailed?.Invoke($"could not connect to {options.Host}:{options.Port}: {e.GetType().Name}: {e.Message}");
            return;
        }

        stillClosingRounds = 0;
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            ConnectFailed?.Invoke($"broker at {options.Host}:{options.Port} refused the connection ({result.ResultCode})");
            return;
        }

        // Statuses are retained on purpose (who is offline, learnt at subscribe); events never are, so one a device
        // published retained anyway is not handed over again at every (re)subscribe: MQTT 5's retain handling.
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in topics.ServiceSubscriptions)
        {
            subscribe.WithTopicFilter(new MqttTopicFilterBuilder().WithTopic(filter).WithAtLeastOnceQoS()
                .WithRetainHandling(filter.EndsWith("/events", StringComparison.Ordinal) ? MqttRetainHandling.DoNotSendOnSubscribe : MqttRetainHandling.SendAtSubscribe)
                .Build());
        }

        try
        {
            var granted = await client.SubscribeAsync(subscribe.Build(), stop);
            var refused = granted.Items.Where(i => i.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2).ToList();
            if (refused.Count > 0)
            {
                ConnectFailed?.Invoke("broker refused subscriptions: " + string.Join(", ", refused.Select(i => $"{i.TopicFilter.Topic} ({i.ResultCode})")));
                return;
            }
        }
        catch (MqttCommunicationException e)
        {
            ConnectFailed?.Invoke("connection lost while subscribing: " + e.Message);
            return;
        }

        subscribed = true;
        Connected?.Invoke();
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs e)
    {
        if (e.ClientWasConnected)
        {
            subscribed = false;
            Disconnected?.Invoke($"{e.Reason}{(e.Exception is null ? "" : ": " + e.Exception.Message)}");
            Volatile.Read(ref wake).TrySetResult();
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// The publishing connection's loss changes nothing in what the service receives (no <see cref="Disconnected"/>,
    /// publishes go over the main connection meanwhile), but it wakes the loop as the main connection's does, so the
    /// connection is back at once, not at the next ping round. A loss the loop caused itself only costs one more round.
    /// </summary>
    private Task OnPublisherDisconnectedAsync(MqttClientDisconnectedEventArgs e)
    {
        if (e.ClientWasConnected)
        {
            Volatile.Read(ref wake).TrySetResult();
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Where <see cref="DirectDeliveryAdapter"/> hands each received message, on the connection's reading thread. While
    /// <c>deliver</c> waits (a full pipeline), the adapter goes on reading and keeps the messages that follow, so pings are
    /// still answered; only past <see cref="BrokerOptions.ReceiveQueueCapacity"/> kept messages does the reading stop, and
    /// a ping then goes unanswered: the loop does not count that as a dead connection (see <see cref="IsAliveAsync"/>).
    /// </summary>
    private async ValueTask DeliverDirectlyAsync(MQTTnet.Packets.MqttPublishPacket packet)
    {
        var delivery = deliver!(new ReceivedMessage(packet.Topic, packet.Payload.ToArray(), packet.Retain), stopping.Token);
        if (delivery.IsCompletedSuccessfully)
        {
            return;
        }

        Volatile.Write(ref deliveryWaiting, true);
        try
        {
            await delivery;
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down: the device re-sends what was not acknowledged.
        }
        finally
        {
            Volatile.Write(ref deliveryWaiting, false);
        }
    }

    private async Task OnMessageReceivedAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var message = e.ApplicationMessage;
        var copy = new ReceivedMessage(message.Topic, message.Payload.ToArray(), message.Retain);
        if (deliver is not null)
        {
            try
            {
                await deliver(copy, stopping.Token);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // Shutting down: the device re-sends what was not acknowledged.
            }

            return;
        }

        if (received.Writer.TryWrite(copy))
        {
            return;
        }

        try
        {
            // Full: wait, which holds back this client's reading and so the PUBACK, letting the broker queue instead.
            await received.Writer.WriteAsync(copy, stopping.Token);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutting down: the service no longer reads the queue, so the message is dropped here.
        }
        catch (ChannelClosedException)
        {
            // Disposed; same as above.
        }
    }
}

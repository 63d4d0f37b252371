using System.Net;
using System.Net.Sockets;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using AccessControl.Broker.Tls;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using NodaTime;

namespace AccessControl.Broker;

/// <summary>
/// An MQTT broker inside the service process, for a site that runs without Mosquitto. Listens on 127.0.0.1 only
/// (devices reach it through the site's own network edge, never directly from outside), authenticates every device
/// with its derived secret and enforces <see cref="TopicPolicy"/> on every publish, subscription and last will.
/// </summary>
/// <remarks>
/// <para>
/// Login rules: the username must be a reader or door-controller id of the current topology, or
/// <see cref="DeviceSecrets.ServiceUsername"/> or <see cref="DeviceSecrets.MonitorUsername"/>; the password must be
/// <see cref="DeviceSecrets.For"/> that username; and the client id must equal the username. The last rule is what
/// stops one device from taking over another's session: MQTT lets a new connection with an existing client id kick
/// the old one off, so a stolen reader presenting client id "r2" could otherwise silence reader r2. It also means
/// that one device can hold one connection at a time: a second login as the same device closes the first, and is
/// reported as <see cref="SecurityEvent.SessionTakenOver"/> (a reconnect, or a second holder of its credentials).
/// </para>
/// <para>
/// Refusals are returned to the client with a reason code (BadUserNameOrPassword, ClientIdentifierNotValid,
/// NotAuthorized) and reported through the <see cref="SecurityEvent"/> callback, which runs on the broker's
/// connection task: hand the event off (a channel) rather than doing I/O in it.
/// </para>
/// <para>
/// With TLS (<see cref="BrokerTlsOptions"/>) it listens with the site's broker certificate instead, and by default
/// requires a client certificate that <see cref="ClientCertificateValidator"/> accepts: chained to the site CA only,
/// valid on the service clock, not on the CRL (re-read for every connection). The certificate's CN is the identity:
/// the username and the client id must both equal it, so a device can only ever be itself. The password is then
/// optional: a device may omit it, but one it does send must still be its derived secret (defence in depth; the
/// simulators send both, so they work unchanged with Mosquitto, which ignores the password once it uses the
/// certificate's identity). Certificate refusals happen in the TLS handshake and are reported as
/// <see cref="SecurityEvent.ConnectRefused"/> with the certificate's CN as username. The plain listener is off
/// unless <see cref="BrokerTlsOptions.PlainPort"/> is set; on it, the password rules above apply as without TLS.
/// </para>
/// <para>
/// The service of this process can live inside the broker (<see cref="InProcessLink"/>, attached with
/// <see cref="AttachService"/>): what devices publish on the service's subscriptions goes from the publish hook straight
/// to the service, and the service's answers go straight into the broker's dispatch. While it is attached, no network
/// client may log in as <see cref="DeviceSecrets.ServiceUsername"/> (nobody else needs the service's rights, and a second
/// service would decide the same swipes).
/// </para>
/// <para>
/// A PUBLISH whose payload is larger than the largest any client legitimately sends
/// (<see cref="MosquittoConfig.MaxPublishPayloadBytes"/>, the same limit as Mosquitto's <c>message_size_limit</c>) is
/// refused (QoS 1: PUBACK 0x95 packet too large, as Mosquitto answers), reported as
/// <see cref="SecurityEvent.PublishRefused"/>, and never reaches the service; the connection stays up.
/// </para>
/// <para>
/// A packet of any kind larger than <see cref="MaxPacketBytes"/> (that payload limit plus
/// <see cref="MosquittoConfig.PacketHeadroomBytes"/>, Mosquitto's <c>max_packet_size</c>) ends the connection as soon as
/// its fixed header announces the size, before its body is read (<see cref="PacketLimitChannel"/>), and is reported as
/// <see cref="SecurityEvent.PacketRefused"/> with the client's id and username. Before a login the limit is
/// <see cref="PreLoginLimits.MaxPacketBytes"/> and the first packet must be a CONNECT; a connection that breaks either
/// is closed at that header and reported as <see cref="SecurityEvent.ConnectionClosed"/> with its remote address.
/// MQTTnet 5.2 itself has no such limit: it allocates whatever a header announces, up to 256 MB from
/// five bytes sent by anyone who can open a connection.
/// </para>
/// <para>
/// A connection must complete its TLS handshake and log in within <see cref="PreLoginLimits.ConnectDeadline"/> of its
/// TCP accept, and only so many may wait to log in, from one address and in all (<see cref="PreLoginLimits"/>): one past
/// its deadline, over a count, whose handshake fails, or whose first packet is not a CONNECT or too large, is closed without a CONNACK and reported as
/// <see cref="SecurityEvent.ConnectionClosed"/> with its remote address (<see cref="BrokerListeners"/>). Logged-in
/// connections are not counted. MQTTnet 5.2 itself puts no limit on the handshake, waits 100 s for a CONNECT and counts
/// nothing.
/// </para>
/// <para>Not safe for concurrent StartAsync/StopAsync calls; the host starts and stops it once.</para>
/// </remarks>
public sealed class EmbeddedBroker : IAsyncDisposable
{
    private readonly TopicPolicy policy;
    private readonly Func<SiteTopology> topology;
    private readonly DeviceSecrets secrets;
    private readonly IClock clock;
    private readonly Action<SecurityEvent> onSecurityEvent;
    private readonly BrokerTlsOptions? tls;
    private readonly int maxPayloadBytes;
    private readonly PreLoginLimits preLogin;
    private readonly TimeProvider time;
    private readonly MqttNetLog? log;

    /// <summary>
    /// 0x95 "packet too large": what Mosquitto 2.0 answers a PUBLISH over its <c>message_size_limit</c>, so devices see
    /// one code from either broker. MQTT 5 lists it for DISCONNECT, not PUBACK, hence not in MQTTnet's enum; unlike the
    /// PUBACK codes a device re-sends on (0x83, reader-protocol.md §3), it tells the device never to re-send.
    /// </summary>
    internal const MqttPubAckReasonCode PacketTooLarge = (MqttPubAckReasonCode)0x95;
    /// <summary>
    /// The largest MQTT 5 topic alias a client may use: Mosquitto's default <c>max_topic_alias</c>, so devices see one
    /// limit from either broker. A device needs two topics per door, and may reuse an alias for another topic.
    /// </summary>
    internal const int MaxTopicAlias = 10;

    /// <summary>How the listeners accept a connection; null for <see cref="Socket.AcceptAsync(CancellationToken)"/>. Tests make it fail.</summary>
    internal Func<Socket, CancellationToken, ValueTask<Socket>>? Accept { get; init; }

    private ClientCertificateValidator? validator;
    private MqttServer? server;
    private BrokerListeners? listeners;
    private InProcessLink? service;

    /// <param name="port">TCP port on 127.0.0.1; 0 picks a free one on the first start (see <see cref="Port"/>).</param>
    /// <param name="topology">Read on every connect and message, so a reloaded site file applies at once.</param>
    /// <param name="onSecurityEvent">
    /// Receives every refusal, concurrently from the connections' tasks: it must be thread-safe, return quickly and not
    /// throw (an exception there fails the connection or message it was about).
    /// </param>
    /// <param name="tls">
    /// When enabled, <paramref name="port"/> is the TLS port. Its files are read at every <see cref="StartAsync"/>, so a
    /// rotated server certificate applies on restart.
    /// </param>
    /// <param name="maxPayloadBytes">The largest payload accepted; by default <see cref="MosquittoConfig.MaxPublishPayloadBytes"/> of the service's default limit.</param>
    /// <param name="time">Drives the deadline of connections that have not logged in yet.</param>
    /// <param name="preLogin">The limits on connections that have not logged in yet; by default <see cref="PreLoginLimits"/>'s.</param>
    /// <param name="logger">Receives the broker's own warnings and errors (MQTTnet's, and its listeners'); none without it.</param>
    public EmbeddedBroker(
        int port,
        Topics topics,
        Func<SiteTopology> topology,
        DeviceSecrets secrets,
        IClock clock,
        TimeProvider time,
        Action<SecurityEvent>? onSecurityEvent = null,
        BrokerTlsOptions? tls = null,
        int? maxPayloadBytes = null,
        PreLoginLimits? preLogin = null,
        Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        log = logger is null ? null : new MqttNetLog(logger, time);
        this.tls = tls is { Enabled: true } ? tls : null;
        PlainPort = this.tls?.PlainPort;
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        Port = port;
        policy = new TopicPolicy(topics);
        this.topology = topology;
        this.secrets = secrets;
        this.clock = clock;
        this.time = time;
        this.preLogin = preLogin ?? new PreLoginLimits();
        if (this.preLogin.Validate() is [var problem, ..])
        {
            throw new ArgumentException(problem, nameof(preLogin));
        }

        this.onSecurityEvent = onSecurityEvent ?? (_ => { });
        this.maxPayloadBytes = maxPayloadBytes ?? MosquittoConfig.MaxPublishPayloadBytes(WireFormat.DefaultMaxPayloadBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(this.maxPayloadBytes, nameof(maxPayloadBytes));
        MaxPacketBytes = this.maxPayloadBytes + MosquittoConfig.PacketHeadroomBytes;
    }

    /// <summary>The largest packet, header included, a client may send; a larger one ends its connection unread.</summary>
    internal int MaxPacketBytes { get; }

    /// <summary>
    /// The port it listens on (the TLS port when TLS is on). After the first start with port 0, the port the OS
    /// chose; restarts reuse it.
    /// </summary>
    public int Port { get; private set; }

    /// <summary>With TLS: the plain loopback listener's port, or null when there is none. Without TLS: null.</summary>
    public int? PlainPort { get; private set; }

    /// <summary>Whether clients must connect with TLS (and, unless configured otherwise, a client certificate).</summary>
    public bool UsesTls => tls is not null;

    public bool IsRunning => server?.IsStarted == true;

    /// <summary>Raised after every start (the first one and restarts).</summary>
    public event Action? Started;

    /// <summary>Raised after every stop.</summary>
    public event Action? Stopped;

    /// <summary>
    /// Puts the service of this process inside the broker (once, before or after the start): from now on it receives what
    /// devices publish on <see cref="Topics.ServiceSubscriptions"/>, and the service's username is refused to network clients.
    /// </summary>
    internal void AttachService(InProcessLink link)
    {
        if (Interlocked.CompareExchange(ref service, link, null) is not null)
        {
            throw new InvalidOperationException("A service is already attached to this broker.");
        }
    }

    /// <summary>
    /// Publishes as the attached service: through the same dispatch (and the same topic policy) as a client's publish,
    /// without a socket. Completes when the message is queued for every subscriber, which is when a client would get its PUBACK.
    /// </summary>
    internal async Task<PublishOutcome> PublishAsServiceAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        var running = server;
        if (running is null || !running.IsStarted)
        {
            return PublishOutcome.Failed("the embedded broker is not running");
        }

        // The dispatch below checks the topic policy again (the publish hook), but refuses without telling the injector.
        var current = topology();
        if (policy.Identify(current, DeviceSecrets.ServiceUsername) is not { } self || !policy.MayPublish(current, self, message.Topic))
        {
            return PublishOutcome.Failed($"the service may not publish on '{SecurityEvent.Clean(message.Topic)}'");
        }

        try
        {
            await running.InjectApplicationMessage(new InjectedMqttApplicationMessage(message)
            {
                SenderClientId = DeviceSecrets.ServiceUsername,
                SenderUserName = DeviceSecrets.ServiceUsername,
            }, cancellationToken);
            return PublishOutcome.Ok;
        }
        catch (InvalidOperationException e)
        {
            // Stopped or disposed between the check and the dispatch (ObjectDisposedException is one of these).
            return PublishOutcome.Failed("the embedded broker stopped: " + e.Message);
        }
    }

    /// <summary>The retained messages on the topics <paramref name="wanted"/> takes (what a new subscription would get first).</summary>
    internal async Task<IReadOnlyList<MqttApplicationMessage>> RetainedAsync(Func<string, bool> wanted)
    {
        var running = server;
        if (running is null || !running.IsStarted)
        {
            return [];
        }

        var all = await running.GetRetainedMessagesAsync();
        return [.. all.Where(m => wanted(m.Topic))];
    }

    /// <summary>The address clients connect to.</summary>
    public static string Host => IPAddress.Loopback.ToString();

    /// <summary>Starts listening. Calling it again after <see cref="StopAsync"/> restarts on the same port.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (server is not null)
        {
            throw new InvalidOperationException("The embedded broker is already running.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var options = tls is null ? PlainOptions() : TlsOptions(tls);

        // The broker's own TCP listeners on the endpoints of the options: every connection counted from its accept,
        // its TLS handshake and login under one deadline, and every packet read through the size limit.
        var listeners = new BrokerListeners(MaxPacketBytes, OnPacketTooLarge, preLogin, time, OnConnectionClosed, Accept);
        var created = (log is null ? new MqttServerFactory() : new MqttServerFactory(log)).CreateMqttServer(options, [listeners]);
        created.ValidatingConnectionAsync += OnValidatingConnectionAsync;
        created.InterceptingPublishAsync += OnInterceptingPublishAsync;
        created.InterceptingSubscriptionAsync += OnInterceptingSubscriptionAsync;
        created.InterceptingInboundPacketAsync += OnInterceptingInboundPacketAsync;
        created.ClientDisconnectedAsync += OnClientDisconnectedAsync;
        this.listeners = listeners;
        try
        {
            await created.StartAsync();
        }
        catch (Exception)
        {
            created.Dispose();
            throw;
        }

        // The listeners write the port the OS picked back into the endpoint options when asked for port 0.
        Port = tls is null ? options.DefaultEndpointOptions.Port : options.TlsEndpointOptions.Port;
        if (PlainPort is not null)
        {
            PlainPort = options.DefaultEndpointOptions.Port;
        }

        if (Port == 0 || PlainPort == 0)
        {
            await created.StopAsync();
            created.Dispose();
            throw new InvalidOperationException("The listeners did not report the port they bound; the embedded broker cannot say where it listens.");
        }

        server = created;
        Started?.Invoke();
    }

    /// <summary>Stops listening and disconnects every client. Their last wills are published.</summary>
    public async Task StopAsync()
    {
        var running = server;
        server = null;
        if (running is null)
        {
            return;
        }

        await running.StopAsync();
        running.Dispose();
        Stopped?.Invoke();
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private MqttServerOptions PlainOptions()
    {
        var options = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
            .WithDefaultEndpointBoundIPV6Address(IPAddress.None)
            .WithDefaultEndpointPort(Port)
            .WithDefaultEndpointReuseAddress()
            .WithMaxPendingMessagesPerClient(MosquittoConfig.MaxQueuedMessages)
            .WithPersistentSessions(false)
            .Build();
        options.DefaultEndpointOptions.NoDelay = true;
        return options;
    }

    private MqttServerOptions TlsOptions(BrokerTlsOptions settings)
    {
        using var serverCertificate = TlsFiles.LoadCertificateWithKey(settings.ServerCertFile!, settings.ServerKeyFile);
        var ca = TlsFiles.LoadCertificate(settings.CaFile);
        validator = new ClientCertificateValidator(ca, string.IsNullOrWhiteSpace(settings.CrlFile) ? null : settings.CrlFile, clock);
        var builder = new MqttServerOptionsBuilder()
            .WithEncryptedEndpoint()
            .WithEncryptedEndpointBoundIPAddress(IPAddress.Parse(settings.ListenAddress))
            .WithEncryptedEndpointBoundIPV6Address(IPAddress.None)
            .WithEncryptedEndpointPort(Port)
            .WithTlsEndpointReuseAddress()
            .WithEncryptionCertificate(X509CertificateLoader.LoadPkcs12(serverCertificate.Export(X509ContentType.Pkcs12), null))
            .WithEncryptionSslProtocol(SslProtocols.Tls12 | SslProtocols.Tls13)
            .WithClientCertificate(ValidateClientCertificate, settings.RequireClientCertificate)
            .WithMaxPendingMessagesPerClient(MosquittoConfig.MaxQueuedMessages)
            .WithPersistentSessions(false);
        if (PlainPort is { } plain)
        {
            builder.WithDefaultEndpoint()
                .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
                .WithDefaultEndpointBoundIPV6Address(IPAddress.None)
                .WithDefaultEndpointPort(plain)
                .WithDefaultEndpointReuseAddress();
        }
        else
        {
            builder.WithoutDefaultEndpoint();
        }

        var options = builder.Build();
        options.DefaultEndpointOptions.NoDelay = true;
        options.TlsEndpointOptions.NoDelay = true;
        return options;
    }

    // Runs in the TLS handshake, before any MQTT packet: a refused certificate never gets to send CONNECT.
    private bool ValidateClientCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null && tls?.RequireClientCertificate == false)
        {
            return true;
        }

        var check = validator!.Check(certificate);
        if (!check.IsValid)
        {
            Report(null, check.Identity, SecurityEvent.ConnectRefused, "TLS client certificate refused: " + check.Refusal);
        }

        return check.IsValid;
    }

    // MQTTnet 5.2 does not expose the will topic on ValidatingConnectionEventArgs, only on the CONNECT packet it wraps.
    // A broken accessor throws MissingFieldException on the first login (fail closed), and a test pins it.
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_connectPacket")]
    private static extern ref MqttConnectPacket ConnectPacketOf(ValidatingConnectionEventArgs args);

    private Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        var username = e.UserName;
        var from = e.ChannelAdapter?.RemoteEndPoint;
        var current = topology();
        var principal = policy.Identify(current, username);
        var certificate = e.ChannelAdapter?.IsSecureConnection == true ? e.ChannelAdapter.ClientCertificate : null;

        // Always check the password, known user or not, so timing does not tell which usernames exist.
        var passwordOk = username is not null && secrets.Verify(username, e.Password ?? "");
        if (certificate is not null)
        {
            // The handshake already checked the certificate; here its CN must be who the client says it is.
            var identity = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            var refusal = !string.Equals(identity, username, StringComparison.Ordinal) ? $"certificate identity '{SecurityEvent.Clean(identity)}' is not the username"
                : principal is null ? "unknown username"
                : !string.IsNullOrEmpty(e.Password) && !passwordOk ? "wrong password"
                : null;
            if (refusal is not null)
            {
                e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
                Report(e.ClientId, username, SecurityEvent.ConnectRefused, refusal, from);
                return Task.CompletedTask;
            }
        }
        else if (tls?.RequireClientCertificate == true && e.ChannelAdapter?.IsSecureConnection != false)
        {
            // Unreachable while the handshake requires a certificate; fail closed should that ever change.
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            Report(e.ClientId, username, SecurityEvent.ConnectRefused, "no client certificate", from);
            return Task.CompletedTask;
        }
        else if (principal is null || !passwordOk)
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            Report(e.ClientId, username, SecurityEvent.ConnectRefused, principal is null ? "unknown username" : "wrong password", from);
            return Task.CompletedTask;
        }

        if (service is not null && principal is { IsService: true })
        {
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            Report(e.ClientId, username, SecurityEvent.ConnectRefused, "the service runs inside this broker; its identities are not for network clients", from);
            return Task.CompletedTask;
        }

        if (!string.Equals(e.ClientId, username, StringComparison.Ordinal))
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            Report(e.ClientId, username, SecurityEvent.ConnectRefused, "client id must equal the username", from);
            return Task.CompletedTask;
        }

        var connect = ConnectPacketOf(e);
        if (connect.WillFlag && (principal is null || !policy.MayUseWill(current, principal.Value, connect.WillTopic)))
        {
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            Report(e.ClientId, username, SecurityEvent.WillRefused, $"last will on '{SecurityEvent.Clean(connect.WillTopic)}' not allowed", from);
            return Task.CompletedTask;
        }

        // Accepted: a packet over the size limit from now on is this device's. Unless its deadline passed meanwhile:
        // then the connection is already reported and being closed. Every network connection comes through the
        // listeners; one that did not (or after a restart) is refused rather than left outside the limits.
        if (listeners?.LimitOf(e.ChannelAdapter) is not { } limit || !limit.LoggedIn(e.ClientId, username ?? ""))
        {
            e.ReasonCode = MqttConnectReasonCode.ServerBusy;
        }

        // Kept with the session, so that a publish or subscription refused later names the address it came from too.
        if (from is not null)
        {
            e.SessionItems[RemoteAddressItem] = from;
        }

        return Task.CompletedTask;
    }

    private const string RemoteAddressItem = "ac.remote-endpoint";

    // The address the client logged in from; null for a session that did not come through the login above.
    private static EndPoint? RemoteAddressOf(System.Collections.IDictionary? sessionItems) =>
        sessionItems?[RemoteAddressItem] as EndPoint;

    // On the connection's task (over a count) or a timer thread (past its deadline).
    private void OnConnectionClosed(RefusedConnection closed) =>
        Report(null, null, SecurityEvent.ConnectionClosed, closed.Why, closed.From);

    // On the connection's receive task, which then closes the connection.
    private void OnPacketTooLarge(OversizedPacket packet) =>
        Report(packet.ClientId, packet.Username, SecurityEvent.PacketRefused,
            $"{packet.Type.ToString().ToUpperInvariant()} packet of {packet.Bytes} bytes from {packet.From} exceeds the limit of {MaxPacketBytes} bytes; connection closed before reading it", packet.From);

    private Task OnInterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        // Re-identified on every message rather than cached at login: a topology reload applies immediately.
        var current = topology();
        var topic = e.ApplicationMessage?.Topic;
        if (e.ApplicationMessage?.Payload.Length > maxPayloadBytes)
        {
            e.ProcessPublish = false;
            e.Response.ReasonCode = PacketTooLarge;
            Report(e.ClientId, e.UserName, SecurityEvent.PublishRefused,
                $"publish of {e.ApplicationMessage.Payload.Length} bytes on '{SecurityEvent.Clean(topic)}' exceeds the limit of {maxPayloadBytes} bytes", RemoteAddressOf(e.SessionItems));
            return Task.CompletedTask;
        }

        var principal = string.Equals(e.ClientId, e.UserName, StringComparison.Ordinal) ? policy.Identify(current, e.UserName) : null;
        if (principal is not null && policy.MayPublish(current, principal.Value, topic))
        {
            // A device's message for the service goes to it here, on this client's receive task: a full pipeline holds
            // back this one device (and its PUBACK), as a full service connection would hold back the broker.
            return service is { } inProcess && !principal.Value.IsService && inProcess.Wants(topic!)
                ? inProcess.DeliverAsync(e)
                : Task.CompletedTask;
        }

        e.ProcessPublish = false;
        e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        Report(e.ClientId, e.UserName, SecurityEvent.PublishRefused, $"publish on '{SecurityEvent.Clean(topic)}' not allowed", RemoteAddressOf(e.SessionItems));
        return Task.CompletedTask;
    }

    // MQTTnet 5.2 announces a topic alias maximum of 65535 and keeps the topic of every alias a client sets for the life of
    // its connection, before the publish hook (the topic policy) sees it: one logged-in device could make it hold 65535
    // topics of up to 64 KiB each. Here, before that, a PUBLISH over the maximum ends the connection, as Mosquitto's does
    // (MQTT 5 §3.3.2.3.4: a protocol error); the exception is how a packet hook closes it.
    private Task OnInterceptingInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPublishPacket { TopicAlias: > MaxTopicAlias } publish)
        {
            e.ProcessPacket = false;
            var why = $"PUBLISH with topic alias {publish.TopicAlias} exceeds the maximum of {MaxTopicAlias}; connection closed";
            Report(e.ClientId, e.ClientId, SecurityEvent.PacketRefused, why, e.RemoteEndPoint);
            throw new MQTTnet.Exceptions.MqttProtocolViolationException(why);
        }

        return Task.CompletedTask;
    }

    private Task OnInterceptingSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var current = topology();
        var filter = e.TopicFilter?.Topic;
        var principal = string.Equals(e.ClientId, e.UserName, StringComparison.Ordinal) ? policy.Identify(current, e.UserName) : null;
        if (principal is not null && policy.MaySubscribe(current, principal.Value, filter))
        {
            return Task.CompletedTask;
        }

        e.ProcessSubscription = false;
        e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        Report(e.ClientId, e.UserName, SecurityEvent.SubscribeRefused, $"subscription to '{SecurityEvent.Clean(filter)}' not allowed", RemoteAddressOf(e.SessionItems));
        return Task.CompletedTask;
    }

    // MQTT lets a new connection with a client id in use close the old one, and a device's client id is its username, so
    // only its own credentials can do it: the device reconnecting before the broker saw its old connection die, or a
    // second holder of its secret (a cloned reader) taking its decisions. Two holders knock each other off in turn, and
    // each turn is reported, so the log shows who was connected from where.
    private Task OnClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType == MqttClientDisconnectType.Takeover)
        {
            Report(e.ClientId, e.UserName, SecurityEvent.SessionTakenOver,
                $"a new connection logged in as this device; its connection from {SecurityEvent.AddressOf(e.RemoteEndPoint) ?? "an unknown address"} was closed", e.RemoteEndPoint);
        }

        return Task.CompletedTask;
    }

    private void Report(string? clientId, string? username, string what, string detail, EndPoint? from = null) =>
        onSecurityEvent(new SecurityEvent(clock.GetCurrentInstant(), SecurityEvent.Clean(clientId), SecurityEvent.Clean(username), what, detail, SecurityEvent.AddressOf(from)));
}

using System.Net;
using System.Runtime.CompilerServices;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
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
/// that one device can hold one connection at a time.
/// </para>
/// <para>
/// Refusals are returned to the client with a reason code (BadUserNameOrPassword, ClientIdentifierNotValid,
/// NotAuthorized) and reported through the <see cref="SecurityEvent"/> callback, which runs on the broker's
/// connection task: hand the event off (a channel) rather than doing I/O in it.
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
    private MqttServer? server;

    /// <param name="port">TCP port on 127.0.0.1; 0 picks a free one on the first start (see <see cref="Port"/>).</param>
    /// <param name="topology">Read on every connect and message, so a reloaded site file applies at once.</param>
    /// <param name="onSecurityEvent">
    /// Receives every refusal, concurrently from the connections' tasks: it must be thread-safe, return quickly and not
    /// throw (an exception there fails the connection or message it was about).
    /// </param>
    public EmbeddedBroker(
        int port,
        Topics topics,
        Func<SiteTopology> topology,
        DeviceSecrets secrets,
        IClock clock,
        Action<SecurityEvent>? onSecurityEvent = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        Port = port;
        policy = new TopicPolicy(topics);
        this.topology = topology;
        this.secrets = secrets;
        this.clock = clock;
        this.onSecurityEvent = onSecurityEvent ?? (_ => { });
    }

    /// <summary>The port it listens on. After the first start with port 0, the port the OS chose; restarts reuse it.</summary>
    public int Port { get; private set; }

    public bool IsRunning => server?.IsStarted == true;

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

        var created = new MqttServerFactory().CreateMqttServer(options);
        created.ValidatingConnectionAsync += OnValidatingConnectionAsync;
        created.InterceptingPublishAsync += OnInterceptingPublishAsync;
        created.InterceptingSubscriptionAsync += OnInterceptingSubscriptionAsync;
        try
        {
            await created.StartAsync();
        }
        catch (Exception)
        {
            created.Dispose();
            throw;
        }

        // MQTTnet writes the port the OS picked back into the endpoint options when asked for port 0.
        Port = options.DefaultEndpointOptions.Port;
        if (Port == 0)
        {
            await created.StopAsync();
            created.Dispose();
            throw new InvalidOperationException("MQTTnet did not report the port it bound; the embedded broker cannot say where it listens.");
        }

        server = created;
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
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    // MQTTnet 5.2 does not expose the will topic on ValidatingConnectionEventArgs, only on the CONNECT packet it wraps.
    // A broken accessor throws MissingFieldException on the first login (fail closed), and a test pins it.
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_connectPacket")]
    private static extern ref MqttConnectPacket ConnectPacketOf(ValidatingConnectionEventArgs args);

    private Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        var username = e.UserName;
        var current = topology();
        var principal = policy.Identify(current, username);

        // Always check the password, known user or not, so timing does not tell which usernames exist.
        var passwordOk = username is not null && secrets.Verify(username, e.Password ?? "");
        if (principal is null || !passwordOk)
        {
            e.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
            Report(e.ClientId, username, SecurityEvent.ConnectRefused, principal is null ? "unknown username" : "wrong password");
            return Task.CompletedTask;
        }

        if (!string.Equals(e.ClientId, username, StringComparison.Ordinal))
        {
            e.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            Report(e.ClientId, username, SecurityEvent.ConnectRefused, "client id must equal the username");
            return Task.CompletedTask;
        }

        var connect = ConnectPacketOf(e);
        if (connect.WillFlag && !policy.MayUseWill(current, principal.Value, connect.WillTopic))
        {
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            Report(e.ClientId, username, SecurityEvent.WillRefused, $"last will on '{SecurityEvent.Clean(connect.WillTopic)}' not allowed");
        }

        return Task.CompletedTask;
    }

    private Task OnInterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        // Re-identified on every message rather than cached at login: a topology reload applies immediately.
        var current = topology();
        var topic = e.ApplicationMessage?.Topic;
        var principal = string.Equals(e.ClientId, e.UserName, StringComparison.Ordinal) ? policy.Identify(current, e.UserName) : null;
        if (principal is not null && policy.MayPublish(current, principal.Value, topic))
        {
            return Task.CompletedTask;
        }

        e.ProcessPublish = false;
        e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        Report(e.ClientId, e.UserName, SecurityEvent.PublishRefused, $"publish on '{SecurityEvent.Clean(topic)}' not allowed");
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
        Report(e.ClientId, e.UserName, SecurityEvent.SubscribeRefused, $"subscription to '{SecurityEvent.Clean(filter)}' not allowed");
        return Task.CompletedTask;
    }

    private void Report(string? clientId, string? username, string what, string detail) =>
        onSecurityEvent(new SecurityEvent(clock.GetCurrentInstant(), SecurityEvent.Clean(clientId), SecurityEvent.Clean(username), what, detail));
}

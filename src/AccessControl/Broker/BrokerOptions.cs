using AccessControl.Devices;
using AccessControl.Protocol;

namespace AccessControl.Broker;

/// <summary>Which broker the service talks to.</summary>
public enum BrokerMode
{
    /// <summary>The service runs <see cref="EmbeddedBroker"/> itself on 127.0.0.1:<see cref="BrokerOptions.Port"/>.</summary>
    Embedded,

    /// <summary>A separate broker (Mosquitto, configured with <see cref="MosquittoConfig"/>) at Host:Port.</summary>
    External,
}

/// <summary>How the service meets the embedded broker (<see cref="IServiceLink"/>); an external broker is always met as a client.</summary>
public enum ServiceLinkKind
{
    /// <summary>Inside the embedded broker, without a socket (<see cref="InProcessLink"/>): the default.</summary>
    InProcess,

    /// <summary>As an MQTT client over loopback TCP (<see cref="ServiceConnection"/>), as with an external broker.</summary>
    Client,
}

/// <summary>
/// MQTT settings, bound from the <c>Broker</c> configuration section and checked with <see cref="Validate"/> at start-up.
/// In <see cref="BrokerMode.Embedded"/> mode the composition root starts the embedded broker on <see cref="Port"/>
/// (0 = any free port) and, unless <see cref="ServiceLink"/> says otherwise, runs the service inside it; a
/// <see cref="ServiceConnection"/> gets these options (with the port the embedded broker actually got, if any).
/// </summary>
public sealed record BrokerOptions
{
    public const string Section = "Broker";

    public BrokerMode Mode { get; init; } = BrokerMode.Embedded;

    /// <summary>
    /// In embedded mode, whether the service runs inside the broker (<see cref="ServiceLinkKind.InProcess"/>, the default)
    /// or connects to it as a client (for comparison and diagnosis). Ignored with an external broker.
    /// </summary>
    public ServiceLinkKind ServiceLink { get; init; } = ServiceLinkKind.InProcess;

    public string Host { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 1883;

    public string TopicRoot { get; init; } = Topics.DefaultRoot;

    /// <summary>
    /// The service's client id. Both our brokers tie the session to the username, so leave it equal to
    /// <see cref="DeviceSecrets.ServiceUsername"/>: the embedded broker refuses anything else.
    /// </summary>
    public string ClientId { get; init; } = DeviceSecrets.ServiceUsername;

    /// <summary>
    /// When the service is a client of its broker (an external one such as Mosquitto, or <see cref="ServiceLinkKind.Client"/>),
    /// it also logs in as <see cref="DeviceSecrets.ServicePublisherUsername"/> and publishes over that second connection:
    /// its answers then never wait for the socket or the receive loop its incoming events use (docs/benchmarks.md, tenth
    /// session). While that connection is down, or if the broker refuses it (a Mosquitto config generated before it
    /// existed), the service publishes over its main connection. Not with a TLS client certificate: the certificate names
    /// the identity, so there is one connection.
    /// </summary>
    public bool PublisherConnection { get; init; } = true;

    /// <summary>
    /// When the service is a client of its broker, each of its connections is read by a thread of its own with blocking
    /// calls (<see cref="BlockingTcpChannel"/>), and the events it receives go from that thread straight to the pipeline
    /// (<see cref="DirectDeliveryAdapter"/>): no socket-engine thread, thread-pool worker or client task is woken on an
    /// event's way in (docs/benchmarks.md, eleventh session). False: MQTTnet's own asynchronous channel and message queue.
    /// </summary>
    public bool ReceiveThreads { get; init; } = true;

    /// <summary>The client id (and username) of the publishing connection; the brokers tie it to the username.</summary>
    public string PublisherClientId { get; init; } = DeviceSecrets.ServicePublisherUsername;

    /// <summary>MQTT keep-alive the service announces; the broker drops it after 1.5 times this without traffic.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How often the background loop pings the broker, and so how fast a silent loss of connection is noticed.</summary>
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Time allowed for one connect attempt (TCP + CONNECT/CONNACK).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Connect attempts per reconnection round; the background loop starts another round after <see cref="PingInterval"/>.</summary>
    public int ConnectAttempts { get; init; } = 6;

    /// <summary>First retry delay; later ones grow exponentially with jitter up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Received messages waiting for the service; when full, the MQTT client stops reading (back-pressure). With the
    /// reading threads, the messages read while the pipeline's own queue is full wait here, unacknowledged.
    /// </summary>
    public int ReceiveQueueCapacity { get; init; } = 10_000;

    /// <summary>
    /// How many of the embedded broker's refusals (logins, publishes, subscriptions, oversized packets) get an entry-log
    /// row of their own before the rest of a flood is written as counts (section <c>Broker:SecurityEvents</c>).
    /// </summary>
    public SecurityEventLimits SecurityEvents { get; init; } = new();

    /// <summary>
    /// The embedded broker's deadline for a connection to log in, and how many may wait to log in from one address and
    /// in all (section <c>Broker:PreLogin</c>).
    /// </summary>
    public PreLoginLimits PreLogin { get; init; } = new();

    /// <summary>TLS and device certificates (section <c>Broker:Tls</c>); null or not enabled: plain MQTT with passwords.</summary>
    public BrokerTlsOptions? Tls { get; init; }

    /// <summary>Every problem with these options, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Host))
        {
            errors.Add("Broker:Host is required.");
        }

        if (Port < (Mode == BrokerMode.Embedded ? 0 : 1) || Port > 65535)
        {
            errors.Add($"Broker:Port {Port} is out of range{(Mode == BrokerMode.Embedded ? " (0 = any free port)" : "")}.");
        }

        try
        {
            _ = new Topics(TopicRoot);
        }
        catch (ArgumentException e)
        {
            errors.Add("Broker:TopicRoot: " + e.Message);
        }

        if (string.IsNullOrWhiteSpace(ClientId))
        {
            errors.Add("Broker:ClientId is required.");
        }

        if (PublisherConnection && string.IsNullOrWhiteSpace(PublisherClientId))
        {
            errors.Add("Broker:PublisherClientId is required while Broker:PublisherConnection is on.");
        }

        Positive(KeepAlive, nameof(KeepAlive));
        Positive(PingInterval, nameof(PingInterval));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(RetryDelay, nameof(RetryDelay));
        if (MaxRetryDelay < RetryDelay)
        {
            errors.Add("Broker:MaxRetryDelay must not be shorter than Broker:RetryDelay.");
        }

        if (ConnectAttempts < 1)
        {
            errors.Add("Broker:ConnectAttempts must be at least 1.");
        }

        if (ReceiveQueueCapacity < 1)
        {
            errors.Add("Broker:ReceiveQueueCapacity must be at least 1.");
        }

        if (Tls is { Enabled: true })
        {
            errors.AddRange(Tls.Validate(Mode));
        }

        errors.AddRange(SecurityEvents.Validate());
        errors.AddRange(PreLogin.Validate());
        return errors;

        void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"Broker:{name} must be positive.");
            }
        }
    }
}

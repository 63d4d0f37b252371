using System.Collections.Concurrent;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.Support;

/// <summary>
/// An <see cref="EmbeddedBroker"/> on a free port of 127.0.0.1 for one test, with a topology the test can replace
/// (as a site-file reload would) and every security event it reported.
/// </summary>
public sealed class EmbeddedBrokerFixture : ITestBroker
{
    private readonly ConcurrentQueue<SecurityEvent> securityEvents = new();
    private SiteTopology topology;

    private EmbeddedBrokerFixture(SiteTopology topology, DeviceSecrets secrets, Topics topics, IClock clock, BrokerTlsOptions? tls, TimeProvider time, PreLoginLimits? preLogin,
        Microsoft.Extensions.Logging.ILogger? logger, Func<System.Net.Sockets.Socket, CancellationToken, ValueTask<System.Net.Sockets.Socket>>? accept)
    {
        this.topology = topology;
        Broker = new EmbeddedBroker(0, topics, () => Volatile.Read(ref this.topology), secrets, clock, time, Record, tls, preLogin: preLogin, logger: logger) { Accept = accept };
    }

    /// <summary>Raised for each refusal, after it is in <see cref="SecurityEvents"/> (on the broker's task).</summary>
    public event Action<SecurityEvent>? Refused;

    public static Instant Now { get; } = Instant.FromUtc(2026, 11, 28, 12, 0);

    public EmbeddedBroker Broker { get; }

    public BrokerKind Kind => BrokerKind.Embedded;

    public int Port => Broker.Port;

    /// <summary>The topology the broker sees from now on.</summary>
    public SiteTopology Topology
    {
        get => Volatile.Read(ref topology);
        set => Volatile.Write(ref topology, value);
    }

    /// <summary>Everything refused so far, in order.</summary>
    public IReadOnlyList<SecurityEvent> SecurityEvents => securityEvents.ToArray();

    /// <param name="time">Drives the deadline of connections that have not logged in; real time by default.</param>
    /// <param name="logger">Receives the broker's own warnings and errors.</param>
    /// <param name="accept">How the listeners accept a connection (to make it fail); the socket's own by default.</param>
    public static async Task<EmbeddedBrokerFixture> StartAsync(SiteTopology topology, DeviceSecrets secrets, Topics? topics = null, IClock? clock = null, BrokerTlsOptions? tls = null,
        TimeProvider? time = null, PreLoginLimits? preLogin = null, Microsoft.Extensions.Logging.ILogger? logger = null,
        Func<System.Net.Sockets.Socket, CancellationToken, ValueTask<System.Net.Sockets.Socket>>? accept = null)
    {
        var fixture = new EmbeddedBrokerFixture(topology, secrets, topics ?? new Topics(), clock ?? new FakeClock(Now), tls, time ?? RealTime.Instance, preLogin, logger, accept);
        await fixture.Broker.StartAsync();
        return fixture;
    }

    public Task StopAsync() => Broker.StopAsync();

    public Task StartAgainAsync() => Broker.StartAsync();

    public ValueTask DisposeAsync() => Broker.DisposeAsync();

    private void Record(SecurityEvent refusal)
    {
        securityEvents.Enqueue(refusal);
        Refused?.Invoke(refusal);
    }
}

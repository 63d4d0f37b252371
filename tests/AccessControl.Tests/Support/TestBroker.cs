using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;

namespace AccessControl.Tests.Support;

/// <summary>The brokers every broker test runs against: the one inside the service, and Mosquitto.</summary>
public enum BrokerKind
{
    Embedded,
    Mosquitto,
}

/// <summary>A running broker on 127.0.0.1 that a test can stop and start again on the same port.</summary>
public interface ITestBroker : IAsyncDisposable
{
    BrokerKind Kind { get; }

    int Port { get; }

    /// <summary>Stops the broker abruptly; connected clients lose their connection.</summary>
    Task StopAsync();

    /// <summary>Starts it again on the same port and returns once it accepts logins.</summary>
    Task StartAgainAsync();
}

public static class TestBrokers
{
    /// <summary>For <c>[MemberData(nameof(TestBrokers.Kinds), MemberType = typeof(TestBrokers))]</c>.</summary>
    public static TheoryData<BrokerKind> Kinds => [BrokerKind.Embedded, BrokerKind.Mosquitto];

    /// <param name="pki">When given, the broker listens with mutual TLS only, with this CA's certificates and CRL.</param>
    public static async Task<ITestBroker> StartAsync(BrokerKind kind, SiteTopology? topology = null, DeviceSecrets? secrets = null, Topics? topics = null, TestPki? pki = null) =>
        kind switch
        {
            BrokerKind.Embedded => await EmbeddedBrokerFixture.StartAsync(topology ?? TestSite.Topology, secrets ?? TestSite.Secrets, topics ?? TestSite.Topics, tls: pki?.BrokerTls),
            BrokerKind.Mosquitto => await MosquittoProcess.StartAsync(topology ?? TestSite.Topology, secrets ?? TestSite.Secrets, topics ?? TestSite.Topics, pki),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
}

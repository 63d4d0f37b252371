using System.Net;
using System.Text;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Tests.HardwareSim.Support;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Exceptions;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

/// <summary>
/// Connections that have not logged in: anyone who can reach the port can open them. MQTTnet waited 100 s for each
/// one's CONNECT and counted none; the embedded broker now gives each a deadline and counts them by address and in all.
/// The deadline runs on a manual time provider: a test moves it past the deadline and waits for the close. With TLS
/// the deadline and the counts start at the TCP accept: MQTTnet's own listener put no limit on the handshake and
/// counted a connection only once it was done, so one that never finished held its socket for ever.
/// </summary>
public class PreLoginTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task AConnectionSendingItsConnectTooSlowly_IsClosedAtTheDeadline_AndReported_WhileALoggedInReaderStays()
    {
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, time: time, preLogin: new PreLoginLimits { ConnectDeadline = Deadline });
        using var reader = await RawMqttSocket.LoginAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn));

        var admitted = time.TimersChanged;
        using var stranger = await RawMqttSocket.OpenAsync(broker.Port);
        await admitted.WaitAsync(TestTimeouts.Signal);
        // A CONNECT under the pre-login size limit (one over it is closed at its header, before the deadline could be seen).
        await stranger.SendAsync([.. RawMqttSocket.Header(RawMqttSocket.Connect, 4_000), 0, 4]);
        time.Advance(Deadline);
        await stranger.ClosedByServerAsync();

        AssertClosedBeforeLogin(broker, "no login within 5 s of connecting; connection closed");

        // The reader logged in before the deadline: it no longer applies to it.
        await reader.SendAsync(RawMqttSocket.PublishOfSize(Topics.ReaderEvents(MainReaderIn), 200));
        Assert.Equal(RawMqttSocket.PubAck, (await reader.ReadPacketAsync()).Type);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task ConnectionsWaitingToLogIn_OverTheCountOfTheirAddress_OrOverTheTotal_AreClosedAtOnce_AndReported()
    {
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, time: time,
            preLogin: new PreLoginLimits { ConnectDeadline = Deadline, PerAddress = 2, Total = 3 });
        using var reader = await RawMqttSocket.LoginAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn));
        var waiting = new List<RawMqttSocket>();
        foreach (var from in new[] { "127.0.0.1", "127.0.0.1" })
        {
            waiting.Add(await OpenAdmittedAsync(broker, time, IPAddress.Parse(from)));
        }

        await RawMqttSocket.ClosedAtOnceAsync(broker.Port);
        waiting.Add(await OpenAdmittedAsync(broker, time, IPAddress.Parse("127.0.0.2")));
        await RawMqttSocket.ClosedAtOnceAsync(broker.Port, IPAddress.Parse("127.0.0.3"));

        Assert.Equal(
            [
                new SecurityEvent(EmbeddedBrokerFixture.Now, "", "", SecurityEvent.ConnectionClosed,
                    "2 connections from 127.0.0.1 are already waiting to log in (at most 2 from one address); connection closed unread", "127.0.0.1"),
                new SecurityEvent(EmbeddedBrokerFixture.Now, "", "", SecurityEvent.ConnectionClosed,
                    "3 connections are already waiting to log in (at most 3 in all); connection closed unread", "127.0.0.3"),
            ],
            broker.SecurityEvents);

        // A logged-in device is not counted: one that logs in gives its place to the next.
        await waiting[0].LogInAsync(MainReaderOut, Secrets.For(MainReaderOut));
        using var next = await OpenAdmittedAsync(broker, time, IPAddress.Loopback);
        Assert.Equal(2, broker.SecurityEvents.Count);
        foreach (var w in waiting)
        {
            w.Dispose();
        }
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task HundredsOfReadersLoggingInAtOnceFromOneAddress_AsAfterABrokerRestartBehindAProxy_AreAllAccepted()
    {
        // The default limits, with time standing still: only the counts could refuse anyone here.
        var readers = Enumerable.Range(1, 400).Select(i => NewReader($"rdr-burst-{i:000}")).ToArray();
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Build(readers), Secrets, time: new ManualTimeProvider(EmbeddedBrokerFixture.Now));

        var logins = readers.Select(r => r.Id.Value).Select(id => Task.Run(() => RawMqttSocket.LoginAsync(broker.Port, id, Secrets.For(id)))).ToList();
        var connected = await Task.WhenAll(logins);

        Assert.Equal(400, connected.Length);
        Assert.Empty(broker.SecurityEvents);
        foreach (var c in connected)
        {
            c.Dispose();
        }
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task AConnectionWhoseFirstPacketIsNotAConnect_IsClosedAtItsFirstByte_AndReported_WhileALoggedInReaderStays()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, time: new ManualTimeProvider(EmbeddedBrokerFixture.Now));
        using var reader = await RawMqttSocket.LoginAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn));
        using var stranger = await RawMqttSocket.OpenAsync(broker.Port);

        await stranger.SendAsync(RawMqttSocket.PublishOfSize(Topics.ReaderEvents(MainReaderIn), 200));
        await stranger.ClosedByServerAsync();

        AssertClosedBeforeLogin(broker, "first packet is PUBLISH (type 3), not CONNECT; connection closed before reading it");
        await reader.SendAsync(RawMqttSocket.PublishOfSize(Topics.ReaderEvents(MainReaderIn), 200));
        Assert.Equal(RawMqttSocket.PubAck, (await reader.ReadPacketAsync()).Type);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task AConnectAnnouncingMoreThanThePreLoginLimit_IsClosedBeforeItsBody_AndReported_ThoughUnderTheGeneralPacketLimit()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, time: new ManualTimeProvider(EmbeddedBrokerFixture.Now));
        using var stranger = await RawMqttSocket.OpenAsync(broker.Port);
        var size = new PreLoginLimits().MaxPacketBytes + 1;
        Assert.True(size < broker.Broker.MaxPacketBytes);

        await stranger.SendAsync(RawMqttSocket.HeaderOfSize(RawMqttSocket.Connect, size));
        await stranger.ClosedByServerAsync();

        Assert.Equal(3, stranger.BytesSent);
        AssertClosedBeforeLogin(broker, "CONNECT packet of 8193 bytes before login exceeds the limit of 8192 bytes before login; connection closed before reading it");
    }

    // Pinning tests: the limits' validation and the clamp below were right before these tests; they keep them so.
    [Theory]
    [InlineData(0, 8192, 512, 2048)]
    [InlineData(61, 8192, 512, 2048)]
    [InlineData(5, 1023, 512, 2048)]
    [InlineData(5, 1024 * 1024 + 1, 512, 2048)]
    [InlineData(5, 8192, 0, 2048)]
    [InlineData(5, 8192, 512, 511)]
    public void UnusableLimits_AreSettingsErrors(int deadlineSeconds, int maxPacketBytes, int perAddress, int total)
    {
        var limits = new PreLoginLimits { ConnectDeadline = TimeSpan.FromSeconds(deadlineSeconds), MaxPacketBytes = maxPacketBytes, PerAddress = perAddress, Total = total };

        Assert.Single(limits.Validate());
        Assert.Contains(new BrokerOptions { PreLogin = limits }.Validate(), e => e.StartsWith("Broker:PreLogin", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1, 1024, 1, 1)]
    [InlineData(60, 1024 * 1024, 512, 512)]
    public void LimitsAtTheirBounds_AreValid(int deadlineSeconds, int maxPacketBytes, int perAddress, int total)
    {
        var limits = new PreLoginLimits { ConnectDeadline = TimeSpan.FromSeconds(deadlineSeconds), MaxPacketBytes = maxPacketBytes, PerAddress = perAddress, Total = total };

        Assert.Empty(limits.Validate());
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task APreLoginLimitAboveTheGeneralPacketLimit_IsClampedToIt_AConnectOverTheGeneralLimitIsClosedBeforeLogin()
    {
        // A valid pre-login limit (up to 1 MiB) may be above the general packet limit: before login the lower one applies.
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, time: new ManualTimeProvider(EmbeddedBrokerFixture.Now),
            preLogin: new PreLoginLimits { MaxPacketBytes = 1024 * 1024 });
        using var stranger = await RawMqttSocket.OpenAsync(broker.Port);
        var general = broker.Broker.MaxPacketBytes;

        await stranger.SendAsync(RawMqttSocket.HeaderOfSize(RawMqttSocket.Connect, general + 1));
        await stranger.ClosedByServerAsync();

        AssertClosedBeforeLogin(broker, $"CONNECT packet of {general + 1} bytes before login exceeds the limit of {general} bytes before login; connection closed before reading it");
    }

    /// <summary>The start of a TLS record with a ClientHello of 512 bytes, of which only the first few follow.</summary>
    private static readonly byte[] HalfAClientHello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03];

    public static TheoryData<string, byte[]> UnfinishedHandshakes => new()
    {
        { "no ClientHello", [] },
        { "half a ClientHello", HalfAClientHello },
    };

    [Theory]
    [MemberData(nameof(UnfinishedHandshakes))]
    [Trait("control", "NIST-SC-5")]
    public async Task ATlsConnectionThatNeverFinishesItsHandshake_IsClosedAtTheDeadline_AndReported_WhileAReaderWithItsCertificateGetsDecisions(string what, byte[] sent)
    {
        using var pki = TestPki.Create(Topology);
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, tls: pki.BrokerTls, time: time, preLogin: new PreLoginLimits { ConnectDeadline = Deadline });

        var admitted = time.TimersChanged;
        using var stranger = await RawMqttSocket.OpenAsync(broker.Port);
        await admitted.WaitAsync(TestTimeouts.Signal);
        await stranger.SendAsync(sent);

        // Meanwhile a reader connects with its certificate, sends a swipe and gets its decision.
        await using var service = await TestMqttClient.ConnectAsync(broker.Port, DeviceSecrets.ServiceUsername, null, tls: pki.ClientTls(DeviceSecrets.ServiceUsername));
        await service.SubscribeGrantedAsync(Topics.ReaderEvents(MainReaderIn));
        await using var reader = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, null, tls: pki.ClientTls(MainReaderIn));
        await reader.SubscribeGrantedAsync(Topics.ReaderDecisions(MainReaderIn));
        Assert.True((await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "swipe")).IsSuccess);
        Assert.Equal("swipe", Encoding.UTF8.GetString((await service.NextMessageAsync()).Payload.Span));
        await service.PublishAsync(Topics.ReaderDecisions(MainReaderIn), "decision");
        Assert.Equal("decision", Encoding.UTF8.GetString((await reader.NextMessageAsync()).Payload.Span));

        time.Advance(Deadline);
        await stranger.ClosedByServerAsync();

        AssertClosedBeforeLogin(broker, "no TLS handshake within 5 s of connecting; connection closed");
        Assert.True(reader.IsConnected, what);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task TlsConnectionsThatHaveNotFinishedTheirHandshake_AreCounted_OneOverTheCountOfItsAddressIsClosedAtOnce()
    {
        using var pki = TestPki.Create(Topology);
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, tls: pki.BrokerTls, time: time,
            preLogin: new PreLoginLimits { ConnectDeadline = Deadline, PerAddress = 2, Total = 3 });
        var flooder = IPAddress.Parse("127.0.0.2");
        using var first = await OpenAdmittedAsync(broker, time, flooder);
        using var second = await OpenAdmittedAsync(broker, time, flooder);

        await RawMqttSocket.ClosedAtOnceAsync(broker.Port, flooder);

        Assert.Equal(
            [
                new SecurityEvent(EmbeddedBrokerFixture.Now, "", "", SecurityEvent.ConnectionClosed,
                    "2 connections from 127.0.0.2 are already waiting to log in (at most 2 from one address); connection closed unread", "127.0.0.2"),
            ],
            broker.SecurityEvents);

        // A reader from another address still has its place within the total.
        await using var reader = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, null, tls: pki.ClientTls(MainReaderIn));
        Assert.Equal(MqttClientConnectResultCode.Success, reader.Result.ResultCode);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task APlainMqttConnectSentToTheTlsPort_FailsTheHandshake_AndIsReported_ACertificateRefusalOnlyOnce()
    {
        using var pki = TestPki.Create(Topology);
        using var rogue = TestPki.Create(Topology, "Rogue CA");
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, tls: pki.BrokerTls, time: new ManualTimeProvider(EmbeddedBrokerFixture.Now));

        using var plain = await RawMqttSocket.OpenAsync(broker.Port);
        await plain.SendAsync([.. RawMqttSocket.Header(RawMqttSocket.Connect, 20), .. new byte[20]]);
        await plain.ClosedByServerAsync();
        await Assert.ThrowsAnyAsync<MqttCommunicationException>(() =>
            TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, null, tls: pki.ClientTls(rogue.ClientCertificate(MainReaderIn))));

        Assert.Collection(broker.SecurityEvents,
            handshake =>
            {
                Assert.Equal((SecurityEvent.ConnectionClosed, "", "127.0.0.1"), (handshake.What, handshake.Username, handshake.From));
                Assert.StartsWith("TLS handshake failed (", handshake.Detail, StringComparison.Ordinal);
            },
            certificate => Assert.Equal((SecurityEvent.ConnectRefused, MainReaderIn), (certificate.What, certificate.Username)));
    }

    [Fact]
    public async Task Stopping_ClosesTlsConnectionsStillInTheirHandshake()
    {
        using var pki = TestPki.Create(Topology);
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, tls: pki.BrokerTls, time: time);
        using var stranger = await OpenAdmittedAsync(broker, time, IPAddress.Loopback);

        await broker.StopAsync();

        await stranger.ClosedByServerAsync();
        Assert.Empty(broker.SecurityEvents);
    }

    /// <summary>The one security event: a connection from 127.0.0.1 closed before its login (no client id or username), and why.</summary>
    private static void AssertClosedBeforeLogin(EmbeddedBrokerFixture broker, string why)
    {
        var closed = Assert.Single(broker.SecurityEvents);
        Assert.Equal((SecurityEvent.ConnectionClosed, "", "", "127.0.0.1", why), (closed.What, closed.ClientId, closed.Username, closed.From, closed.Detail));
    }

    /// <summary>Opens a connection and waits until the broker admitted it (its deadline's timer is armed).</summary>
    private static async Task<RawMqttSocket> OpenAdmittedAsync(EmbeddedBrokerFixture broker, ManualTimeProvider time, IPAddress from)
    {
        var admitted = time.TimersChanged;
        var raw = await RawMqttSocket.OpenAsync(broker.Port, from);
        await admitted.WaitAsync(TestTimeouts.Signal);
        return raw;
    }
}

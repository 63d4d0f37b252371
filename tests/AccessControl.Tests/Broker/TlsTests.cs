using System.Text;
using AccessControl.Broker;
using AccessControl.Broker.Tls;
using AccessControl.Devices;
using AccessControl.SiteFiles;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Exceptions;
using NodaTime;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

/// <summary>
/// Device identity on the wire (issue 5, item 4), on both brokers: mutual TLS with the site CA, the identity taken
/// from the certificate's CN, revoked certificates refused. The brokers differ in where they refuse (the embedded
/// broker also checks that the username matches the certificate; Mosquitto simply replaces the username with it),
/// and the tests check what both guarantee: nobody connects without a valid certificate of this site, and a
/// certificate only ever acts as the device it names.
/// </summary>
public class TlsTests
{
    public static TheoryData<BrokerKind> Kinds => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "NIST-SC-8")]
    [Trait("control", "PCI-4.2")]
    public async Task ReaderWithItsCertificate_CardIsDecidedOverTls(BrokerKind kind)
    {
        using var pki = TestPki.Create(SiteFileLoader.Load(EdgeHarness.DemoSiteFile).Site!.Topology);
        await using var edge = await EdgeHarness.StartAsync(kind, pki: pki);
        var reader = await edge.ReaderAsync("rdr-lobby-in");

        var decision = await reader.PresentCardAsync(DemoCards.Operator, DemoCards.Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(decision.Grant);
        Assert.Equal("granted", decision.Reason);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "NIST-SC-8")]
    public async Task ReaderWithItsCertificate_ConnectsWithoutPassword(BrokerKind kind)
    {
        using var pki = TestPki.Create(Topology);
        await using var broker = await TestBrokers.StartAsync(kind, pki: pki);

        Assert.True(await ConnectsAsync(broker.Port, MainReaderIn, password: null, pki.ClientTls(MainReaderIn)));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "NIST-SC-8")]
    public async Task ClientWithoutCertificate_IsRefused_EvenWithTheRightPassword(BrokerKind kind)
    {
        using var pki = TestPki.Create(Topology);
        await using var broker = await TestBrokers.StartAsync(kind, pki: pki);

        Assert.False(await ConnectsAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn), pki.ClientTls((System.Security.Cryptography.X509Certificates.X509Certificate2?)null)));
        // No plain listener either.
        Assert.False(await ConnectsAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn), tls: null));

        if (broker is EmbeddedBrokerFixture embedded)
        {
            Assert.Contains(embedded.SecurityEvents, e => e.What == SecurityEvent.ConnectRefused && e.Detail.Contains("no client certificate", StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    public async Task CertificateFromAnotherCa_IsRefused(BrokerKind kind)
    {
        using var pki = TestPki.Create(Topology);
        using var rogue = TestPki.Create(Topology, "Rogue CA");
        await using var broker = await TestBrokers.StartAsync(kind, pki: pki);

        // Same CN, same key usage, right password: only the issuer differs.
        Assert.False(await ConnectsAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn), pki.ClientTls(rogue.ClientCertificate(MainReaderIn))));

        if (broker is EmbeddedBrokerFixture embedded)
        {
            var refusal = Assert.Single(embedded.SecurityEvents);
            Assert.Equal(MainReaderIn, refusal.Username);
            Assert.Contains("not valid for the site CA", refusal.Detail, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A reader's certificate presented with another reader's username (and that reader's password): the embedded
    /// broker refuses the login; Mosquitto logs it in under the certificate's CN. Either way it can neither publish
    /// as the other reader nor read the other reader's decisions.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "NIST-AC-3")]
    public async Task CertificateOfOneReader_CannotActAsAnother(BrokerKind kind)
    {
        using var pki = TestPki.Create(Topology);
        await using var broker = await TestBrokers.StartAsync(kind, pki: pki);
        await using var service = await TestMqttClient.ConnectAsync(broker.Port, DeviceSecrets.ServiceUsername, null, tls: pki.ClientTls(DeviceSecrets.ServiceUsername));
        Assert.Equal(MqttClientConnectResultCode.Success, service.Result.ResultCode);
        await service.SubscribeGrantedAsync(Topics.ReaderEvents("+"));

        await using var impostor = await TestMqttClient.ConnectAsync(broker.Port, HallReaderIn, Secrets.For(HallReaderIn), tls: pki.ClientTls(MainReaderIn));
        if (kind == BrokerKind.Embedded)
        {
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, impostor.Result.ResultCode);
        }
        else
        {
            // Mosquitto: connected, but as rdr-main-in.
            Assert.Equal(MqttClientConnectResultCode.Success, impostor.Result.ResultCode);
            await impostor.PublishAsync(Topics.ReaderEvents(HallReaderIn), "forged swipe");
            await impostor.PublishAsync(Topics.ReaderEvents(MainReaderIn), "own swipe");
            Assert.Equal(Topics.ReaderEvents(MainReaderIn), (await service.NextMessageAsync()).Topic);
        }

        await using var reader = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, null, tls: pki.ClientTls(MainReaderIn));
        Assert.Equal(MqttClientConnectResultCode.Success, reader.Result.ResultCode);
        await reader.SubscribeGrantedAsync(Topics.ReaderDecisions(MainReaderIn));
        await reader.SubscribeAsync(Topics.ReaderDecisions(HallReaderIn));

        var forged = await reader.PublishAsync(Topics.ReaderEvents(HallReaderIn), "forged swipe 2");
        var own = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "own swipe 2");
        await service.PublishAsync(Topics.ReaderDecisions(HallReaderIn), "someone else's decision");
        await service.PublishAsync(Topics.ReaderDecisions(MainReaderIn), "own decision");

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        Assert.True(own.IsSuccess);
        var received = await service.NextMessageAsync();
        Assert.Equal(Topics.ReaderEvents(MainReaderIn), received.Topic);
        Assert.Equal("own swipe 2", Encoding.UTF8.GetString(received.Payload.Span));
        var decision = await reader.NextMessageAsync();
        Assert.Equal("own decision", Encoding.UTF8.GetString(decision.Payload.Span));
    }

    /// <summary>
    /// Revoke, reissue the CRL, and the next connection with that certificate is refused. The embedded broker reads
    /// the CRL on every connection; Mosquitto reads it at start, so it is restarted as docs/operations.md says.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "PCI-4.2")]
    public async Task RevokedCertificate_IsRefused_OthersStillConnect(BrokerKind kind)
    {
        using var pki = TestPki.Create(Topology);
        await using var broker = await TestBrokers.StartAsync(kind, pki: pki);
        var stolen = pki.ClientTls(MainReaderIn);
        Assert.True(await ConnectsAsync(broker.Port, MainReaderIn, null, stolen));

        pki.Revoke(MainReaderIn);
        if (kind == BrokerKind.Mosquitto)
        {
            await broker.StopAsync();
            await broker.StartAgainAsync();
        }

        Assert.False(await ConnectsAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn), pki.ClientTls(MainReaderIn)));
        Assert.True(await ConnectsAsync(broker.Port, HallReaderIn, null, pki.ClientTls(HallReaderIn)));

        // A new certificate for the same reader (after the device was recovered) works again.
        pki.Issue(MainReaderIn);
        Assert.True(await ConnectsAsync(broker.Port, MainReaderIn, null, pki.ClientTls(MainReaderIn)));

        if (broker is EmbeddedBrokerFixture embedded)
        {
            var refusal = Assert.Single(embedded.SecurityEvents);
            Assert.Equal(MainReaderIn, refusal.Username);
            Assert.Contains("revoked", refusal.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public async Task EmbeddedBroker_CertificateWithWrongPassword_IsRefused()
    {
        using var pki = TestPki.Create(Topology);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, tls: pki.BrokerTls);

        await using var client = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, Secrets.For(HallReaderIn), tls: pki.ClientTls(MainReaderIn));

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, client.Result.ResultCode);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public async Task EmbeddedBroker_UnreadableCrl_RefusesEveryone()
    {
        using var pki = TestPki.Create(Topology);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets, tls: pki.BrokerTls);
        await File.WriteAllTextAsync(pki.CrlFile, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");

        Assert.False(await ConnectsAsync(broker.Port, MainReaderIn, null, pki.ClientTls(MainReaderIn)));
        Assert.Contains(broker.SecurityEvents, e => e.Detail.Contains("revocation cannot be checked", StringComparison.Ordinal));
    }

    [Fact]
    public void RevocationList_SignedByAnotherCa_IsNotTrusted()
    {
        using var pki = TestPki.Create(Topology);
        using var rogue = TestPki.Create(Topology, "Rogue CA");

        var (list, problem) = RevocationList.Load(rogue.CrlFile, pki.Ca);

        Assert.Null(list);
        Assert.Contains("not signed by the site CA", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void RevocationList_ListsRevokedSerials()
    {
        using var pki = TestPki.Create(Topology);
        pki.Revoke(HallController);

        var (list, problem) = RevocationList.Load(pki.CrlFile, pki.Ca);

        Assert.Null(problem);
        using var revoked = pki.ClientCertificate(HallController);
        using var other = pki.ClientCertificate(MainController);
        Assert.True(list!.IsRevoked(revoked));
        Assert.False(list.IsRevoked(other));
        Assert.Equal(TestPki.NotBefore + Duration.FromDays(1), list.ThisUpdate);
    }

    [Fact]
    public void MosquittoConfig_WithTls_ListensWithMutualTlsAndTheCrl()
    {
        var config = MosquittoConfig.RenderConfig(8883, "/etc/ac/passwords", "/etc/ac/acl", "mosquitto",
            new MosquittoTls("/etc/ac/pki/ca.crt", "/etc/ac/pki/broker.crt", "/etc/ac/pki/broker.key", "/etc/ac/pki/crl.pem", "0.0.0.0"));

        Assert.Contains("listener 8883 0.0.0.0\n", config, StringComparison.Ordinal);
        Assert.Contains("require_certificate true\n", config, StringComparison.Ordinal);
        Assert.Contains("use_identity_as_username true\n", config, StringComparison.Ordinal);
        Assert.Contains("crlfile /etc/ac/pki/crl.pem\n", config, StringComparison.Ordinal);
        Assert.Contains("cafile /etc/ac/pki/ca.crt\n", config, StringComparison.Ordinal);
        Assert.Contains("tls_version tlsv1.2\n", config, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", config, StringComparison.Ordinal);
        Assert.Contains("set_tcp_nodelay true", config, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-SC-8")]
    public void ReferenceTlsConfig_InDeploy_HasTheSameSettingsAsTheGenerator()
    {
        var reference = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "deploy", "mosquitto", "mosquitto-tls.conf"));
        const string dir = "/etc/mosquitto/accesscontrol";
        var generated = MosquittoConfig.RenderConfig(8883, dir + "/passwords", dir + "/acl", "mosquitto", MosquittoTls.FromPkiDirectory(dir + "/pki", "0.0.0.0"))
            .Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith('#'));

        Assert.All(generated, line => Assert.Contains(line, reference));
    }

    [Fact]
    public void BrokerOptions_TlsWithoutCrl_IsInvalid()
    {
        var options = new BrokerOptions { Tls = new BrokerTlsOptions { Enabled = true, CaFile = "ca.crt", ServerCertFile = "b.crt", ServerKeyFile = "b.key", ClientCertFile = "s.crt" } };

        Assert.Contains(options.Validate(), e => e.Contains("CrlFile", StringComparison.Ordinal));
        Assert.Empty((options with { Tls = options.Tls with { CrlFile = "crl.pem" } }).Validate());
    }

    private static async Task<bool> ConnectsAsync(int port, string username, string? password, MqttClientTlsOptions? tls)
    {
        try
        {
            await using var client = await TestMqttClient.ConnectAsync(port, username, password, tls: tls);
            return client.Result.ResultCode == MqttClientConnectResultCode.Success && client.IsConnected;
        }
        catch (MqttCommunicationException)
        {
            return false;
        }
    }
}

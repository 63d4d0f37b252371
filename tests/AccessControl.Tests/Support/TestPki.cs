using System.Numerics;
using System.Security.Cryptography.X509Certificates;
using AccessControl.Broker;
using AccessControl.Broker.Tls;
using AccessControl.Devices;
using AccessControl.Sites;
using MQTTnet;
using NodaTime;

namespace AccessControl.Tests.Support;

/// <summary>
/// A site CA in a temp folder with a broker certificate (127.0.0.1, localhost) and a client certificate for every
/// username of a topology, plus a CRL a test can reissue after revoking. Certificates are valid 2025–2040 so both the
/// fake service clock and OpenSSL's real clock (Mosquitto) accept them.
/// </summary>
public sealed class TestPki : IDisposable
{
    public static readonly Instant NotBefore = Instant.FromUtc(2025, 1, 1, 0, 0);
    public static readonly Duration Validity = Duration.FromDays(15 * 365);

    private readonly List<X509Certificate2> revoked = [];
    private readonly Dictionary<string, (string Cert, string Key)> clients = new(StringComparer.Ordinal);
    private BigInteger crlNumber = 1;

    private TestPki(string directory, X509Certificate2 ca)
    {
        Directory = directory;
        Ca = ca;
        CaFile = Path.Combine(directory, "ca.crt");
        File.WriteAllText(CaFile, SitePki.CertificatePem(ca));
        using var server = SitePki.IssueServer(ca, ["127.0.0.1", "localhost"], NotBefore, Validity);
        (ServerCertFile, ServerKeyFile) = SitePki.WritePem(server, directory, "broker");
        CrlFile = Path.Combine(directory, "crl.pem");
        WriteCrl();
    }

    public string Directory { get; }

    public X509Certificate2 Ca { get; }

    public string CaFile { get; }

    public string ServerCertFile { get; }

    public string ServerKeyFile { get; }

    public string CrlFile { get; }

    /// <summary>The folder of device certificates, <c>ID.crt</c> and <c>ID.key</c>, as issue-certs.sh lays it out.</summary>
    public string DevicesDirectory => Path.Combine(Directory, "devices");

    public static TestPki Create(SiteTopology topology, string name = "Test site CA")
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("ac-pki-").FullName;
        var pki = new TestPki(directory, SitePki.CreateCa(name, NotBefore, Duration.FromDays(20 * 365)));
        foreach (var username in MosquittoConfig.Usernames(topology))
        {
            pki.Issue(username);
        }

        return pki;
    }

    /// <summary>Issues (or reissues) the client certificate of a username; returns its PEM files.</summary>
    public (string Cert, string Key) Issue(string username)
    {
        using var certificate = SitePki.IssueClient(Ca, username, NotBefore, Validity);
        var files = SitePki.WritePem(certificate, DevicesDirectory, username);
        clients[username] = files;
        return files;
    }

    /// <summary>A certificate with private key for a username, as a device would load it.</summary>
    public X509Certificate2 ClientCertificate(string username)
    {
        var (cert, key) = clients[username];
        return TlsFiles.LoadCertificateWithKey(cert, key);
    }

    /// <summary>Puts a username's current certificate on the CRL and rewrites the CRL file.</summary>
    public void Revoke(string username)
    {
        revoked.Add(X509CertificateLoader.LoadCertificateFromFile(clients[username].Cert));
        WriteCrl();
    }

    /// <summary>TLS options for the embedded broker and the service, with the service's client certificate.</summary>
    public BrokerTlsOptions BrokerTls => new()
    {
        Enabled = true,
        CaFile = CaFile,
        CrlFile = CrlFile,
        ServerCertFile = ServerCertFile,
        ServerKeyFile = ServerKeyFile,
        ClientCertFile = clients[DeviceSecrets.ServiceUsername].Cert,
        ClientKeyFile = clients[DeviceSecrets.ServiceUsername].Key,
    };

    public MosquittoTls MosquittoTls => new(CaFile, ServerCertFile, ServerKeyFile, CrlFile);

    /// <summary>Client TLS options presenting <paramref name="certificate"/> (null: none) and trusting only this CA.</summary>
    public MqttClientTlsOptions ClientTls(X509Certificate2? certificate) =>
        new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithTargetHost("127.0.0.1")
            .WithSslProtocols(System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13)
            .WithCertificateValidationHandler(args => TlsFiles.IsTrustedServer(args.Certificate, args.SslPolicyErrors, Ca))
            .WithClientCertificates(certificate is null ? [] : [certificate])
            .Build();

    public MqttClientTlsOptions ClientTls(string username) => ClientTls(ClientCertificate(username));

    public void Dispose()
    {
        Ca.Dispose();
        foreach (var certificate in revoked)
        {
            certificate.Dispose();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private void WriteCrl()
    {
        var crl = SitePki.BuildCrl(Ca, revoked, crlNumber++, NotBefore + Duration.FromDays(1), NotBefore + Validity);
        SitePki.WriteCrl(crl, CrlFile);
    }
}

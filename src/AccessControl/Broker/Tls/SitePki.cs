using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NodaTime;

namespace AccessControl.Broker.Tls;

/// <summary>
/// The site's certificate authority in code: the same CA, broker, device certificates and CRL that
/// <c>deploy/pki/issue-certs.sh</c> makes with openssl, so tests (and <c>accesscontrol pki</c>) do not depend on a
/// shell. Keys are ECDSA P-256, which both MQTTnet (.NET) and Mosquitto (OpenSSL) accept.
/// </summary>
/// <remarks>
/// Device certificates carry the device id as CN and the clientAuth extended key usage; the broker certificate
/// carries serverAuth and its host names as SANs. Serial numbers are 16 random bytes (positive), which is what the
/// CRL lists. Validity is given explicitly (no wall clock here): callers pass the instant they got from an IClock.
/// </remarks>
public static class SitePki
{
    /// <summary>OID of the TLS client authentication extended key usage.</summary>
    public const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>OID of the TLS server authentication extended key usage.</summary>
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    /// <summary>A self-signed site CA (CA:TRUE, path length 0: it signs only end-entity certificates).</summary>
    public static X509Certificate2 CreateCa(string name, Instant notBefore, Duration validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + Escape(name)), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore.ToDateTimeOffset(), (notBefore + validity).ToDateTimeOffset());
    }

    /// <summary>The broker's certificate: CN = first host name, every host name as a DNS or IP SAN, serverAuth.</summary>
    public static X509Certificate2 IssueServer(X509Certificate2 ca, IReadOnlyList<string> hostNames, Instant notBefore, Duration validity)
    {
        ArgumentOutOfRangeException.ThrowIfZero(hostNames.Count);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var host in hostNames)
        {
            if (System.Net.IPAddress.TryParse(host, out var ip))
            {
                san.AddIpAddress(ip);
            }
            else
            {
                san.AddDnsName(host);
            }
        }

        return Issue(ca, hostNames[0], ServerAuthOid, notBefore, validity, san.Build());
    }

    /// <summary>A device's (or the service's, or the monitor's) client certificate: CN = its MQTT username, clientAuth.</summary>
    public static X509Certificate2 IssueClient(X509Certificate2 ca, string deviceId, Instant notBefore, Duration validity) =>
        Issue(ca, deviceId, ClientAuthOid, notBefore, validity, extra: null);

    /// <summary>
    /// A CRL signed by the CA listing <paramref name="revoked"/>. <paramref name="nextUpdate"/> matters: OpenSSL (so
    /// Mosquitto) and <see cref="ClientCertificateValidator"/> refuse every client once it has passed, so reissue the
    /// CRL before then even when nothing was revoked.
    /// </summary>
    public static byte[] BuildCrl(X509Certificate2 ca, IEnumerable<X509Certificate2> revoked, BigInteger crlNumber, Instant thisUpdate, Instant nextUpdate)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var certificate in revoked)
        {
            builder.AddEntry(certificate, thisUpdate.ToDateTimeOffset(), X509RevocationReason.KeyCompromise);
        }

        return builder.Build(ca, crlNumber, nextUpdate.ToDateTimeOffset(), HashAlgorithmName.SHA256, thisUpdate: thisUpdate.ToDateTimeOffset());
    }

    /// <summary>The certificate as PEM text.</summary>
    public static string CertificatePem(X509Certificate2 certificate) => certificate.ExportCertificatePem() + "\n";

    /// <summary>A CRL as PEM text (<c>-----BEGIN X509 CRL-----</c>), the form Mosquitto's <c>crlfile</c> reads.</summary>
    public static string CrlPem(byte[] crl) => new string(PemEncoding.Write("X509 CRL", crl)) + "\n";

    /// <summary>Writes <c>NAME.crt</c> (mode 644) and <c>NAME.key</c> (PKCS#8 PEM, mode 600) into a folder; returns both paths.</summary>
    public static (string CertFile, string KeyFile) WritePem(X509Certificate2 certificate, string directory, string name)
    {
        Directory.CreateDirectory(directory);
        var certFile = Path.Combine(directory, name + ".crt");
        var keyFile = Path.Combine(directory, name + ".key");
        using var key = certificate.GetECDsaPrivateKey() ?? throw new ArgumentException("The certificate has no ECDSA private key.", nameof(certificate));
        WriteFile(keyFile, key.ExportPkcs8PrivateKeyPem() + "\n", ownerOnly: true);
        WriteFile(certFile, CertificatePem(certificate), ownerOnly: false);
        return (certFile, keyFile);
    }

    /// <summary>Writes a CRL as PEM, replacing the file atomically so a broker never reads half of it.</summary>
    public static void WriteCrl(byte[] crl, string path)
    {
        var temporary = path + ".tmp";
        WriteFile(temporary, CrlPem(crl), ownerOnly: false);
        File.Move(temporary, path, overwrite: true);
    }

    private static X509Certificate2 Issue(X509Certificate2 ca, string commonName, string usageOid, Instant notBefore, Duration validity, X509Extension? extra)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + Escape(commonName)), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usageOid)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (extra is not null)
        {
            request.CertificateExtensions.Add(extra);
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive, as RFC 5280 requires
        serial[0] |= 0x01; // and never a shorter encoding
        var notAfter = notBefore + validity;
        var caNotAfter = Instant.FromDateTimeOffset(new DateTimeOffset(ca.NotAfter.ToUniversalTime(), TimeSpan.Zero));
        using var signed = request.Create(ca, notBefore.ToDateTimeOffset(), (notAfter < caNotAfter ? notAfter : caNotAfter).ToDateTimeOffset(), serial);
        return signed.CopyWithPrivateKey(key);
    }

    // Device ids are already restricted (TopicPolicy.IsValidDeviceId); host names too. Quote anything else defensively.
    private static string Escape(string value) =>
        value.IndexOfAny([',', '+', '"', '\\', '<', '>', ';', '=']) < 0 ? value : "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static void WriteFile(string path, string content, bool ownerOnly)
    {
        File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = ownerOnly
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }

        using var writer = new StreamWriter(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), options);
        writer.Write(content);
    }
}

using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace AccessControl.HardwareSim.Devices;

/// <summary>
/// TLS as a reader's firmware does it: trust only the site CA for the broker's certificate, and present the device's
/// own client certificate (CN = device id), from <c>ID.crt</c> + <c>ID.key</c> (PEM) or <c>ID.pfx</c> in
/// <see cref="CertificateDirectory"/>, the layout <c>deploy/pki/issue-certs.sh</c> writes. Without a certificate the
/// device still connects over TLS and relies on its password, which a broker requiring certificates refuses.
/// </summary>
public sealed record DeviceTlsOptions
{
    /// <summary>The site CA certificate (PEM or DER).</summary>
    public required string CaFile { get; init; }

    /// <summary>Folder holding each device's certificate and key; null: no client certificate.</summary>
    public string? CertificateDirectory { get; init; }

    /// <summary>Password of the <c>.pfx</c> files, if any.</summary>
    public string? PfxPassword { get; init; }

    /// <summary>The name the broker's certificate must carry, when it differs from the broker host.</summary>
    public string? TargetHost { get; init; }

    /// <summary>MQTTnet TLS options for one device. Throws when the CA or the device's certificate cannot be read.</summary>
    public MqttClientTlsOptions For(string deviceId, string brokerHost)
    {
        var ca = X509CertificateLoader.LoadCertificateFromFile(CaFile);
        var builder = new MqttClientTlsOptionsBuilder()
            .UseTls()
            .WithSslProtocols(SslProtocols.Tls12 | SslProtocols.Tls13)
            .WithTargetHost(TargetHost ?? brokerHost)
            .WithCertificateValidationHandler(args => IsTrustedServer(args.Certificate, args.SslPolicyErrors, ca));
        if (CertificateDirectory is not null)
        {
            builder.WithClientCertificates([LoadDeviceCertificate(deviceId)]);
        }

        return builder.Build();
    }

    private X509Certificate2 LoadDeviceCertificate(string deviceId)
    {
        var pfx = Path.Combine(CertificateDirectory!, deviceId + ".pfx");
        if (File.Exists(pfx))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(pfx, PfxPassword);
        }

        // A PEM key never persisted cannot be presented by SslStream on every platform; a PKCS#12 round trip fixes that.
        using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(CertificateDirectory!, deviceId + ".crt"), Path.Combine(CertificateDirectory!, deviceId + ".key"));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static bool IsTrustedServer(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        return chain.Build(server);
    }
}

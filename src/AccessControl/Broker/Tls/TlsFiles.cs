using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace AccessControl.Broker.Tls;

/// <summary>Loading certificates and keys from the files operators install, and checking the broker's certificate as a client.</summary>
public static class TlsFiles
{
    /// <summary>A certificate without key (the site CA), PEM or DER.</summary>
    public static X509Certificate2 LoadCertificate(string path) => X509CertificateLoader.LoadCertificateFromFile(path);

    /// <summary>
    /// A certificate with its private key: a PFX/PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, optional password), or a PEM
    /// certificate plus a PEM key file. PEM pairs are turned into a PKCS#12 in memory, because SslStream on some
    /// platforms cannot present a certificate whose key was never persisted.
    /// </summary>
    public static X509Certificate2 LoadCertificateWithKey(string certFile, string? keyFile, string? pfxPassword = null)
    {
        var extension = Path.GetExtension(certFile);
        if (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(certFile, pfxPassword);
        }

        using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile ?? throw new ArgumentException("A PEM certificate needs its key file.", nameof(keyFile)));
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// Whether a broker's certificate is acceptable to a client: the host name matches (SslStream's own check) and the
    /// chain ends at the site CA, not at whatever the machine's trust store holds.
    /// </summary>
    public static bool IsTrustedServer(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca)
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
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(SitePki.ServerAuthOid));
        return chain.Build(server);
    }
}

using System.Security.Cryptography.X509Certificates;
using NodaTime;

namespace AccessControl.Broker.Tls;

/// <summary>The outcome of checking a client certificate: the identity it proves (its CN), or why it was refused.</summary>
public readonly record struct CertificateCheck(string? Identity, string? Refusal)
{
    public bool IsValid => Refusal is null;

    public static CertificateCheck Valid(string identity) => new(identity, null);

    public static CertificateCheck Refused(string? identity, string why) => new(identity, why);
}

/// <summary>
/// Decides whether a device's TLS client certificate may connect: it must chain to the site CA and nothing else (the
/// system's trusted roots are ignored, so a certificate any public CA issued for "rdr-main-in" is worthless), be
/// within its validity on the service clock, carry the clientAuth usage, have a CN, and not be on the CRL. The CRL
/// file is read again for every check, so a revocation applies to the next connection without a restart; a CRL that
/// is missing, unsigned by the CA or past its nextUpdate refuses everyone (fail closed, as OpenSSL does for Mosquitto).
/// </summary>
public sealed class ClientCertificateValidator
{
    private readonly X509Certificate2 ca;
    private readonly string? crlFile;
    private readonly IClock clock;

    /// <param name="crlFile">The site CRL (PEM or DER); null checks no revocation (not recommended).</param>
    public ClientCertificateValidator(X509Certificate2 ca, string? crlFile, IClock clock)
    {
        this.ca = ca;
        this.crlFile = crlFile;
        this.clock = clock;
    }

    public CertificateCheck Check(X509Certificate? presented)
    {
        if (presented is null)
        {
            return CertificateCheck.Refused(null, "no client certificate");
        }

        using var owned = presented as X509Certificate2 is null ? X509CertificateLoader.LoadCertificate(presented.GetRawCertData()) : null;
        var certificate = owned ?? (X509Certificate2)presented;
        var identity = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = clock.GetCurrentInstant().ToDateTimeUtc();
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(SitePki.ClientAuthOid));
        if (!chain.Build(certificate))
        {
            var statuses = chain.ChainStatus.Select(s => s.Status.ToString()).Distinct();
            return CertificateCheck.Refused(identity, "certificate not valid for the site CA: " + string.Join(", ", statuses));
        }

        if (string.IsNullOrEmpty(identity))
        {
            return CertificateCheck.Refused(identity, "certificate has no common name");
        }

        if (crlFile is null)
        {
            return CertificateCheck.Valid(identity);
        }

        var (crl, problem) = RevocationList.Load(crlFile, ca);
        if (crl is null)
        {
            return CertificateCheck.Refused(identity, "revocation cannot be checked: " + problem);
        }

        if (crl.NextUpdate is { } next && next < clock.GetCurrentInstant())
        {
            return CertificateCheck.Refused(identity, $"the CRL expired at {next}; issue a new one");
        }

        return crl.IsRevoked(certificate)
            ? CertificateCheck.Refused(identity, $"certificate {certificate.SerialNumber} is revoked")
            : CertificateCheck.Valid(identity);
    }
}

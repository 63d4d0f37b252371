using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NodaTime;

namespace AccessControl.Broker.Tls;

/// <summary>
/// A parsed, signature-checked X.509 CRL: the serial numbers the site CA revoked and when the list must be replaced.
/// .NET can build CRLs but not list their entries, and its chain builder does not read a CRL from a file on Linux,
/// so the embedded broker reads the file itself (RFC 5280 §5.1). Only the fields needed are read; extensions are skipped.
/// </summary>
public sealed record RevocationList(IReadOnlySet<string> RevokedSerials, Instant ThisUpdate, Instant? NextUpdate)
{
    /// <summary>Whether a certificate is on the list, by serial number.</summary>
    public bool IsRevoked(X509Certificate2 certificate) => RevokedSerials.Contains(NormalizeSerial(certificate.SerialNumber));

    /// <summary>
    /// Reads a CRL file (PEM <c>X509 CRL</c> or DER) and checks it was signed by <paramref name="ca"/>. Returns null and
    /// the reason when the file is missing, malformed, or signed by someone else: the caller fails closed.
    /// </summary>
    public static (RevocationList? List, string? Problem) Load(string path, X509Certificate2 ca)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            return (null, $"cannot read the CRL file: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            return (null, $"cannot read the CRL file: {e.Message}");
        }

        return Parse(data, ca);
    }

    /// <summary>Parses CRL bytes (PEM or DER) and checks the CA's signature on them.</summary>
    public static (RevocationList? List, string? Problem) Parse(byte[] data, X509Certificate2 ca)
    {
        try
        {
            var der = ToDer(data);
            var outer = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            var tbsBytes = outer.ReadEncodedValue();
            var algorithm = outer.ReadSequence().ReadObjectIdentifier();
            var signature = outer.ReadBitString(out _);
            if (!VerifySignature(ca, algorithm, tbsBytes.Span, signature))
            {
                return (null, "the CRL is not signed by the site CA");
            }

            var tbs = new AsnReader(tbsBytes, AsnEncodingRules.DER).ReadSequence();
            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                _ = tbs.ReadInteger(); // version
            }

            tbs.ReadSequence(); // signature algorithm again
            var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
            if (!issuer.RawData.AsSpan().SequenceEqual(ca.SubjectName.RawData))
            {
                return (null, "the CRL names another issuer than the site CA");
            }

            var thisUpdate = ReadTime(tbs);
            Instant? nextUpdate = tbs.HasData && IsTime(tbs.PeekTag()) ? ReadTime(tbs) : null;
            var serials = new HashSet<string>(StringComparer.Ordinal);
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    var entry = entries.ReadSequence();
                    serials.Add(NormalizeSerial(Convert.ToHexString(entry.ReadIntegerBytes().Span)));
                }
            }

            return (new RevocationList(serials, thisUpdate, nextUpdate), null);
        }
        catch (AsnContentException e)
        {
            return (null, "the CRL is malformed: " + e.Message);
        }
        catch (CryptographicException e)
        {
            return (null, "the CRL is malformed: " + e.Message);
        }
        catch (FormatException e)
        {
            return (null, "the CRL is malformed: " + e.Message);
        }
    }

    /// <summary>Upper-case hex without leading zero bytes, so the CRL's and the certificate's forms compare equal.</summary>
    public static string NormalizeSerial(string hex)
    {
        var trimmed = hex.ToUpperInvariant();
        while (trimmed.Length > 2 && trimmed.StartsWith("00", StringComparison.Ordinal))
        {
            trimmed = trimmed[2..];
        }

        return trimmed;
    }

    private static byte[] ToDer(byte[] data)
    {
        var text = System.Text.Encoding.ASCII.GetString(data);
        if (!text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            return data;
        }

        var fields = PemEncoding.Find(text);
        if (!text.AsSpan(fields.Label).SequenceEqual("X509 CRL"))
        {
            throw new FormatException($"expected an X509 CRL, found {text[fields.Label]}");
        }

        return Convert.FromBase64String(text[fields.Base64Data]);
    }

    private static bool VerifySignature(X509Certificate2 ca, string algorithm, ReadOnlySpan<byte> tbs, byte[] signature)
    {
        switch (algorithm)
        {
            case "1.2.840.10045.4.3.2":
            case "1.2.840.10045.4.3.3":
            case "1.2.840.10045.4.3.4":
                using (var ec = ca.GetECDsaPublicKey())
                {
                    return ec is not null && ec.VerifyData(tbs, signature, Hash(algorithm), DSASignatureFormat.Rfc3279DerSequence);
                }

            case "1.2.840.113549.1.1.11":
            case "1.2.840.113549.1.1.12":
            case "1.2.840.113549.1.1.13":
                using (var rsa = ca.GetRSAPublicKey())
                {
                    return rsa is not null && rsa.VerifyData(tbs, signature, Hash(algorithm), RSASignaturePadding.Pkcs1);
                }

            default:
                return false;
        }
    }

    private static HashAlgorithmName Hash(string algorithm) => algorithm switch
    {
        "1.2.840.10045.4.3.3" or "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
        "1.2.840.10045.4.3.4" or "1.2.840.113549.1.1.13" => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    private static bool IsTime(Asn1Tag tag) =>
        tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static Instant ReadTime(AsnReader reader) =>
        Instant.FromDateTimeOffset(reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime());
}

using System.Security.Cryptography;
using System.Text;

namespace AccessControl.Visitors;

/// <summary>
/// Keyed hashes of identity-document numbers (HMAC-SHA256). The number itself is never stored: a copy of the database
/// without the key file does not give the numbers back, not even by trying every number of a known format.
/// </summary>
public sealed class DocumentNumberHasher
{
    private readonly byte[] key;

    public DocumentNumberHasher(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 32)
        {
            throw new ArgumentException("The PII key must be at least 32 bytes.", nameof(key));
        }

        this.key = [.. key];
    }

    /// <summary>Lower-case hex HMAC-SHA256 of the issuing country and the normalized number (a number is unique only per issuer).</summary>
    public string Hash(string issuingCountry, string normalizedNumber) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"doc-number:v1:{issuingCountry}:{normalizedNumber}")));

    /// <summary>Never shows the key.</summary>
    public override string ToString() => nameof(DocumentNumberHasher);
}

/// <summary>
/// The key of <see cref="DocumentNumberHasher"/>, kept apart from the provisioning key (a different secret for a
/// different purpose, rotated and backed up on its own). Taken from <c>AC_PII_KEY</c> (base64) when set, else from
/// the file <c>pii.key</c> in the data folder, created on first start with owner-only permissions; the same pattern
/// as <see cref="Hosting.ProvisioningKey"/>. Without it the stored hashes can no longer be matched: a start whose file is
/// missing while visitors' hashes are stored is refused (<see cref="Hosting.MissingKeys"/>).
/// </summary>
public static class PiiKey
{
    public const string EnvironmentVariable = "AC_PII_KEY";

    public static DocumentNumberHasher Load(string keyFile)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return new DocumentNumberHasher(Storage.SecretFiles.DecodeBase64Key(fromEnvironment, $"the environment variable {EnvironmentVariable}"));
        }

        return new DocumentNumberHasher(Storage.SecretFiles.LoadOrCreateBase64Key(keyFile));
    }
}

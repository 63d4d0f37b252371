using System.Security.Cryptography;
using System.Text;

namespace AccessControl.Hr;

/// <summary>
/// Signs and checks HR feed requests: <c>HMAC-SHA256(key, timestamp + "\n" + body)</c>, hex, sent as
/// <c>X-AC-Signature: sha256=&lt;hex&gt;</c> with the timestamp in <c>X-AC-Timestamp</c>. The timestamp is inside the MAC,
/// so a captured request cannot be given a fresh time; the service refuses one more than
/// <see cref="HrFeedApi.MaxClockSkew"/> from its clock, and event ids make a replay inside that window harmless.
/// </summary>
public sealed class HrFeedSigner
{
    public const string Scheme = "sha256=";

    private readonly byte[] key;

    public HrFeedSigner(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 32)
        {
            throw new ArgumentException("The HR feed key must be at least 32 bytes.", nameof(key));
        }

        this.key = [.. key];
    }

    /// <summary>The header value for a body sent at a timestamp: <c>sha256=</c> and lower-case hex.</summary>
    public string Sign(string timestamp, ReadOnlySpan<byte> body) => Scheme + Convert.ToHexStringLower(Mac(timestamp, body));

    /// <summary>Whether a header value is the signature of this body and timestamp (constant-time comparison).</summary>
    public bool Verify(string timestamp, ReadOnlySpan<byte> body, string? signature)
    {
        if (signature is null || !signature.StartsWith(Scheme, StringComparison.Ordinal) || signature.Length != Scheme.Length + 64)
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(signature.AsSpan(Scheme.Length));
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(given, Mac(timestamp, body));
    }

    /// <summary>Never shows the key.</summary>
    public override string ToString() => nameof(HrFeedSigner);

    private byte[] Mac(string timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp + "\n");
        var message = new byte[prefix.Length + body.Length];
        prefix.CopyTo(message, 0);
        body.CopyTo(message.AsSpan(prefix.Length));
        return HMACSHA256.HashData(key, message);
    }
}

/// <summary>
/// The HR feed secret, shared with the HR system (or the CSV import): from <c>AC_HR_KEY</c> (base64) when set, else the
/// file <c>hr-feed.key</c> in the data folder, created on first start with owner-only permissions (the pattern of
/// <see cref="Visitors.PiiKey"/>). Its own secret: whoever holds it can terminate anyone, so it is not the provisioning
/// key and not an operator token. Rotate it by replacing the file (or the variable) and restarting.
/// </summary>
public static class HrFeedKey
{
    public const string EnvironmentVariable = "AC_HR_KEY";
    public const string FileName = "hr-feed.key";

    /// <summary>The service's key: the environment variable, else the file, created when missing.</summary>
    public static HrFeedSigner Load(string keyFile, Func<string, string?>? environment = null)
    {
        if (FromEnvironment(environment) is { } fromEnvironment)
        {
            return fromEnvironment;
        }

        return File.Exists(keyFile) ? Read(keyFile) : new HrFeedSigner(Storage.SecretFiles.LoadOrCreateBase64Key(keyFile));
    }

    /// <summary>A client's key (the CSV import): the environment variable, else an existing file; never creates one.</summary>
    public static HrFeedSigner Read(string keyFile, Func<string, string?>? environment = null) =>
        FromEnvironment(environment) ?? new HrFeedSigner(Storage.SecretFiles.DecodeBase64Key(File.ReadAllText(keyFile), keyFile));

    private static HrFeedSigner? FromEnvironment(Func<string, string?>? environment)
    {
        var text = (environment ?? Environment.GetEnvironmentVariable)(EnvironmentVariable);
        return string.IsNullOrWhiteSpace(text) ? null : new HrFeedSigner(Storage.SecretFiles.DecodeBase64Key(text, $"the environment variable {EnvironmentVariable}"));
    }
}

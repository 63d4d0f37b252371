using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using AccessControl.Sites;

namespace AccessControl.Fingerprints;

/// <summary>
/// What a template's ciphertext is bound to: the row it belongs to. It is the AES-GCM associated data, so a ciphertext
/// copied into another row (another person, another finger) fails to decrypt instead of verifying the wrong person.
/// </summary>
public readonly record struct TemplateBinding(string TemplateId, PersonId Person, string Finger, string Format)
{
    /// <summary>Each field length-prefixed, after a version tag: unambiguous whatever the fields contain.</summary>
    internal byte[] ToAssociatedData(string keyId)
    {
        var fields = new[] { "ac-fingerprint-template-v1", keyId, TemplateId, Person.Value, Finger, Format };
        var buffer = new List<byte>(128);
        Span<byte> length = stackalloc byte[4];
        foreach (var field in fields)
        {
            var bytes = Encoding.UTF8.GetBytes(field);
            BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            buffer.AddRange(length.ToArray());
            buffer.AddRange(bytes);
        }

        return [.. buffer];
    }
}

/// <summary>
/// A template encrypted at rest: AES-256-GCM under the key <see cref="KeyId"/>, a fresh random 12-byte nonce, and the
/// ciphertext followed by its 16-byte tag. Redacted in <see cref="ToString"/>.
/// </summary>
public sealed record SealedTemplate(string KeyId, byte[] Nonce, byte[] CiphertextAndTag)
{
    public override string ToString() => $"SealedTemplate {{ KeyId = {KeyId}, [{CiphertextAndTag.Length} bytes] }}";
}

/// <summary>One template-encryption key. Never shown: <see cref="ToString"/> gives the id only.</summary>
public sealed class FingerprintKey
{
    public const int Bytes = 32;

    internal FingerprintKey(string id, byte[] material)
    {
        if (!FingerprintKeyring.IsValidKeyId(id))
        {
            throw new ArgumentException("A key id is 1 to 32 characters of A-Z a-z 0-9 . _ -", nameof(id));
        }

        if (material.Length != Bytes)
        {
            throw new ArgumentException($"A fingerprint key is {Bytes} bytes (AES-256).", nameof(material));
        }

        Id = id;
        Material = material;
    }

    public string Id { get; }

    internal byte[] Material { get; }

    public override string ToString() => $"FingerprintKey {{ Id = {Id} }}";
}

/// <summary>
/// The keys that protect fingerprint templates at rest (ISO/IEC 24745: confidentiality and renewability of biometric
/// references). The last key is the current one: new templates and <c>fingerprints rekey</c> encrypt under it; the
/// older keys are kept only so that templates not yet re-encrypted can still be read.
/// </summary>
/// <remarks>
/// <para>Text form (the file <c>fingerprint.keys</c> in the data folder, or the environment variable
/// <c>AC_FINGERPRINT_KEYS</c> with lines separated by newlines or <c>;</c>): one key per line,
/// <c>&lt;keyId&gt; &lt;base64 of 32 bytes&gt;</c>; blank lines and lines starting with <c>#</c> are ignored.</para>
/// <para>Rotation: append a line with a new key, run <c>accesscontrol fingerprints rekey</c> (it re-reads the keys and
/// re-encrypts every active template under the new one), then delete the old line. The key file is kept apart
/// from the database (and backed up apart from it): a copy of the database alone gives no template back.</para>
/// </remarks>
public sealed partial class FingerprintKeyring
{
    public const string EnvironmentVariable = "AC_FINGERPRINT_KEYS";

    public const int NonceBytes = 12;

    public const int TagBytes = 16;

    private readonly ImmutableDictionary<string, FingerprintKey> keys;

    public FingerprintKeyring(IEnumerable<FingerprintKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = keys.ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("A keyring needs at least one key.", nameof(keys));
        }

        var duplicate = list.GroupBy(k => k.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"The key id '{duplicate.Key}' appears twice.", nameof(keys));
        }

        this.keys = list.ToImmutableDictionary(k => k.Id, StringComparer.Ordinal);
        KeyIds = [.. list.Select(k => k.Id)];
        Current = list[^1];
    }

    /// <summary>The key new ciphertexts are made with (the last line).</summary>
    public FingerprintKey Current { get; }

    /// <summary>Every key id, in file order (the current one last).</summary>
    public ImmutableArray<string> KeyIds { get; }

    public bool Contains(string keyId) => keys.ContainsKey(keyId);

    /// <summary>A keyring of one fresh random key (tests, first start).</summary>
    public static FingerprintKeyring NewRandom(string keyId = "k1") => new([new FingerprintKey(keyId, RandomNumberGenerator.GetBytes(FingerprintKey.Bytes))]);

    public static bool IsValidKeyId(string? id) => id is not null && KeyIdPattern().IsMatch(id);

    /// <summary>
    /// The keys from <c>AC_FINGERPRINT_KEYS</c> when set, else from <paramref name="keyFile"/>, which is created on first
    /// start with one random key (<c>k1</c>) and owner-only permissions. A malformed key text is an exception naming the
    /// line (never the key): the service must not start without its keys.
    /// </summary>
    /// <param name="environment">Reads an environment variable; null for the process environment.</param>
    public static FingerprintKeyring Load(string keyFile, Func<string, string?>? environment = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(keyFile);
        var fromEnvironment = (environment ?? Environment.GetEnvironmentVariable)(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return ParseKey(fromEnvironment.Replace(';', '\n'), EnvironmentVariable, $"the environment variable {EnvironmentVariable}");
        }

        if (!File.Exists(keyFile))
        {
            var text = $"""
                # Fingerprint template keys: "<keyId> <base64 of 32 bytes>", the last line is the current key.
                # Back this file up apart from the database. Rotation: docs/operations.md.
                k1 {Convert.ToBase64String(RandomNumberGenerator.GetBytes(FingerprintKey.Bytes))}

                """;
            Storage.SecretFiles.CreateNew(keyFile, text);
        }

        return ParseKey(File.ReadAllText(keyFile), keyFile, keyFile);
    }

    private static FingerprintKeyring ParseKey(string text, string source, string named)
    {
        try
        {
            return Parse(text, source);
        }
        catch (FormatException ex)
        {
            // Parse names the line and what it expected, never the key.
            throw new Storage.KeyFileException(named, $"is not a fingerprint keyring: {ex.Message}", ex);
        }
    }

    /// <summary>Parses the text form (see the class remarks). <paramref name="source"/> names it in error messages.</summary>
    public static FingerprintKeyring Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var keys = new List<FingerprintKey>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            byte[]? material = null;
            if (parts.Length == 2 && IsValidKeyId(parts[0]))
            {
                material = new byte[FingerprintKey.Bytes + 3];
                material = Convert.TryFromBase64String(parts[1], material, out var written) && written == FingerprintKey.Bytes ? material[..written] : null;
            }

            if (material is null)
            {
                throw new FormatException($"{source}, line {i + 1}: expected '<keyId> <base64 of {FingerprintKey.Bytes} bytes>' (key id: 1 to 32 characters of A-Z a-z 0-9 . _ -).");
            }

            if (keys.Any(k => k.Id == parts[0]))
            {
                throw new FormatException($"{source}, line {i + 1}: the key id '{parts[0]}' appears twice.");
            }

            keys.Add(new FingerprintKey(parts[0], material));
        }

        return keys.Count == 0 ? throw new FormatException($"{source} holds no key.") : new FingerprintKeyring(keys);
    }

    /// <summary>Encrypts a template under the current key, bound to its row.</summary>
    public SealedTemplate Seal(TemplateBinding binding, ReadOnlySpan<byte> plaintext)
    {
        var key = Current;
        var nonce = RandomNumberGenerator.GetBytes(NonceBytes);
        var output = new byte[plaintext.Length + TagBytes];
        using var aes = new AesGcm(key.Material, TagBytes);
        aes.Encrypt(nonce, plaintext, output.AsSpan(0, plaintext.Length), output.AsSpan(plaintext.Length), binding.ToAssociatedData(key.Id));
        return new SealedTemplate(key.Id, nonce, output);
    }

    /// <summary>
    /// Decrypts a template. Null when the key is not in the keyring, or the ciphertext, nonce or tag were changed,
    /// or the ciphertext belongs to another row: the caller fails closed.
    /// </summary>
    public byte[]? TryOpen(TemplateBinding binding, SealedTemplate sealedTemplate)
    {
        ArgumentNullException.ThrowIfNull(sealedTemplate);
        if (!keys.TryGetValue(sealedTemplate.KeyId, out var key)
            || sealedTemplate.Nonce.Length != NonceBytes
            || sealedTemplate.CiphertextAndTag.Length < TagBytes)
        {
            return null;
        }

        var length = sealedTemplate.CiphertextAndTag.Length - TagBytes;
        var plaintext = new byte[length];
        using var aes = new AesGcm(key.Material, TagBytes);
        try
        {
            aes.Decrypt(sealedTemplate.Nonce, sealedTemplate.CiphertextAndTag.AsSpan(0, length), sealedTemplate.CiphertextAndTag.AsSpan(length), plaintext,
                binding.ToAssociatedData(key.Id));
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    /// <summary>Key ids only.</summary>
    public override string ToString() => $"FingerprintKeyring {{ Current = {Current.Id}, Keys = [{string.Join(", ", KeyIds)}] }}";

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,32}\z")]
    private static partial Regex KeyIdPattern();
}

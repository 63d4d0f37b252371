using System.Security.Cryptography;
using Dapper;
using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// The site's log signing key (ECDSA P-256) that signs entry-log checkpoints. The private key lives in
/// <c>log-signing.key</c> in the data folder (PKCS#8 PEM, created on first start, owner read/write only, the same pattern
/// as the provisioning and PII keys); the public key is exported beside it as <c>log-signing.pub.pem</c> for auditors,
/// so that verifying needs no secret. Back the private key up apart from the database: a copy of the database with
/// the key could be rewritten with valid signatures.
/// </summary>
public sealed class LogSigningKey : IDisposable
{
    public const string PrivateKeyFileName = "log-signing.key";
    public const string PublicKeyFileName = "log-signing.pub.pem";

    /// <summary>
    /// The public keys of the keys the site signed with before (one PEM block each, oldest first): a start with a new
    /// <c>log-signing.key</c> (a deliberate rotation, docs/log-integrity.md) moves the old public key here before it
    /// exports the new one, so that the checkpoints the old key signed still verify.
    /// </summary>
    public const string RetiredKeysFileName = "log-signing.retired.pub.pem";

    private readonly ECDsa key;

    private LogSigningKey(ECDsa key)
    {
        this.key = key;
        KeyId = IdOf(key);
    }

    /// <summary>First 16 hex digits of SHA-256 of the public key (SubjectPublicKeyInfo DER).</summary>
    public string KeyId { get; }

    /// <summary>
    /// Refuses a data folder without <c>log-signing.key</c> whose entry log holds signed checkpoints: a restore that
    /// copied the database and forgot the key. A key made in its place would sign every checkpoint from then on, and the
    /// log would verify with neither public key again; the key is made only for a log that no key has signed yet.
    /// </summary>
    public static void RefuseMissing(string dataDirectory, Storage.Database database)
    {
        var privatePath = Path.Combine(dataDirectory, PrivateKeyFileName);
        if (File.Exists(privatePath))
        {
            return;
        }

        using var connection = database.OpenReadOnly();
        if (connection.QueryFirstOrDefault<string?>("SELECT key_id FROM log_checkpoints ORDER BY seq DESC LIMIT 1") is { } signedWith)
        {
            throw new Storage.KeyFileException(privatePath, $"is missing, but the entry log's checkpoints are signed with key {signedWith}");
        }
    }

    /// <summary>Loads the key from <paramref name="dataDirectory"/>, creating it (and the public key file) on first start.</summary>
    public static LogSigningKey LoadOrCreate(string dataDirectory)
    {
        var privatePath = Path.Combine(dataDirectory, PrivateKeyFileName);
        var publicPath = Path.Combine(dataDirectory, PublicKeyFileName);
        ECDsa key;
        if (File.Exists(privatePath))
        {
            key = ECDsa.Create();
            try
            {
                key.ImportFromPem(File.ReadAllText(privatePath));
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException)
            {
                key.Dispose();
                throw new Storage.KeyFileException(privatePath, "does not hold a PEM private key", ex);
            }
        }
        else
        {
            key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            Storage.SecretFiles.CreateNew(privatePath, key.ExportPkcs8PrivateKeyPem() + "\n");
        }

        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new Storage.KeyFileException(privatePath, "is not an ECDSA P-256 key");
        }

        // Re-exported on every start, so that a deleted or damaged public copy is restored from the private key. The copy
        // of another key (the private key was replaced: a rotation) is kept among the retired keys first.
        var publicPem = key.ExportSubjectPublicKeyInfoPem() + "\n";
        if (!File.Exists(publicPath) || File.ReadAllText(publicPath) != publicPem)
        {
            Retire(publicPath, Path.Combine(dataDirectory, RetiredKeysFileName), IdOf(key));
            File.WriteAllText(publicPath, publicPem);
        }

        return new LogSigningKey(key);
    }

    /// <summary>A key that is not stored anywhere (tests; an attacker's key in tamper tests).</summary>
    public static LogSigningKey CreateEphemeral() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    /// <summary>Reads a public key PEM (the <c>log-signing.pub.pem</c> an auditor was given).</summary>
    public static ECDsa LoadPublicKey(string pemFile)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(pemFile));
        return key;
    }

    /// <summary>
    /// Every public key of a PEM file (one <c>PUBLIC KEY</c> block each: the site's current key, its retired keys, or an
    /// auditor's copies of both concatenated). A file without one is refused as <see cref="LoadPublicKey"/> refuses it.
    /// </summary>
    public static IReadOnlyList<ECDsa> LoadPublicKeys(string pemFile)
    {
        var text = File.ReadAllText(pemFile);
        var keys = new List<ECDsa>();
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var key = ECDsa.Create();
            try
            {
                key.ImportFromPem(rest[fields.Location]);
            }
            catch
            {
                key.Dispose();
                keys.ForEach(k => k.Dispose());
                throw;
            }

            keys.Add(key);
            rest = rest[fields.Location.End..];
        }

        if (keys.Count == 0)
        {
            keys.Add(LoadPublicKey(pemFile)); // throws as a single key file without a key does
        }

        return keys;
    }

    /// <summary>Appends the public key in <paramref name="publicPath"/> to the retired keys, unless it is <paramref name="currentId"/>'s, unreadable, or there already.</summary>
    private static void Retire(string publicPath, string retiredPath, string currentId)
    {
        if (!File.Exists(publicPath))
        {
            return;
        }

        using var old = ECDsa.Create();
        try
        {
            old.ImportFromPem(File.ReadAllText(publicPath));
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            return; // a damaged copy: nothing to keep
        }

        var oldId = IdOf(old);
        if (oldId == currentId || (File.Exists(retiredPath) && LoadPublicKeys(retiredPath).Select(k => { using (k) { return IdOf(k); } }).Contains(oldId)))
        {
            return;
        }

        File.AppendAllText(retiredPath, old.ExportSubjectPublicKeyInfoPem() + "\n");
    }

    /// <summary>The key id of any ECDSA key (see <see cref="KeyId"/>).</summary>
    public static string IdOf(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];

    /// <summary>
    /// A 32-byte key for <paramref name="purpose"/>, derived from the private key (HKDF-SHA256): what the signing key
    /// vouches for beside the checkpoints (the outage journal's records), without a key file of its own to lose.
    /// </summary>
    public byte[] DeriveKey(string purpose)
    {
        var secret = key.ExportParameters(includePrivateParameters: true).D!;
        try
        {
            return HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, salt: null, info: System.Text.Encoding.UTF8.GetBytes(purpose));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>The public half, for verifying.</summary>
    public ECDsa PublicKey()
    {
        var copy = ECDsa.Create();
        copy.ImportSubjectPublicKeyInfo(key.ExportSubjectPublicKeyInfo(), out _);
        return copy;
    }

    public string PublicKeyPem() => key.ExportSubjectPublicKeyInfoPem();

    /// <summary>Signs a checkpoint of the chain head.</summary>
    public LogCheckpoint Sign(long seq, byte[] hash, long rows, Instant at) =>
        new(seq, hash, rows, at, KeyId,
            key.SignData(LogCheckpoint.Message(seq, hash, rows, at), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));

    public void Dispose() => key.Dispose();

    /// <summary>Never shows the key.</summary>
    public override string ToString() => $"{nameof(LogSigningKey)}({KeyId})";
}

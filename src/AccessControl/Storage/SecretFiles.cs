using System.Security.Cryptography;
using System.Text;

namespace AccessControl.Storage;

/// <summary>
/// Files that hold secrets (the provisioning key, the PII key, the HR feed key, the fingerprint keys, the log signing
/// key): created new, readable and writable by the owner only (0600) from their first byte, written and flushed to
/// disk, never overwritten. One place, so a key file is never briefly world-readable because one feature forgot.
/// </summary>
public static class SecretFiles
{
    /// <summary>Creates <paramref name="path"/> (and its folder) with <paramref name="text"/>; fails if it exists.</summary>
    public static void CreateNew(string path, string text)
    {
        OwnerOnly.CreateFolderOf(path);
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, create);
        stream.Write(Encoding.ASCII.GetBytes(text));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>The shortest symmetric key the service takes: 256 bits, the size of the keys it makes itself.</summary>
    public const int MinimumKeyBytes = 32;

    /// <summary>
    /// A key given as base64 text, of at least <see cref="MinimumKeyBytes"/> bytes; <paramref name="source"/> (a path, a
    /// variable's name) names it if it is not one. A short key is refused rather than used: an HMAC takes any length,
    /// so a key cut short by a bad copy would otherwise only weaken it, silently.
    /// </summary>
    public static byte[] DecodeBase64Key(string text, string source)
    {
        var trimmed = text.Trim();
        byte[] key;
        try
        {
            key = Convert.FromBase64String(trimmed);
        }
        catch (FormatException ex)
        {
            throw new KeyFileException(source, "does not hold a base64 key", ex);
        }

        return key.Length switch
        {
            0 => throw new KeyFileException(source, "is empty; it should hold a base64 key"),
            < MinimumKeyBytes => throw new KeyFileException(source,
                $"holds a key of {key.Length} bytes; a key must be at least {MinimumKeyBytes} bytes (256 bits), e.g. the output of 'openssl rand -base64 {MinimumKeyBytes}'"),
            _ => key,
        };
    }

    /// <summary>
    /// A symmetric key kept as base64 in a file: read when the file exists, else <paramref name="bytes"/> random bytes
    /// written to a new owner-only file.
    /// </summary>
    public static byte[] LoadOrCreateBase64Key(string path, int bytes = MinimumKeyBytes)
    {
        if (File.Exists(path))
        {
            return DecodeBase64Key(File.ReadAllText(path), path);
        }

        var key = RandomNumberGenerator.GetBytes(bytes);
        CreateNew(path, Convert.ToBase64String(key));
        return key;
    }
}

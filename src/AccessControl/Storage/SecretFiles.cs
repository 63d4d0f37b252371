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
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, create);
        stream.Write(Encoding.ASCII.GetBytes(text));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>A key given as base64 text; <paramref name="source"/> (a path, a variable's name) names it if it is not one.</summary>
    public static byte[] DecodeBase64Key(string text, string source)
    {
        var trimmed = text.Trim();
        try
        {
            var key = Convert.FromBase64String(trimmed);
            return key.Length > 0 ? key : throw new KeyFileException(source, "is empty; it should hold a base64 key");
        }
        catch (FormatException ex)
        {
            throw new KeyFileException(source, "does not hold a base64 key", ex);
        }
    }

    /// <summary>
    /// A symmetric key kept as base64 in a file: read when the file exists, else <paramref name="bytes"/> random bytes
    /// written to a new owner-only file.
    /// </summary>
    public static byte[] LoadOrCreateBase64Key(string path, int bytes = 32)
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

using System.Text;
using System.Text.RegularExpressions;

namespace AccessControl.HardwareSim.Cli;

/// <summary>The outcome of reading a provisioning key file.</summary>
public sealed record KeyFileResult(byte[]? Key, string? Error);

/// <summary>
/// Reads the site provisioning key the device passwords are derived from (see <see cref="AccessControl.Devices.DeviceSecrets"/>).
/// Accepted: hexadecimal text (64 digits or more), base64 or base64url text, or at least 32 raw bytes.
/// Hexadecimal is tried first because hex digits are also valid base64.
/// </summary>
public static partial class KeyFile
{
    public static KeyFileResult Read(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new KeyFileResult(null, $"cannot read key file {path}: {ex.Message}");
        }

        return Decode(raw);
    }

    public static KeyFileResult Decode(byte[] raw)
    {
        const string TooShort = "the key file must hold at least 32 bytes: as hexadecimal, as base64, or raw";
        var text = Encoding.UTF8.GetString(raw).Trim();
        if (text.Length >= 64 && text.Length % 2 == 0 && Hex().IsMatch(text))
        {
            return new KeyFileResult(Convert.FromHexString(text), null);
        }

        if (Base64().IsMatch(text))
        {
            var standard = text.TrimEnd('=').Replace('-', '+').Replace('_', '/');
            standard = standard.PadRight(standard.Length + ((4 - (standard.Length % 4)) % 4), '=');
            var buffer = new byte[standard.Length];
            return Convert.TryFromBase64String(standard, buffer, out var written) && written >= 32
                ? new KeyFileResult(buffer[..written], null)
                : new KeyFileResult(null, TooShort);
        }

        return raw.Length >= 32 ? new KeyFileResult(raw, null) : new KeyFileResult(null, TooShort);
    }

    [GeneratedRegex("^[0-9A-Fa-f]+$")]
    private static partial Regex Hex();

    [GeneratedRegex("^[A-Za-z0-9+/_-]+=*$")]
    private static partial Regex Base64();
}

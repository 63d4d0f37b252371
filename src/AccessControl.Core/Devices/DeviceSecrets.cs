using System.Security.Cryptography;
using System.Text;

namespace AccessControl.Devices;

/// <summary>
/// Derives each device's MQTT password from one site provisioning key: secret = HMAC-SHA256(key, "ac-device-v1:" + id),
/// base64url, 32 characters. The service never stores device passwords; it recomputes them to check a login, and an
/// installer prints one device's secret with the CLI when provisioning it. Rotating the key re-keys every device.
/// </summary>
public sealed class DeviceSecrets
{
    /// <summary>The MQTT username of the access-control service itself.</summary>
    public const string ServiceUsername = "ac-service";

    /// <summary>
    /// The MQTT username of the service's second connection to an external broker, over which it only publishes
    /// (decisions, commands, alarms), so that its answers never queue behind what it receives. It may only publish what the service sends.
    /// </summary>
    public const string ServicePublisherUsername = "ac-service-out";

    /// <summary>The MQTT username of read-only monitors (alarm consoles, the demo's printer).</summary>
    public const string MonitorUsername = "ac-monitor";

    /// <summary>The usernames that are not devices: a device with one of these ids could log in as the service or a monitor.</summary>
    public static IReadOnlyList<string> ReservedUsernames { get; } = [ServiceUsername, ServicePublisherUsername, MonitorUsername];

    private readonly byte[] key;

    public DeviceSecrets(byte[] key)
    {
        if (key.Length < 32)
        {
            throw new ArgumentException("The provisioning key must be at least 32 bytes.", nameof(key));
        }

        this.key = (byte[])key.Clone();
    }

    /// <summary>Creates a new random provisioning key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(32);

    /// <summary>The MQTT password of the device (or service) with this username.</summary>
    public string For(string username)
    {
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes("ac-device-v1:" + username));
        return Convert.ToBase64String(mac).TrimEnd('=').Replace('+', '-').Replace('/', '_')[..32];
    }

    /// <summary>Checks a presented password in constant time.</summary>
    public bool Verify(string username, ReadOnlySpan<char> password)
    {
        var expected = Encoding.UTF8.GetBytes(For(username));
        var presented = Encoding.UTF8.GetBytes(password.ToArray());
        return CryptographicOperations.FixedTimeEquals(expected, presented);
    }
}

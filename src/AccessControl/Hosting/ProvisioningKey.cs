using AccessControl.Devices;

namespace AccessControl.Hosting;

/// <summary>
/// The site provisioning key from which every device's MQTT password is derived (see <see cref="DeviceSecrets"/>).
/// Taken from the environment variable <c>AC_PROVISIONING_KEY</c> (base64) when set, else from a key file that is
/// created on first start with owner-only permissions. It never appears in logs.
/// </summary>
public static class ProvisioningKey
{
    public const string EnvironmentVariable = "AC_PROVISIONING_KEY";

    public static DeviceSecrets Load(string keyFile)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return new DeviceSecrets(Storage.SecretFiles.DecodeBase64Key(fromEnvironment, $"the environment variable {EnvironmentVariable}"));
        }

        return new DeviceSecrets(Storage.SecretFiles.LoadOrCreateBase64Key(keyFile));
    }

    /// <summary>
    /// The key the service already uses, for the commands that hand out what it derives (<c>device secret</c>,
    /// <c>mosquitto-config</c>). Unlike <see cref="Load"/> it never makes one: a key made here, by a <c>--data</c> that
    /// names the wrong folder or an account that cannot read the right one, would give passwords that no broker of the
    /// site accepts, with nothing to say why. Throws <see cref="ProvisioningKeyMissingException"/> instead.
    /// </summary>
    public static DeviceSecrets LoadExisting(string keyFile)
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EnvironmentVariable)) && !File.Exists(keyFile))
        {
            throw new ProvisioningKeyMissingException(keyFile);
        }

        return Load(keyFile);
    }
}

/// <summary>No provisioning key where a command was told to read it; nothing was written.</summary>
public sealed class ProvisioningKeyMissingException(string keyFile)
    : Exception($"There is no provisioning key at {keyFile} (nor in {ProvisioningKey.EnvironmentVariable}): give --data the service's data folder "
        + $"(/var/lib/accesscontrol with the systemd unit), run this as an account that can read it, or set {ProvisioningKey.EnvironmentVariable}. "
        + "Nothing was written: a new key would give passwords the service and its broker do not accept (docs/operations.md, section 2).");

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
}

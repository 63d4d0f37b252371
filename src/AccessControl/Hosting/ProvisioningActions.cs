using AccessControl.EntryLog;

namespace AccessControl.Hosting;

/// <summary>What handing out a device's MQTT password is recorded as (<c>accesscontrol device secret</c>, an <c>admin</c> row).</summary>
[WrittenAs(ActionRows.Itself)]
public static class ProvisioningActions
{
    /// <summary>A device's secret printed: the device, and the OS account that ran the command; never the secret.</summary>
    public const string SecretIssued = "device.secret_issued";
}

namespace AccessControl.Fingerprints;

/// <summary>
/// Settings of the fingerprint template store, bound from <c>AccessControl:Fingerprints</c> (appsettings.json, or
/// environment variables such as <c>AccessControl__Fingerprints__MaxTemplatesPerPerson=6</c>).
/// </summary>
public sealed record FingerprintOptions
{
    public const string Section = "AccessControl:Fingerprints";

    /// <summary>The most templates (fingers) anyone may have enrolled, whatever the settings say.</summary>
    public const int HardMaxTemplatesPerPerson = 10;

    /// <summary>How many active templates one person may have: enough for a spare finger or two, few enough to review.</summary>
    public int MaxTemplatesPerPerson { get; init; } = 4;

    /// <summary>The key file; a relative path is under the data folder. Created on first start unless <c>AC_FINGERPRINT_KEYS</c> is set.</summary>
    public string KeyFile { get; init; } = "fingerprint.keys";

    /// <summary>A template that has not matched for this long is listed as unused by the reconciliation.</summary>
    public TimeSpan UnusedAfter { get; init; } = TimeSpan.FromDays(90);

    public string KeyPath(string dataDirectory) => Path.IsPathRooted(KeyFile) ? KeyFile : Path.Combine(dataDirectory, KeyFile);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxTemplatesPerPerson is < 1 or > HardMaxTemplatesPerPerson)
        {
            errors.Add($"{Section}:MaxTemplatesPerPerson must be between 1 and {HardMaxTemplatesPerPerson}.");
        }

        if (string.IsNullOrWhiteSpace(KeyFile))
        {
            errors.Add($"{Section}:KeyFile is required.");
        }

        if (UnusedAfter <= TimeSpan.Zero)
        {
            errors.Add($"{Section}:UnusedAfter must be positive.");
        }

        return errors;
    }
}

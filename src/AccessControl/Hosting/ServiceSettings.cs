using AccessControl.Broker;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Fingerprints;

namespace AccessControl.Hosting;

/// <summary>
/// Everything the service needs to start, bound from the <c>AccessControl</c> configuration section
/// (appsettings.json, environment <c>AccessControl__...</c>) and overridden by command-line flags.
/// </summary>
public sealed record ServiceSettings
{
    public const string Section = "AccessControl";

    /// <summary>Folder for the database, the provisioning key and generated broker files.</summary>
    public string DataDirectory { get; init; } = "data";

    /// <summary>The SQLite file; relative paths are under <see cref="DataDirectory"/>.</summary>
    public string Database { get; init; } = "accesscontrol.db";

    /// <summary>Provisioning key file; relative paths are under <see cref="DataDirectory"/>.</summary>
    public string ProvisioningKeyFile { get; init; } = "provisioning.key";

    /// <summary>A site file to load at start-up (optional: without it the newest stored site files are used).</summary>
    public string? SiteFile { get; init; }

    /// <summary>Where the admin HTTP API listens. Loopback by default: put a TLS proxy in front to expose it.</summary>
    public string HttpUrl { get; init; } = "http://127.0.0.1:8080";

    public BrokerOptions Broker { get; init; } = new();

    public PipelineOptions Pipeline { get; init; } = new();

    /// <summary>The fingerprint template store (section <c>AccessControl:Fingerprints</c>).</summary>
    public FingerprintOptions Fingerprints { get; init; } = new();

    /// <summary>Request rate limit and failed sign-in lockout of the HTTP API.</summary>
    public HttpSecurity.HttpSecurityOptions Http { get; init; } = new();

    /// <summary>Signed checkpoints of the entry log (section <c>AccessControl:LogIntegrity</c>; docs/log-integrity.md).</summary>
    public LogIntegrityOptions LogIntegrity { get; init; } = new();

    /// <summary>How often supervision runs (held-open doors, silent readers).</summary>
    public TimeSpan SupervisionInterval { get; init; } = TimeSpan.FromSeconds(1);

    public string DatabasePath => Path.IsPathRooted(Database) ? Database : Path.Combine(DataDirectory, Database);

    public string KeyPath => Path.IsPathRooted(ProvisioningKeyFile) ? ProvisioningKeyFile : Path.Combine(DataDirectory, ProvisioningKeyFile);

    /// <summary>The fingerprint key file (used unless <c>AC_FINGERPRINT_KEYS</c> is set).</summary>
    public string FingerprintKeyPath => Fingerprints.KeyPath(DataDirectory);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(Broker.Validate());
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            errors.Add("AccessControl:DataDirectory is required.");
        }

        if (!Uri.TryCreate(HttpUrl, UriKind.Absolute, out _))
        {
            errors.Add($"AccessControl:HttpUrl '{HttpUrl}' is not an absolute URL.");
        }

        errors.AddRange(Fingerprints.Validate());
        errors.AddRange(Http.Validate());
        errors.AddRange(LogIntegrity.Validate());
        if (SupervisionInterval <= TimeSpan.Zero)
        {
            errors.Add("AccessControl:SupervisionInterval must be positive.");
        }

        try
        {
            Pipeline.Validate();
        }
        catch (ArgumentOutOfRangeException ex)
        {
            errors.Add("AccessControl:Pipeline: " + ex.Message);
        }

        return errors;
    }
}

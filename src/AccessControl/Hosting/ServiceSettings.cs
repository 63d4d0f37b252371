using AccessControl.Broker;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Fingerprints;
using AccessControl.Visitors;
using Microsoft.Extensions.Configuration;

namespace AccessControl.Hosting;

/// <summary>
/// Everything the service needs to start, bound from the <c>AccessControl</c> configuration section
/// (the settings file, environment <c>AccessControl__...</c>; see <see cref="Load"/>) and overridden by command-line flags.
/// </summary>
public sealed record ServiceSettings
{
    public const string Section = "AccessControl";

    /// <summary>The settings file read when no <c>--config FILE</c> is given: in the working directory.</summary>
    public const string DefaultFile = "appsettings.json";

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

    /// <summary>Visitor management (section <c>AccessControl:Visitors</c>), from the same settings as the rest.</summary>
    public VisitorOptions Visitors { get; init; } = new();

    /// <summary>Request rate limit and failed sign-in lockout of the HTTP API.</summary>
    public HttpSecurity.HttpSecurityOptions Http { get; init; } = new();

    /// <summary>Signed checkpoints of the entry log (section <c>AccessControl:LogIntegrity</c>; docs/log-integrity.md).</summary>
    public LogIntegrityOptions LogIntegrity { get; init; } = new();

    /// <summary>How often supervision runs (held-open doors, silent readers).</summary>
    public TimeSpan SupervisionInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// For tests, not a setting (internal: never bound from configuration): how far behind the log the start still brings
    /// the log index up to date itself (<see cref="LogIndex.StartCatchUpRows"/>); further, the background job builds it.
    /// </summary>
    internal long IndexStartCatchUpRows { get; init; } = LogIndex.StartCatchUpRows;

    /// <summary>
    /// For tests, not a setting: awaited before each round of the <c>log-maintenance</c> job (WAL checkpoint and index
    /// rounds), so that a test can hold the index's background build back for as long as it needs, without timing.
    /// </summary>
    internal Func<CancellationToken, Task>? BeforeLogMaintenance { get; init; }

    // The configuration library wraps the parser's error in "Failed to load configuration from file", which names
    // neither the mistake nor where it is; the operator editing the file needs both. The parser counts from zero.
    private static string? JsonMistake(Exception failure)
    {
        for (var e = failure; e is not null; e = e.InnerException)
        {
            if (e is System.Text.Json.JsonException { LineNumber: { } line, BytePositionInLine: { } column } json)
            {
                var what = json.Message;
                var cut = what.IndexOf(" Path:", StringComparison.Ordinal) is >= 0 and var path ? path : what.IndexOf(" LineNumber:", StringComparison.Ordinal);
                return $"line {line + 1}, column {column + 1}: {(cut >= 0 ? what[..cut] : what).TrimEnd(' ', '|')}";
            }
        }

        return null;
    }

    /// <summary>
    /// Reads the settings the way the service does, for the service and for the commands that must apply its settings
    /// (<c>log purge</c>, its minimum retention): <paramref name="file"/> (<c>--config FILE</c>), which must exist and be
    /// JSON; without one, <see cref="DefaultFile"/> in the working directory if there is one. Then the environment's
    /// <c>AccessControl__...</c> variables over it. Throws <see cref="SettingsException"/> naming the file or the setting.
    /// </summary>
    /// <remarks>
    /// The working directory is a weak default: the systemd unit sets it, an operator's shell does not. So the unit names
    /// its file (<c>--config /etc/accesscontrol/appsettings.json</c>), and <c>log purge</c> must be given that same file:
    /// run from another folder, it would otherwise apply the defaults, or whatever file happens to lie there.
    /// </remarks>
    public static ServiceSettings Load(string? file)
    {
        var builder = new ConfigurationBuilder();
        if (file is null)
        {
            builder.AddJsonFile(DefaultFile, optional: true);
        }
        else if (File.Exists(file))
        {
            builder.AddJsonFile(Path.GetFullPath(file), optional: false);
        }
        else
        {
            throw new SettingsException($"Invalid settings: --config {file}: there is no such file.");
        }

        IConfigurationRoot configuration;
        try
        {
            configuration = builder.AddEnvironmentVariables().Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            var name = file ?? Path.GetFullPath(DefaultFile);
            throw new SettingsException(JsonMistake(ex) is { } mistake
                ? $"Invalid settings: {name} is not valid JSON: {mistake}"
                : $"Invalid settings: {name} cannot be read: {ex.Message}", ex);
        }

        if (LogIntegrityOptions.MinimumRetentionTextProblem(configuration[LogIntegrityOptions.MinimumRetentionSetting]) is { } retention)
        {
            throw new SettingsException($"Invalid settings: {retention}");
        }

        try
        {
            return configuration.GetSection(Section).Get<ServiceSettings>() ?? new ServiceSettings();
        }
        catch (InvalidOperationException ex)
        {
            // "Failed to convert configuration value 'abc' at 'AccessControl:Broker:Port' to type 'System.Int32'."
            throw new SettingsException($"Invalid settings: {ex.Message}", ex);
        }
    }

    public string DatabasePath => Path.IsPathRooted(Database) ? Database : Path.Combine(DataDirectory, Database);

    public string KeyPath => Path.IsPathRooted(ProvisioningKeyFile) ? ProvisioningKeyFile : Path.Combine(DataDirectory, ProvisioningKeyFile);

    /// <summary>The fingerprint key file (used unless <c>AC_FINGERPRINT_KEYS</c> is set).</summary>
    public string FingerprintKeyPath => Fingerprints.KeyPath(DataDirectory);

    /// <summary>Whether a URL's host is this machine only: <c>localhost</c> or a loopback address (127.0.0.0/8, ::1).</summary>
    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (System.Net.IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address));

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(Broker.Validate());
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            errors.Add("AccessControl:DataDirectory is required.");
        }

        if (!Uri.TryCreate(HttpUrl, UriKind.Absolute, out var httpUrl))
        {
            errors.Add($"AccessControl:HttpUrl '{HttpUrl}' is not an absolute URL.");
        }
        else if (httpUrl.Scheme == Uri.UriSchemeHttp && !IsLoopback(httpUrl))
        {
            errors.Add($"AccessControl:HttpUrl '{HttpUrl}' is plain HTTP on an address other than loopback: every operator's token, " +
                "and at check-in a visitor's whole document number, would cross the network in clear. Listen on 127.0.0.1 " +
                "(or [::1], localhost) and put a TLS reverse proxy in front to reach the API from elsewhere (docs/operations.md, section 1).");
        }

        errors.AddRange(Fingerprints.Validate());
        errors.AddRange(Http.Validate());
        errors.AddRange(Visitors.Validate());
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

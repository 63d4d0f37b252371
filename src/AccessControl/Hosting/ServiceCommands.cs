using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Display;
using AccessControl.SiteFiles;
using NodaTime;

namespace AccessControl.Hosting;

/// <summary>The service's own commands: run, site validate, device secret, mosquitto-config.</summary>
public static class ServiceCommands
{
    public const string Usage = """
        usage: accesscontrol <command> [options]
          run [--config FILE] [--site FILE] [--data DIR] [--http URL] [--broker-port N] [--external-broker HOST:PORT]
              [--accept-log-rollback SEQ]
                                    run the edge service (embedded MQTT broker unless --external-broker); settings from
                                    --config FILE (else appsettings.json in the working directory) and AccessControl__...
          site validate FILE        check a site file; prints every error with file:line:column
          device secret ID [--data DIR] [--site FILE]
                                    print the MQTT password of one device the site has (for provisioning it)
          device reset-seq (--reader ID | --door ID) [--baseline N]
                                    let a device whose seq restarted back in (replay protection), audited, through the HTTP API
          fire status | fire reset [--force]
                                    doors released by a fire alarm; relock them after the panel cleared (roles admin, security)
          mosquitto-config --site FILE --out DIR [--port N] [--data DIR] [--pki DIR [--listen ADDR]]
                                    write mosquitto.conf, password and ACL files for a site; with --pki (a folder
                                    made by deploy/pki/issue-certs.sh) a mutual-TLS listener on ADDR (default 127.0.0.1)
          fingerprints enroll|list|revoke|rekey|reconcile ...
                                    fingerprint templates, through the HTTP API ('accesscontrol fingerprints' for usage)
          log --db PATH [--from T] [--to T] [--kind K] ... | log verify|purge --db PATH ...
                                    query, verify and purge the entry log on the database file ('accesscontrol log' for usage)
          token create|revoke|list --db PATH ...
                                    operator tokens of the admin API, on the database file ('accesscontrol token' for usage)
          person|credential|level ...
                                    cardholders, through the HTTP API ('accesscontrol person' for usage)
          visit ...                 visitors: requests, approvals, front desk, watch list, badge pool, through the HTTP API
          hr import --file FILE.csv terminations and transfers, signed with the HR feed key ('accesscontrol hr' for usage)
        The commands through the HTTP API take the server from AC_URL (or --url) and the token from AC_TOKEN.
        """;

    /// <summary>The first words of the commands <see cref="Usage"/> lists that this program runs itself (the others are <c>Cli.AdminCommands.Names</c>).</summary>
    public static IReadOnlyCollection<string> Names { get; } = ["run", "site", "device", "mosquitto-config"];

    /// <summary>Settings from the settings file (<c>--config FILE</c>, see <see cref="ServiceSettings.Load"/>) and the environment, then flags.</summary>
    public static ServiceSettings Settings(IReadOnlyDictionary<string, string> flags)
    {
        var settings = ServiceSettings.Load(flags.GetValueOrDefault("config"));
        if (flags.TryGetValue("site", out var site))
        {
            settings = settings with { SiteFile = site };
        }

        if (flags.TryGetValue("data", out var data))
        {
            settings = settings with { DataDirectory = data };
        }

        if (flags.TryGetValue("http", out var http))
        {
            settings = settings with { HttpUrl = http };
        }

        if (flags.TryGetValue("broker-port", out var port))
        {
            settings = settings with { Broker = settings.Broker with { Port = PortNumber(port, "--broker-port N") } };
        }

        if (flags.TryGetValue(EntryLog.LogRollback.AcceptFlag, out var rollback))
        {
            settings = settings with
            {
                LogIntegrity = settings.LogIntegrity with
                {
                    AcceptRollback = long.TryParse(rollback, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq)
                        ? seq
                        : throw new SettingsException($"Invalid settings: --{EntryLog.LogRollback.AcceptFlag} takes the seq of the checkpoint the refusal named, not '{rollback}'."),
                },
            };
        }

        if (flags.TryGetValue("external-broker", out var external))
        {
            var colon = external.LastIndexOf(':');
            if (colon <= 0)
            {
                throw new SettingsException($"Invalid settings: --external-broker takes HOST:PORT, not '{external}'.");
            }

            settings = settings with
            {
                Broker = settings.Broker with { Mode = BrokerMode.External, Host = external[..colon], Port = PortNumber(external[(colon + 1)..], "--external-broker HOST:PORT") },
            };
        }

        return settings;
    }

    internal static int PortNumber(string text, string flag) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port <= 65535
            ? port
            : throw new SettingsException($"Invalid settings: {flag} takes a port number (0-65535), not '{text}'.");

    public static async Task<int> RunAsync(ServiceSettings settings, IClock clock, TimeProvider time, CancellationToken stopping)
    {
        AccessControlHost host;
        try
        {
            host = AccessControlHost.Create(settings, clock, time);
        }
        catch (Exception ex) when (CannotStart(ex, settings) is { } message)
        {
            await Console.Error.WriteLineAsync(message);
            return 2;
        }

        await using (host)
        {
            Console.WriteLine(GcReport.Describe(GC.GetConfigurationVariables()));
            try
            {
                await host.StartAsync(stopping);
            }
            catch (Exception ex) when (CannotStart(ex, settings) is { } message)
            {
                await Console.Error.WriteLineAsync(message);
                return 2;
            }

            Console.WriteLine($"AccessControl edge running: MQTT {host.Edge.BrokerHost}:{host.Edge.BrokerPort}, HTTP {host.HttpAddress}, database {host.Edge.Database.Path}");
            try
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, time, stopping);
            }
            catch (OperationCanceledException)
            {
                Console.WriteLine("Stopping.");
            }
        }

        return 0;
    }

    /// <summary>
    /// The one sentence (exit code 2) for a start that cannot go on, or null for a failure that is thrown as it is: a bad
    /// site file, setting or key file, an unusable data folder or database, a port already taken. Nothing is written then.
    /// </summary>
    internal static string? CannotStart(Exception failure, ServiceSettings settings) => failure switch
    {
        SiteFileException or StoredSitesConflictException or SettingsException or Storage.KeyFileException or EntryLog.LogRollbackException => failure.Message,
        _ => PortInUse(failure, settings) ?? UnusableData(failure, settings),
    };

    /// <summary>
    /// What to tell the operator when the data folder or the database in it cannot be used: a path that is a file, a
    /// folder the service's account cannot write, a file that is not a SQLite database. Null for any other failure.
    /// Nothing is written in either case: a damaged database is left as it was found, for a restore or a look.
    /// </summary>
    private static string? UnusableData(Exception failure, ServiceSettings settings)
    {
        const int CantOpen = 14, ReadOnly = 8, Corrupt = 11, NotADatabase = 26;
        if (File.Exists(settings.DataDirectory))
        {
            return $"Cannot start: --data {settings.DataDirectory} is a file. It must be a folder (created if missing) that the service's account can write.";
        }

        return failure switch
        {
            Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: Corrupt or NotADatabase } e =>
                $"Cannot start: {settings.DatabasePath} is not a usable SQLite database ({e.Message}). The service does not start on it, "
                + "so nothing in it is changed: restore it from a backup (docs/operations.md, section 8), or move it aside to start an empty log.",
            Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: CantOpen or ReadOnly } e =>
                $"Cannot start: the database {settings.DatabasePath} cannot be opened for writing ({e.Message}). {WritableFolder(settings)}",
            // A key file or the folder itself (a TLS certificate elsewhere, say, is thrown as it is).
            UnauthorizedAccessException or IOException when failure.Message.Contains(settings.DataDirectory, StringComparison.Ordinal) =>
                $"Cannot start: {failure.Message} {WritableFolder(settings)}",
            _ => null,
        };
    }

    private static string WritableFolder(ServiceSettings settings) =>
        $"The data folder {settings.DataDirectory} must be one the service's account can create and write (docs/operations.md, section 1).";

    /// <summary>
    /// What to tell the operator when a port the service listens on is taken: most often a Mosquitto daemon that the
    /// package started on 1883, or a second service on the same host. Null for any other failure (thrown as it is).
    /// </summary>
    private static string? PortInUse(Exception failure, ServiceSettings settings)
    {
        var chain = new List<Exception>();
        for (var e = failure; e is not null; e = e.InnerException)
        {
            chain.Add(e);
        }

        if (!chain.OfType<System.Net.Sockets.SocketException>().Any(e => e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse))
        {
            return null;
        }

        // Kestrel wraps its bind failure; the embedded broker's comes straight from its listening socket.
        return chain.Any(e => e is Microsoft.AspNetCore.Connections.AddressInUseException)
            ? $"Cannot start the admin API: {settings.HttpUrl} is already in use. Choose another address with --http URL (AccessControl__HttpUrl)."
            : $"Cannot start the embedded MQTT broker: port {settings.Broker.Port}"
              + (settings.Broker.Tls is { Enabled: true, PlainPort: { } plain } ? $" or {plain}" : "")
              + " is already in use (another MQTT broker, such as a "
              + "Mosquitto daemon started by its package or a second AccessControl service, may be listening there). Stop it, choose another port with --broker-port N, "
              + "or let the service use that broker with --external-broker HOST:PORT (docs/operations.md, section 3).";
    }

    public static int ValidateSite(string file, TextWriter output)
    {
        var result = SiteFileLoader.Load(file);
        if (result.Success)
        {
            var t = result.Site!.Topology;
            output.WriteLine($"{file}: ok ({t.Zones.Count} zones, {t.Doors.Count} doors, {t.Readers.Count} readers, {result.Site.People.Length} people, {result.Site.Credentials.Length} credentials)");
            return 0;
        }

        foreach (var error in result.Errors)
        {
            output.WriteLine(TerminalText.Show(error.ToString()));
        }

        return 2;
    }

    /// <summary>
    /// Prints the device's MQTT password, only for a device the site has: a password derives from any text, so a
    /// mistyped id would otherwise give a secret the broker refuses with nothing to say why. The ids come from
    /// <c>--site FILE</c>, else from the site files the service stored in its database. The monitor
    /// (<see cref="DeviceSecrets.MonitorUsername"/>, an alarm console) logs in the same way and gets its secret here too;
    /// the service's own usernames do not.
    /// </summary>
    /// <remarks>
    /// The secret is a credential: handing it out is an <c>admin</c> row (<see cref="ProvisioningActions.SecretIssued"/>)
    /// naming the device and the OS account that ran the command (<paramref name="account"/>), written before the secret is
    /// printed; if it cannot be written, nothing is printed (exit 1). A data folder without a database yet (devices
    /// provisioned before the first start, with <c>--site</c>) has no log to write to yet: the secret is printed, unrecorded.
    /// </remarks>
    public static int DeviceSecret(ServiceSettings settings, string deviceId, IClock clock, EntryLog.OsAccount account, TextWriter output, TextWriter error)
    {
        var key = ProvisioningKey.LoadExisting(settings.KeyPath);
        if (KnownDevices(settings, clock, error) is not { } known)
        {
            return 2;
        }

        if (!known.Contains(deviceId) && deviceId != DeviceSecrets.MonitorUsername)
        {
            var closest = Suggestions.Closest(deviceId, known, 3);
            error.WriteLine($"error: the site has no device '{deviceId}'"
                + (closest.Count > 0 ? $"; the closest ids it has: {string.Join(", ", closest)}" : "")
                + ". No secret was printed.");
            return 2;
        }

        if (File.Exists(settings.DatabasePath))
        {
            var database = new Storage.Database(settings.DatabasePath);
            if (!Cli.CliLogWriter.AppendAdminRow(database, clock, account.ActorName, account, ProvisioningActions.SecretIssued, new { device = deviceId }, error))
            {
                error.WriteLine("No secret was printed.");
                return 1;
            }
        }

        output.WriteLine(key.For(deviceId));
        return 0;
    }

    /// <summary>Every reader, door controller and fire panel id (the devices that log in to MQTT), or null after saying why there are none to check with.</summary>
    private static HashSet<string>? KnownDevices(ServiceSettings settings, IClock clock, TextWriter error)
    {
        IReadOnlyList<Sites.SiteTopology> topologies;
        if (settings.SiteFile is { } file)
        {
            var result = SiteFileLoader.Load(file);
            if (!result.Success)
            {
                foreach (var problem in result.Errors)
                {
                    error.WriteLine(TerminalText.Show(problem.ToString()));
                }

                return null;
            }

            topologies = [result.Site!.Topology];
        }
        else if (File.Exists(settings.DatabasePath))
        {
            topologies = [.. new Sites.SiteStore(new Storage.Database(settings.DatabasePath), clock).LoadNewest(_ => Sites.SiteReading.Layout).Select(s => s.Layout.Topology)];
        }
        else
        {
            error.WriteLine($"error: there is no database at {settings.DatabasePath} to check the device id against: name the site file with --site FILE, or the data folder with --data DIR");
            return null;
        }

        return [.. topologies.SelectMany(t => t.Readers.Keys.Select(r => r.Value).Concat(t.Controllers.Keys.Select(c => c.Value)).Concat(t.FirePanels.Keys))];
    }

    public static int MosquittoConfiguration(ServiceSettings settings, string siteFile, string outDirectory, int port, TextWriter output, MosquittoTls? tls = null)
    {
        var result = SiteFileLoader.Load(siteFile);
        if (!result.Success)
        {
            foreach (var error in result.Errors)
            {
                output.WriteLine(TerminalText.Show(error.ToString()));
            }

            return 2;
        }

        MosquittoConfig.Write(result.Site!.Topology, ProvisioningKey.LoadExisting(settings.KeyPath), port, outDirectory, new Protocol.Topics(settings.Broker.TopicRoot), tls,
            settings.Pipeline.MaxPayloadBytes);
        output.WriteLine($"wrote mosquitto.conf, password and ACL files to {outDirectory} (port {port}{(tls is null ? "" : ", mutual TLS")})");
        return 0;
    }

    /// <summary>Splits <c>--name value</c> pairs and positional words.</summary>
    public static (List<string> Words, Dictionary<string, string> Flags) Parse(string[] args)
    {
        var words = new List<string>();
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                var name = args[i][2..];
                flags[name] = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "true";
            }
            else
            {
                words.Add(args[i]);
            }
        }

        return (words, flags);
    }
}

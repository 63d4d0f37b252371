using System.Globalization;
using AccessControl.Devices;
using AccessControl.Fingerprints;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.HardwareSim.Load;
using AccessControl.HardwareSim.Readers;
using AccessControl.HardwareSim.Scenarios;
using AccessControl.HardwareSim.Sites;
using AccessControl.Protocol;
using NodaTime;

namespace AccessControl.HardwareSim.Cli;

/// <summary>
/// The <c>hardware-sim</c> command line. <c>Program.cs</c> hands it the real clocks, the console and the site
/// loader; everything else is composed here.
/// </summary>
public sealed class SimulatorCli
{
    public const int Ok = 0;
    public const int ExpectationFailed = 1;
    public const int UsageError = 2;
    public const int BrokerUnreachable = 3;

    public const string Usage = """
        hardware-sim: simulated card readers and door controllers speaking the MQTT reader protocol v1.

        usage:
          hardware-sim scenario --scenario FILE --key-file FILE [--site FILE] [common options]
              Runs a timed scenario, prints one line per step, exits 1 when an expectation fails.
          hardware-sim load --readers N --rate R --seconds D --key-file FILE [--cards FILE | --card UID[,UID...]]
                            [--technology T] [--reader-prefix P] [--site FILE] [--drain DURATION] [common options]
              N readers swipe R cards per second in total for D seconds; prints sent/acked/grant/deny and latency.
          hardware-sim fingerprint-template --person ID --finger FINGER [--template-id ID] [--json]
              Prints the simulator's enrollment template (format ac-sim-v1) of a person's finger, base64; the same
              bytes every time. --json prints it as a template object of a verify_fingerprint command.
          hardware-sim fingerprint-rates [--trials N] [--seed S]
              Measures the simulated matcher's false-match and false-non-match rates over N genuine and N impostor
              trials (default 30000) and prints them at a few thresholds.

        common options:
          --broker HOST:PORT     MQTT broker (default 127.0.0.1:1883)
          --key-file FILE        site provisioning key (hex, base64 or raw); device passwords are derived from it
          --topic-root ROOT      topic root (default ac/v1)
          --ca FILE              connect with TLS, trusting only this site CA certificate for the broker
          --cert-dir DIR         each device presents its client certificate DIR/ID.crt + DIR/ID.key (or DIR/ID.pfx)
          --pfx-password P       password of the .pfx files in --cert-dir
          --tls-host NAME        the name the broker's certificate carries, if not the --broker host
          --connect-timeout D    how long to wait for every device to come online (default 30s)
          --verbose              print device log lines (connections, retries) to stderr; what the broker sent is
                                 quoted with control and bidi characters escaped (\x1B, \n, \u202E)

        exit codes: 0 ok, 1 an expectation failed or events went unanswered, 2 usage or input error, 3 devices could not connect.
        """;

    private static readonly string[] CommonOptionNames = ["broker", "key-file", "topic-root", "connect-timeout", "verbose", "site", "ca", "cert-dir", "pfx-password", "tls-host"];
    private static readonly HashSet<string> Flags = ["verbose", "help", "json"];

    private readonly IClock clock;
    private readonly TimeProvider time;
    private readonly TextWriter output;
    private readonly TextWriter errors;
    private readonly Func<string, SiteLoadResult> loadSite;

    public SimulatorCli(IClock clock, TimeProvider time, TextWriter output, TextWriter errors, Func<string, SiteLoadResult> loadSite)
    {
        this.clock = clock;
        this.time = time;
        this.output = output;
        this.errors = errors;
        this.loadSite = loadSite;
    }

    public async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var arguments = Arguments.TryParse(args, Flags, out var error);
        if (arguments is null || arguments.Command is "help" or "--help" || arguments.Has("help"))
        {
            if (error is not null && args.Count > 0)
            {
                errors.WriteLine($"error: {error}");
            }

            (error is null ? output : errors).WriteLine(Usage);
            return error is null ? Ok : UsageError;
        }

        return arguments.Command switch
        {
            "scenario" => await RunScenarioAsync(arguments, cancellationToken),
            "load" => await RunLoadAsync(arguments, cancellationToken),
            "fingerprint-template" => PrintFingerprintTemplate(arguments),
            "fingerprint-rates" => PrintFingerprintRates(arguments),
            _ => Fail($"unknown command '{arguments.Command}'"),
        };
    }

    private async Task<int> RunScenarioAsync(Arguments arguments, CancellationToken cancellationToken)
    {
        if (!TryCommon(arguments, ["scenario"], out var common))
        {
            return UsageError;
        }

        var path = arguments.Get("scenario");
        if (path is null)
        {
            return Fail("--scenario FILE is required");
        }

        var parsed = ScenarioFile.Load(path);
        if (parsed.Scenario is not { } scenario)
        {
            return Fail(string.Join(Environment.NewLine, parsed.Errors.Select(e => $"{path}: {e}")));
        }

        DeviceLayout layout;
        if (common.SitePath is { } sitePath)
        {
            var site = loadSite(sitePath);
            if (site.Topology is null)
            {
                return Fail(site.Error ?? $"cannot load {sitePath}");
            }

            layout = DeviceLayout.FromTopology(site.Topology);
        }
        else
        {
            layout = scenario.ToLayout();
        }

        await using var simulated = new SimulatedSite(layout, common.Device, common.Secrets, clock, time);
        var missing = ScenarioRunner.FindMissingDevices(scenario, simulated);
        if (missing.Count > 0)
        {
            return Fail(string.Join(Environment.NewLine, missing.Select(m => $"{path}: {m}")));
        }

        if (!await StartAsync(simulated.Devices.ToList(), common, cancellationToken))
        {
            return BrokerUnreachable;
        }

        var report = await new ScenarioRunner(simulated, time, output).RunAsync(scenario, cancellationToken);
        await simulated.StopAsync();
        return report.ExitCode;
    }

    private async Task<int> RunLoadAsync(Arguments arguments, CancellationToken cancellationToken)
    {
        string[] own = ["readers", "rate", "seconds", "cards", "card", "technology", "reader-prefix", "drain"];
        if (!TryCommon(arguments, own, out var common))
        {
            return UsageError;
        }

        if (!TryInt(arguments, "readers", 1, out var readerCount)
            || !TryDouble(arguments, "rate", out var rate)
            || !TryDouble(arguments, "seconds", out var seconds))
        {
            return UsageError;
        }

        if (rate / readerCount > 100 && rate * seconds / readerCount > 1000)
        {
            // The service paces each device (docs/reader-protocol.md 7.8): past its burst, what a reader sends faster than
            // that is dropped unanswered, and this run would measure the limit, not the service.
            errors.WriteLine($"note: {rate / readerCount:0.#} events/s per reader is over the service's default pace for one device (100/s after a burst of 1000): "
                + "start the service with AccessControl__Pipeline__DeviceBurst raised (as aclab bench does), or use more readers");
        }

        var drain = TimeSpan.FromSeconds(10);
        if (arguments.Get("drain") is { } drainText && !Durations.TryParse(drainText, out drain))
        {
            return Fail($"--drain '{drainText}' is not a duration such as 10s");
        }

        var cards = ReadCards(arguments);
        if (cards is null)
        {
            return UsageError;
        }

        var technology = arguments.Get("technology") ?? ScenarioFile.DefaultTechnology;
        IReadOnlyList<string> readerIds;
        if (common.SitePath is { } sitePath)
        {
            var site = loadSite(sitePath);
            if (site.Topology is null)
            {
                return Fail(site.Error ?? $"cannot load {sitePath}");
            }

            var available = DeviceLayout.FromTopology(site.Topology).Readers.Where(r => r.Kind == AccessControl.Sites.ReaderKind.Card).Select(r => r.ReaderId).ToList();
            if (available.Count < readerCount)
            {
                return Fail($"--readers {readerCount}: the site has only {available.Count} card readers");
            }

            readerIds = available.Take(readerCount).ToList();
        }
        else
        {
            var prefix = arguments.Get("reader-prefix") ?? "load-rdr-";
            readerIds = Enumerable.Range(1, readerCount).Select(i => $"{prefix}{i:000}").ToList();
            if (!readerIds.All(id => WireFormat.IsValidId(id)))
            {
                return Fail($"--reader-prefix '{prefix}' makes invalid reader ids");
            }
        }

        var readers = readerIds.Select(id => new CardReader(id, common.Device, common.Secrets, clock, time)).ToList();
        try
        {
            if (!await StartAsync(readers, common, cancellationToken))
            {
                return BrokerUnreachable;
            }

            output.WriteLine($"load: {readers.Count} readers, {rate:0.##} events/s for {seconds:0.##} s, {cards.Count} card(s), broker {common.Device.Broker}");
            var runner = new LoadRunner(readers, time) { Progress = line => output.WriteLine(line) };
            var report = await runner.RunAsync(new LoadOptions(rate, TimeSpan.FromSeconds(seconds), cards, technology, drain), cancellationToken);
            output.WriteLine(report.Format());
            return report.Unanswered == 0 ? Ok : ExpectationFailed;
        }
        finally
        {
            await Task.WhenAll(readers.Select(r => r.DisposeAsync().AsTask()));
        }
    }

    private int PrintFingerprintTemplate(Arguments arguments)
    {
        var unknown = arguments.Unknown(["person", "finger", "template-id", "json"]).ToList();
        if (unknown.Count > 0)
        {
            return Fail($"{arguments.Command} does not take {string.Join(", ", unknown)}");
        }

        var person = arguments.Get("person");
        var finger = arguments.Get("finger");
        if (string.IsNullOrWhiteSpace(person) || !Fingers.IsValid(finger))
        {
            return Fail($"--person ID and --finger FINGER are required; fingers: {string.Join(", ", Fingers.All)}");
        }

        var templateId = arguments.Get("template-id");
        if (templateId is not null && !WireFormat.IsValidId(templateId))
        {
            return Fail($"--template-id '{templateId}' is not a valid id");
        }

        var template = SyntheticFingers.EnrollmentTemplate(person, finger!, templateId);
        if (!arguments.Has("json"))
        {
            output.WriteLine(Convert.ToBase64String(template.Data.Span));
            return Ok;
        }

        using var buffer = new MemoryStream();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("templateId", template.TemplateId);
            json.WriteString("finger", template.Finger);
            json.WriteString("format", template.Format);
            json.WriteBase64String("data", template.Data.Span);
            json.WriteEndObject();
        }

        output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
        return Ok;
    }

    private int PrintFingerprintRates(Arguments arguments)
    {
        var unknown = arguments.Unknown(["trials", "seed"]).ToList();
        if (unknown.Count > 0)
        {
            return Fail($"{arguments.Command} does not take {string.Join(", ", unknown)}");
        }

        var trials = 30_000;
        var seed = 20261128;
        if ((arguments.Get("trials") is not null && !TryInt(arguments, "trials", 1, out trials))
            || (arguments.Get("seed") is not null && !TryInt(arguments, "seed", 0, out seed)))
        {
            return UsageError;
        }

        var started = time.GetTimestamp();
        var rates = MatcherRates.Measure(trials, trials, seed);
        output.WriteLine(rates.Format());
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seed {seed}, {time.GetElapsedTime(started).TotalSeconds:0.00} s"));
        return Ok;
    }

    private async Task<bool> StartAsync(IReadOnlyList<SimulatedDevice> devices, CommonOptions common, CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(devices.Select(d => d.StartAsync(cancellationToken))).WaitAsync(common.ConnectTimeout, time, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            var offline = devices.Where(d => !d.IsConnected).Select(d => d.DeviceId).ToList();
            errors.WriteLine($"error: {offline.Count} of {devices.Count} devices not online within {Durations.Format(common.ConnectTimeout)} at {common.Device.Broker}: {string.Join(", ", offline.Take(10))}{(offline.Count > 10 ? ", ..." : "")}");
            errors.WriteLine("       is the broker running, and does it know these devices and this key? (--verbose shows each attempt)");
            return false;
        }
    }

    private sealed record CommonOptions(DeviceOptions Device, DeviceSecrets Secrets, string? SitePath, TimeSpan ConnectTimeout);

    private bool TryCommon(Arguments arguments, IEnumerable<string> own, out CommonOptions common)
    {
        common = null!;
        var unknown = arguments.Unknown(CommonOptionNames.Concat(own)).ToList();
        if (unknown.Count > 0)
        {
            Fail($"{arguments.Command} does not take {string.Join(", ", unknown)}");
            return false;
        }

        var broker = BrokerEndpoint.Default;
        if (arguments.Get("broker") is { } brokerText)
        {
            if (BrokerEndpoint.TryParse(brokerText) is not { } parsed)
            {
                Fail($"--broker '{brokerText}' is not HOST:PORT");
                return false;
            }

            broker = parsed;
        }

        var topicRoot = arguments.Get("topic-root") ?? Topics.DefaultRoot;
        var connectTimeout = TimeSpan.FromSeconds(30);
        if (arguments.Get("connect-timeout") is { } timeoutText && !Durations.TryParse(timeoutText, out connectTimeout))
        {
            Fail($"--connect-timeout '{timeoutText}' is not a duration such as 30s");
            return false;
        }

        if (arguments.Get("key-file") is not { } keyPath)
        {
            Fail("--key-file FILE is required: device passwords are derived from the site provisioning key");
            return false;
        }

        var key = KeyFile.Read(keyPath);
        if (key.Key is null)
        {
            Fail($"{keyPath}: {key.Error}");
            return false;
        }

        Action<string>? log = arguments.Has("verbose") ? Log : null;
        DeviceTlsOptions? tls = null;
        if (arguments.Get("ca") is { } caFile)
        {
            var certDir = arguments.Get("cert-dir");
            if (!File.Exists(caFile) || (certDir is not null && !Directory.Exists(certDir)))
            {
                Fail(File.Exists(caFile) ? $"--cert-dir '{certDir}' is not a folder" : $"--ca '{caFile}' does not exist");
                return false;
            }

            tls = new DeviceTlsOptions { CaFile = caFile, CertificateDirectory = certDir, PfxPassword = arguments.Get("pfx-password"), TargetHost = arguments.Get("tls-host") };
        }
        else if (arguments.Get("cert-dir") is not null || arguments.Get("tls-host") is not null)
        {
            Fail("--cert-dir and --tls-host need --ca (the site CA the broker's certificate is checked against)");
            return false;
        }

        var device = new DeviceOptions { Broker = broker, TopicRoot = topicRoot, Log = log, Tls = tls };
        try
        {
            device.Validate();
        }
        catch (ArgumentException ex)
        {
            Fail(ex.Message);
            return false;
        }

        common = new CommonOptions(device, new DeviceSecrets(key.Key), arguments.Get("site"), connectTimeout);
        return true;
    }

    private List<string>? ReadCards(Arguments arguments)
    {
        if (arguments.Get("cards") is { } path)
        {
            try
            {
                var cards = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
                if (cards.Count > 0)
                {
                    return cards;
                }

                Fail($"{path}: no cards (one UID a line; # starts a comment)");
                return null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Fail($"cannot read {path}: {ex.Message}");
                return null;
            }
        }

        var list = (arguments.Get("card") ?? "04A1B2C3D4E5F6").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (list.Count == 0)
        {
            Fail("--card needs at least one UID");
            return null;
        }

        return list;
    }

    private bool TryInt(Arguments arguments, string name, int min, out int value)
    {
        value = 0;
        if (arguments.Get(name) is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value >= min)
        {
            return true;
        }

        Fail($"--{name} N is required (a whole number, at least {min})");
        return false;
    }

    private bool TryDouble(Arguments arguments, string name, out double value)
    {
        value = 0;
        if (arguments.Get(name) is { } text && double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value) && value > 0)
        {
            return true;
        }

        Fail($"--{name} is required (a positive number)");
        return false;
    }

    private int Fail(string message)
    {
        errors.WriteLine($"error: {message}");
        errors.WriteLine("run 'hardware-sim help' for usage");
        return UsageError;
    }

    private void Log(string line)
    {
        lock (errors)
        {
            errors.WriteLine($"{WireFormat.FormatInstant(clock.GetCurrentInstant())} {line}");
        }
    }
}

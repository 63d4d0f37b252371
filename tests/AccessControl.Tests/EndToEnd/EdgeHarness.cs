using System.Threading.Channels;
using AccessControl.Admin;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.EntryLog;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.HardwareSim.Readers;
using AccessControl.Hosting;
using AccessControl.Protocol;
using AccessControl.SiteFiles;

using AccessControl.Tests.Support;
using Microsoft.Extensions.Logging;
using MQTTnet;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// The whole edge service in-process on the demo site: a real broker (embedded MQTTnet or a Mosquitto process),
/// a real SQLite file in a temp folder, simulated readers and door controllers speaking the wire protocol.
/// Only the clock is fake. Supervision runs when a test calls <see cref="TickAsync"/>, never on its own.
/// </summary>
public sealed class EdgeHarness : IAsyncDisposable
{
    /// <summary>Tuesday 1 December 2026, 10:00 in Berlin: inside business hours, all demo credentials valid.</summary>
    public static readonly Instant BusinessHours = Instant.FromUtc(2026, 12, 1, 9, 0);

    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly Channel<LogEntry> committed = Channel.CreateUnbounded<LogEntry>();
    private readonly List<LogEntry> seen = [];
    private readonly List<IAsyncDisposable> devices = [];
    private readonly Dictionary<string, FingerprintReader> fingerprintReaders = [];
    private bool keepDirectory;
    private CapturingLoggerProvider? logLines;
    private readonly List<(string Name, string Value)> extraSecrets = [];
    private readonly MosquittoProcess? mosquitto;
    private TestPki? pki;

    private EdgeHarness(string directory, FakeClock clock, AccessControlHost host, DeviceSecrets secrets, MosquittoProcess? mosquitto, BrokerKind kind)
    {
        Directory = directory;
        Clock = clock;
        Host = host;
        Secrets = secrets;
        this.mosquitto = mosquitto;
        Kind = kind;
        host.Edge.Pipeline.Committed += rows =>
        {
            foreach (var row in rows)
            {
                committed.Writer.TryWrite(row);
            }
        };
    }

    public string Directory { get; }

    public FakeClock Clock { get; }

    public AccessControlHost Host { get; }

    public EdgeService Edge => Host.Edge;

    public DeviceSecrets Secrets { get; }

    public BrokerKind Kind { get; }

    public int BrokerPort => mosquitto?.Port ?? Edge.BrokerPort;

    private static readonly OperatorIdentity Enroller = new("enroller-test", OperatorRole.Enrollment, "p-enroller");

    /// <summary>The demo server room's fingerprint reader.</summary>
    public const string DemoFingerprintReader = "fp-sr1-in";

    /// <summary>The people enrolled in the fingerprint system at start (synthetic templates of <see cref="DemoFinger"/>).</summary>
    public static readonly string[] EnrolledDemoPeople = ["p-mkoch", "p-jweber"];

    /// <summary>The finger every enrolled demo person has enrolled.</summary>
    public const string DemoFinger = "right-index";

    public static string DemoSiteFile => Path.Combine(AppContext.BaseDirectory, "deploy", "sites", "demo.yaml");

    /// <param name="logs">When given, receives every log line of the service at every level (for tests that scan logs for secrets).</param>
    /// <param name="directory">A data folder to use (a restart: the database of an earlier harness); it is kept at dispose. By default a new temp folder, deleted at dispose.</param>
    /// <param name="pki">When given, the broker (either kind) speaks mutual TLS only, the service connects with its certificate, and <see cref="DeviceOptions"/> carries each device's.</param>
    public static async Task<EdgeHarness> StartAsync(BrokerKind kind = BrokerKind.Embedded, Instant? now = null, Func<ServiceSettings, ServiceSettings>? configure = null,
        ILoggerProvider? logs = null, string? directory = null, TestPki? pki = null)
    {
        var keep = directory is not null;
        directory ??= Path.Combine(Path.GetTempPath(), "ac-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var clock = new FakeClock(now ?? BusinessHours);
        var key = DeviceSecrets.NewKey();
        var keyFile = Path.Combine(directory, "provisioning.key");
        await File.WriteAllTextAsync(keyFile, Convert.ToBase64String(key));
        var secrets = new DeviceSecrets(key);

        MosquittoProcess? mosquitto = null;
        var broker = new BrokerOptions { Port = 0, PingInterval = TimeSpan.FromMilliseconds(200), RetryDelay = TimeSpan.FromMilliseconds(50), MaxRetryDelay = TimeSpan.FromMilliseconds(500), Tls = pki?.BrokerTls };
        if (kind == BrokerKind.Mosquitto)
        {
            var site = SiteFileLoader.Load(DemoSiteFile);
            mosquitto = await MosquittoProcess.StartAsync(site.Site!.Topology, secrets, new Topics(), pki);
            broker = broker with { Mode = BrokerMode.External, Port = mosquitto.Port };
        }

        var settings = new ServiceSettings
        {
            DataDirectory = directory,
            SiteFile = DemoSiteFile,
            HttpUrl = "http://127.0.0.1:0",
            Broker = broker,
            SupervisionInterval = TimeSpan.FromDays(1),

            // Tests move the fake clock by hand, far from the real time that passes: no clock-jump alarms unless a test asks.
            Pipeline = new global::AccessControl.Events.PipelineOptions { ClockJumpThreshold = null },
        };
        settings = configure?.Invoke(settings) ?? settings;
        // Every harness keeps the service's log lines and scans them for secrets when it is disposed.
        var captured = logs as CapturingLoggerProvider ?? new CapturingLoggerProvider();
        var host = AccessControlHost.Create(settings, clock, RealTime.Instance, logging =>
        {
            logging.SetMinimumLevel(logs is null ? LogLevel.Information : LogLevel.Trace);
            logging.AddProvider(captured);
            if (logs is not null && logs != captured)
            {
                logging.AddProvider(logs);
            }
        });
        try
        {
            await host.StartAsync();
        }
        catch (Exception)
        {
            // A start that failed part-way (a port taken, an import that failed) leaves nothing running into the next start.
            await host.DisposeAsync();
            throw;
        }

        var harness = new EdgeHarness(directory, clock, host, secrets, mosquitto, kind) { keepDirectory = keep, logLines = captured, pki = pki };
        foreach (var person in EnrolledDemoPeople.Where(p => host.Edge.Fingerprints.List(p).Value is not { Count: > 0 }))
        {
            // The demo's server room is two-factor: its operator and engineer have their right index enrolled, as in the demo.
            await harness.EnrollAsync(person, DemoFinger);
        }

        return harness;
    }

    public DeviceOptions DeviceOptions => new()
    {
        Broker = new BrokerEndpoint("127.0.0.1", BrokerPort),
        ConnectionCheckInterval = TimeSpan.FromMilliseconds(200),
        ReconnectDelay = TimeSpan.FromMilliseconds(50),
        MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
        KeepAlive = TimeSpan.FromSeconds(2),
        Tls = pki is null ? null : new DeviceTlsOptions { CaFile = pki.CaFile, CertificateDirectory = pki.DevicesDirectory },
    };

    /// <summary>A started, connected card reader.</summary>
    public async Task<CardReader> ReaderAsync(string readerId, DeviceOptions? options = null)
    {
        var reader = new CardReader(readerId, options ?? DeviceOptions, Secrets, Clock, RealTime.Instance, new CardReaderOptions { HeartbeatInterval = TimeSpan.FromDays(1) });
        devices.Add(reader);
        await reader.StartAsync().WaitAsync(Timeout);
        return reader;
    }

    /// <summary>Enrolls the simulator's template of a person's finger, as an enrollment operator at a desk; returns the template bytes.</summary>
    public async Task<byte[]> EnrollAsync(string personId, string finger)
    {
        var template = SyntheticFingers.EnrollmentTemplateData(personId, finger);
        var result = await Edge.Fingerprints.EnrollAsync(Enroller, personId, finger, "enroll-desk-1", SyntheticFingers.Format, template).WaitAsync(Timeout);
        Assert.True(result.Value is not null, $"enrolling {personId} {finger}: {result}");
        return template;
    }

    /// <summary>Revokes every template of a person.</summary>
    public async Task RevokeFingerprintsAsync(string personId)
    {
        var result = await Edge.Fingerprints.RevokeAllAsync(Enroller.Operator, new AccessControl.Sites.PersonId(personId), "test").WaitAsync(Timeout);
        Assert.True(result.Value is { Count: > 0 }, $"revoking {personId}: {result}");
    }

    /// <summary>A started, connected fingerprint reader (synthetic fingers; no heartbeats).</summary>
    public async Task<FingerprintReader> FingerprintReaderAsync(string readerId = DemoFingerprintReader)
    {
        if (fingerprintReaders.TryGetValue(readerId, out var existing))
        {
            return existing;
        }

        var reader = new FingerprintReader(readerId, DeviceOptions, Secrets, Clock, RealTime.Instance,
            new FingerprintReaderOptions { HeartbeatInterval = TimeSpan.Zero, Seed = 42 });
        devices.Add(reader);
        fingerprintReaders[readerId] = reader;
        await reader.StartAsync().WaitAsync(Timeout);
        return reader;
    }

    /// <summary>
    /// Someone at a two-factor door: their finger on the door's fingerprint reader, then their card; completes with the
    /// final decision. The finger is lifted afterwards, so it cannot answer the next person's verification.
    /// </summary>
    public async Task<DecisionMessage> PresentCardAndFingerAsync(CardReader reader, string card, string? personId = null, string finger = DemoFinger)
    {
        var person = personId ?? DemoCards.PersonOf(card);
        var fingerprints = await FingerprintReaderAsync();
        var capture = fingerprints.PresentFingerAsync(person, finger);
        try
        {
            return await reader.PresentCardAsync(card, DemoCards.Ev3).WaitAsync(Timeout);
        }
        finally
        {
            fingerprints.PresentNothing();
            await capture.WaitAsync(Timeout);
        }
    }

    /// <summary>A started, connected door controller for the given doors (not started with <paramref name="start"/> false, so a test can watch it from its first message).</summary>
    public async Task<DoorController> ControllerAsync(string controllerId, string[] doors, DoorControllerOptions? options = null, bool start = true)
    {
        var controller = new DoorController(controllerId, doors, DeviceOptions, Secrets, Clock, RealTime.Instance,
            options ?? new DoorControllerOptions { AutoOpenOnUnlock = false });
        devices.Add(controller);
        if (start)
        {
            await controller.StartAsync().WaitAsync(Timeout);
        }

        return controller;
    }

    /// <summary>A raw MQTT client logged in as a device (or as the monitor), for sending what no well-behaved device sends.</summary>
    public async Task<IMqttClient> RawClientAsync(string username, string? password = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", BrokerPort)
            .WithClientId(username)
            .WithCredentials(username, password ?? Secrets.For(username))
            .WithCleanSession(true)
            .Build()).WaitAsync(Timeout);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        devices.Add(new DisposableClient(client));
        return client;
    }

    /// <summary>Subscribes a raw reader client to its decisions topic; every decision lands in the returned channel.</summary>
    public async Task<Channel<DecisionMessage>> DecisionsAsync(IMqttClient reader, string readerId)
    {
        var decisions = Channel.CreateUnbounded<DecisionMessage>();
        reader.ApplicationMessageReceivedAsync += e =>
        {
            decisions.Writer.TryWrite(WireFormat.ParseDecision(e.ApplicationMessage.Payload).Value!);
            return Task.CompletedTask;
        };
        await reader.SubscribeAsync(Edge.Topics.ReaderDecisions(readerId), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
        return decisions;
    }

    /// <summary>Logs in as a door controller and collects every command sent to one of its doors.</summary>
    public async Task<Channel<DoorCommand>> DoorCommandsAsync(string controllerId, string doorId)
    {
        var commands = Channel.CreateUnbounded<DoorCommand>();
        var controller = await RawClientAsync(controllerId);
        controller.ApplicationMessageReceivedAsync += e =>
        {
            commands.Writer.TryWrite(WireFormat.ParseDoorCommand(e.ApplicationMessage.Payload).Value!);
            return Task.CompletedTask;
        };
        await controller.SubscribeAsync(Edge.Topics.DoorCommands(doorId), MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
        return commands;
    }

    /// <summary>Connects a monitor to the alarms topic; every alarm published lands in the returned channel.</summary>
    public async Task<Channel<AlarmMessage>> AlarmsAsync()
    {
        var alarms = Channel.CreateUnbounded<AlarmMessage>();
        var monitor = await RawClientAsync(DeviceSecrets.MonitorUsername);
        monitor.ApplicationMessageReceivedAsync += e =>
        {
            alarms.Writer.TryWrite(WireFormat.ParseAlarm(e.ApplicationMessage.Payload).Value!);
            return Task.CompletedTask;
        };
        await monitor.SubscribeAsync(Edge.Topics.Alarms, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce);
        return alarms;
    }

    /// <summary>Waits for a committed log row matching the predicate (rows already seen count too).</summary>
    public async Task<LogEntry> RowAsync(Func<LogEntry, bool> match)
    {
        lock (seen)
        {
            var earlier = seen.FirstOrDefault(match);
            if (earlier is not null)
            {
                return earlier;
            }
        }

        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            LogEntry row;
            try
            {
                row = await committed.Reader.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("No matching log row was committed. Rows seen: " + string.Join(" | ", seen.Select(r => $"{r.Kind}/{r.Reason}/{r.ReaderId ?? r.DoorId}")));
            }

            lock (seen)
            {
                seen.Add(row);
            }

            if (match(row))
            {
                return row;
            }
        }
    }

    public Task<LogEntry> AlarmRowAsync(string type) => RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == type);

    /// <summary>Runs supervision now, at the fake clock's time.</summary>
    public Task TickAsync() => Edge.SuperviseOnceAsync().WaitAsync(Timeout);

    /// <summary>Stops the broker (embedded or Mosquitto), keeping its port.</summary>
    public Task StopBrokerAsync() => mosquitto is not null ? mosquitto.StopAsync() : Edge.Broker!.StopAsync();

    public Task StartBrokerAgainAsync() => mosquitto is not null ? mosquitto.StartAgainAsync() : Edge.Broker!.StartAsync();

    public IReadOnlyList<LogEntry> Rows(LogFilter filter) => Edge.Log.Find(filter);

    public async ValueTask DisposeAsync()
    {
        foreach (var device in devices)
        {
            await device.DisposeAsync();
        }

        await Host.DisposeAsync();
        var leaked = LeakedSecrets();

        // Whatever the test did, the entry log it leaves must verify: chain, signed checkpoints, the file outside the database.
        var verification = new LogVerifier(Edge.Database).Verify();

        // ... and every reason it wrote must be one a log query accepts, or an auditor could not ask for those rows.
        var unknownReasons = WrittenReasons.Unknown(Edge.Database);
        if (mosquitto is not null)
        {
            await mosquitto.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (!keepDirectory)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }

        Assert.True(leaked.Count == 0, "The service's log output holds secrets: " + string.Join(", ", leaked));
        Assert.True(verification.Ok, "The entry log does not verify: " + verification.FirstBroken + " " + string.Join("; ", verification.CheckpointProblems));
        Assert.True(unknownReasons.Count == 0, "The service wrote reasons a log query refuses (add them to their feature's *Actions class, or to LogReasons): " + string.Join(", ", unknownReasons));
    }

    /// <summary>Adds a value the service must never write to its log (a token, an ID number) to the scan at dispose.</summary>
    public void TreatAsSecret(string name, string value) => extraSecrets.Add((name, value));

    /// <summary>
    /// What of the site's secrets appears in the service's log lines (at Information and above, or every level when a
    /// test passed its own provider): the provisioning key, every device's MQTT password, and every key in the data
    /// folder's key files (PII, fingerprint, HR ...). Names of what leaked, never the secrets themselves.
    /// </summary>
    private List<string> LeakedSecrets()
    {
        var text = string.Join("\n", logLines?.Lines ?? []);
        var secrets = new List<(string Name, string Value)>(extraSecrets);
        var keyFile = Path.Combine(Directory, "provisioning.key");
        if (File.Exists(keyFile))
        {
            secrets.Add(("provisioning key", File.ReadAllText(keyFile).Trim()));
        }

        var topology = Edge.Configuration.Topology;
        foreach (var device in topology.Readers.Keys.Select(r => r.Value).Concat(topology.Controllers.Keys.Select(c => c.Value))
            .Append(DeviceSecrets.ServiceUsername).Append(DeviceSecrets.MonitorUsername))
        {
            secrets.Add(($"password of {device}", Secrets.For(device)));
        }

        foreach (var file in System.IO.Directory.EnumerateFiles(Directory).Where(f => f.EndsWith(".key", StringComparison.Ordinal) || f.EndsWith(".keys", StringComparison.Ordinal)))
        {
            foreach (var token in File.ReadAllText(file).Split([' ', '\n', '\r', '\t', ';'], StringSplitOptions.RemoveEmptyEntries).Where(t => t.Length >= 24))
            {
                secrets.Add(($"a key of {Path.GetFileName(file)}", token));
            }
        }

        return [.. secrets.Where(s => text.Contains(s.Value, StringComparison.Ordinal)).Select(s => s.Name).Distinct()];
    }

    private sealed class DisposableClient(IMqttClient client) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (client.IsConnected)
            {
                await client.DisconnectAsync();
            }

            client.Dispose();
        }
    }
}

using AccessControl.Devices;
using AccessControl.EntryLog;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Readers;
using AccessControl.Lab.Bench;
using AccessControl.Lab.Chaos;
using AccessControl.Protocol;
using AccessControl.SiteFiles;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// What the chaos tests share: the service as a process of its own (<c>accesscontrol run</c> on the demo site and a
/// data folder the test owns), Mosquitto as a process, and the four door readers of the lobby and data hall 1, all on
/// the wall clock. Faults come from the test: SIGKILL here, the rest through the lab's fault helpers.
/// </summary>
internal sealed class ServiceRig : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    private static readonly string[] ReaderIds = ["rdr-lobby-in", "rdr-lobby-out", "rdr-dh1-in", "rdr-dh1-out"];
    private readonly string directory;
    private readonly IReadOnlyDictionary<string, string>? environment;
    private readonly List<CardReader> readers = [];
    private ChildProcess? service;

    private ServiceRig(string directory, MosquittoProcess mosquitto, DeviceSecrets secrets, IReadOnlyDictionary<string, string>? environment)
    {
        this.directory = directory;
        this.environment = environment;
        Mosquitto = mosquitto;
        Secrets = secrets;
    }

    public MosquittoProcess Mosquitto { get; }

    public DeviceSecrets Secrets { get; }

    public IReadOnlyList<CardReader> Readers => readers;

    /// <summary>Every decision a reader heard through <see cref="PresentAsync"/> or <see cref="Heard"/>, in order.</summary>
    public Observed<HeardDecision> Heard { get; } = new();

    /// <param name="environment">Added to the service's environment (libfaketime's, for a stepped clock).</param>
    public static async Task<ServiceRig> StartAsync(string directory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var key = DeviceSecrets.NewKey();
        await File.WriteAllTextAsync(Path.Combine(directory, "provisioning.key"), Convert.ToBase64String(key));
        var secrets = new DeviceSecrets(key);
        var topology = SiteFileLoader.Load(EdgeHarness.DemoSiteFile).Site!.Topology;
        var rig = new ServiceRig(directory, await MosquittoProcess.StartAsync(topology, secrets, new Topics()), secrets, environment);
        try
        {
            rig.service = await rig.StartServiceAsync();
            var options = new DeviceOptions
            {
                Broker = new BrokerEndpoint("127.0.0.1", rig.Mosquitto.Port),
                ResendInterval = TimeSpan.FromMilliseconds(500),
                ConnectionCheckInterval = TimeSpan.FromMilliseconds(200),
                ReconnectDelay = TimeSpan.FromMilliseconds(50),
                MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
                MaxResendInterval = TimeSpan.FromMilliseconds(500),
            };
            var clock = new WallClock(RealTime.Instance);
            foreach (var id in ReaderIds)
            {
                var reader = new CardReader(id, options, secrets, clock, RealTime.Instance, new CardReaderOptions { HeartbeatInterval = TimeSpan.FromDays(1) });
                rig.readers.Add(reader);
                await reader.StartAsync().WaitAsync(Timeout);
            }

            return rig;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    /// <summary>Connects a security desk to the alarms topic.</summary>
    public Task<AlarmMonitor> MonitorAsync() => AlarmMonitor.ConnectAsync(Mosquitto.Port, Secrets, new Topics());

    /// <summary>
    /// Each of <paramref name="on"/> presents <paramref name="perReader"/> cards, one at a time, each after the previous
    /// one's decision (<paramref name="card"/> picks the card of the i-th); every decision lands in <see cref="Heard"/>.
    /// </summary>
    public Task PresentAsync(IEnumerable<CardReader> on, int perReader, Func<int, string>? card = null) =>
        Task.WhenAll(on.Select(reader => Task.Run(async () =>
        {
            for (var i = 0; i < perReader; i++)
            {
                await HeardAsync(reader, reader.PresentCard(card?.Invoke(i) ?? DemoCards.Operator, DemoCards.Ev3));
            }
        })));

    /// <summary>Waits for the event's decision and records it in <see cref="Heard"/>.</summary>
    public async Task<HeardDecision> HeardAsync(CardReader reader, PendingEvent pending)
    {
        var heard = new HeardDecision(reader.ReaderId, pending.EventId, pending.Offline, await pending.Decision.WaitAsync(Timeout));
        Heard.Add(heard);
        return heard;
    }

    /// <summary>SIGKILL, then the service started again on the same data folder.</summary>
    public async Task KillAndRestartServiceAsync()
    {
        await service!.KillAsync();
        await service.DisposeAsync();
        service = null;
        service = await StartServiceAsync();
    }

    /// <summary>The admin API's address, from the service's start-up line (<c>HTTP http://127.0.0.1:PORT</c>).</summary>
    public string HttpUrl => System.Text.RegularExpressions.Regex.Match(service!.ReadyLine, @"HTTP (\S+),").Groups[1].Value;

    /// <summary>Stops the service cleanly (SIGTERM); the broker and the readers stay up.</summary>
    public async Task StopServiceAsync()
    {
        await service!.StopAsync();
        await service.DisposeAsync();
        service = null;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    /// <summary>Starts the service again, on another data folder (a restored one).</summary>
    public async Task StartServiceOnAsync(string dataDirectory) => service = await StartServiceAsync(dataDirectory);

    /// <summary>
    /// Stops the service cleanly (SIGTERM: it signs its final checkpoint), then the readers, and reads what it left:
    /// the whole log, the audit of <see cref="Heard"/> against it, and the chain's verification.
    /// </summary>
    public async Task<ServiceLog> StopAndAuditAsync()
    {
        await service!.StopAsync();
        await service.DisposeAsync();
        service = null;
        await DisposeReadersAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var database = new Database(Path.Combine(directory, "accesscontrol.db"));
        var rows = LogAudit.ReadAll(database);
        return new ServiceLog(rows, LogAudit.Of(Heard.Snapshot(), rows), new LogVerifier(database).Verify());
    }

    private Task<ChildProcess> StartServiceAsync(string? dataDirectory = null) =>
        ChildProcess.StartAsync("accesscontrol.dll",
            ["run", "--site", EdgeHarness.DemoSiteFile, "--data", dataDirectory ?? directory, "--external-broker", $"127.0.0.1:{Mosquitto.Port}", "--http", "http://127.0.0.1:0"],
            "AccessControl edge running", environment);

    private async Task DisposeReadersAsync()
    {
        foreach (var reader in readers)
        {
            await reader.DisposeAsync();
        }

        readers.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await DisposeReadersAsync();
        if (service is not null)
        {
            await service.DisposeAsync();
        }

        await Mosquitto.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }
}

/// <summary>What a stopped service left: its whole log, the audit of what the readers heard against it, and the chain's verification.</summary>
internal sealed record ServiceLog(IReadOnlyList<LogEntry> Rows, LogAudit Audit, LogVerification Chain)
{
    public IReadOnlyList<LogEntry> Access => [.. Rows.Where(r => r.Kind == LogKinds.Access)];

    public IReadOnlyList<LogEntry> Alarms => [.. Rows.Where(r => r.Kind == LogKinds.Alarm)];

    /// <summary>Fails with the first broken row and the checkpoint problems unless the chain verifies.</summary>
    public void AssertChainVerifies() => Assert.True(Chain.Ok, $"chain: {Chain.FirstBroken} {string.Join("; ", Chain.CheckpointProblems)}");

    /// <summary>Every decision heard has exactly one row with the same outcome, and there is no row nobody heard.</summary>
    public void AssertEachHeardDecisionLoggedOnce(int heard)
    {
        Assert.Empty(Audit.Missing);
        Assert.Empty(Audit.Mismatched);
        Assert.Equal(0, Audit.LoggedTwice);
        Assert.Equal(heard, Access.Count);
    }
}

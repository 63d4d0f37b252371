using AccessControl.Devices;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Readers;
using AccessControl.Lab.Bench;
using AccessControl.Protocol;
using AccessControl.SiteFiles;
using AccessControl.Storage;
using NodaTime;

namespace AccessControl.Lab.Chaos;

/// <summary>
/// One chaos run: Mosquitto and the service (<c>accesscontrol run</c>) as processes of their own, four simulated
/// readers presenting cards one at a time (each waits for its decision: the operator's card, every tenth an unknown
/// one), and the faults of <see cref="ChaosOptions.Schedule"/> striking in turn. Every fault waits for its effect (the
/// alarm it must raise, the deny it must cause), so one is over before the next strikes; between two faults, and
/// before the first and after the last, the readers get a stretch of <see cref="ChaosOptions.Events"/> / (faults + 1)
/// decisions of plain traffic. The readers keep presenting cards while a fault lasts, so a run sends more than
/// <see cref="ChaosOptions.Events"/> cards in all; the report counts them.
/// </summary>
internal sealed class ChaosRun(string directory, Tmpfs? disk, ChaosOptions options, IClock clock, TimeProvider time, TextWriter output)
    : IAsyncDisposable
{
    /// <summary>Cards presented on a reader while it is cut off.</summary>
    public const int OutageWave = 100;

    private const string OperatorCard = "04A1B2C3D4E5F6";
    private const string UnknownCard = "04FFFFFFFFFF01";
    private const string Technology = "desfire-ev3";

    /// <summary>Decisions heard after the log first refused a write, before the filler is deleted.</summary>
    private const int AnsweredWhileFull = 40;

    private static readonly string[] ReaderIds = ["rdr-lobby-in", "rdr-lobby-out", "rdr-dh1-in", "rdr-dh1-out"];
    private static readonly TimeSpan[] ClockOffsets = [TimeSpan.FromMinutes(-3), TimeSpan.Zero, TimeSpan.FromMinutes(3), TimeSpan.Zero];
    private static readonly TimeSpan OutageLength = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan DecisionTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan FaultTimeout = TimeSpan.FromMinutes(2);

    private readonly Topics topics = new();
    private readonly Observed<HeardDecision> heard = new();
    private readonly List<CardReader> readers = [];
    private readonly FaultTally tally = new();
    private readonly byte[] key = DeviceSecrets.NewKey();

    private BenchBroker? broker;
    private ChildProcess? service;
    private FakeWallClock? wallClock;
    private int presented;
    private int stopAt = int.MaxValue;

    private DeviceSecrets Secrets => field ??= new DeviceSecrets(key);

    public async Task<bool> ExecuteAsync(CancellationToken cancellationToken)
    {
        var siteFile = Path.Combine(AppContext.BaseDirectory, "sites", "demo.yaml");
        var topology = SiteFileLoader.Load(siteFile).Site!.Topology;
        await File.WriteAllTextAsync(Path.Combine(directory, "provisioning.key"), Convert.ToBase64String(key), cancellationToken);
        broker = await BenchBroker.StartAsync("mosquitto", topology, Secrets, topics, siteFile, Path.Combine(directory, "provisioning.key"), directory);
        wallClock = options.ClockJumps > 0 ? FakeWallClock.Create(directory) : null;
        string[] serviceArgs = ["run", "--site", siteFile, "--data", directory, "--external-broker", $"127.0.0.1:{broker.Port}", "--http", "http://127.0.0.1:0"];
        service = await StartServiceAsync(serviceArgs);
        var deviceOptions = new DeviceOptions
        {
            Broker = new BrokerEndpoint("127.0.0.1", broker.Port),
            ResendInterval = TimeSpan.FromMilliseconds(500),
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromSeconds(1),
            MaxResendInterval = TimeSpan.FromMilliseconds(500),
        };
        foreach (var id in ReaderIds)
        {
            var reader = new CardReader(id, deviceOptions, Secrets, clock, time, new CardReaderOptions { HeartbeatInterval = TimeSpan.FromSeconds(30) });
            readers.Add(reader);
            await reader.StartAsync(cancellationToken);
        }

        output.WriteLine($"chaos: {readers.Count} readers, {options.Events} cards between faults (and more while they last); {Describe()}; data {directory}");
        var swipes = readers.Select(reader => Task.Run(() => SwipeAsync(reader, cancellationToken), cancellationToken)).ToList();
        var schedule = options.Schedule();
        var stretch = options.Events / (schedule.Count + 1);
        foreach (var fault in schedule)
        {
            await AnsweredAsync(heard.Count + stretch, swipes);
            var at = heard.Count;
            var began = time.GetTimestamp();
            var what = fault switch
            {
                ChaosFault.BrokerRestart => await RestartBrokerAsync(),
                ChaosFault.ServiceKill => await KillServiceAsync(serviceArgs),
                ChaosFault.ClockJump => await StepClockAsync(tally.ClockSteps),
                ChaosFault.ReaderOutage => await CutOffReaderAsync(readers[tally.Outages % readers.Count], cancellationToken),
                _ => await FillDiskAsync(),
            };
            output.WriteLine($"  {at,6} answered: {what} [{time.GetElapsedTime(began).TotalSeconds:0.0} s]");
        }

        Volatile.Write(ref stopAt, heard.Count + stretch);
        await Task.WhenAll(swipes);
        await service.StopAsync();
        await DisposeDevicesAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var database = new Database(Path.Combine(directory, "accesscontrol.db"));
        return new ChaosLogCheck(database, options, tally, output).Check(heard.Snapshot(), Volatile.Read(ref presented));
    }

    private string Describe()
    {
        var faults = new List<string>
        {
            $"{options.BrokerRestarts} broker restarts (Mosquitto, SIGKILL)",
            $"{options.ServiceKills} service kills (SIGKILL)",
        };
        if (options.ClockJumps > 0)
        {
            faults.Add($"{options.ClockJumps} clock jumps (libfaketime, 3 min each)");
        }

        if (options.ReaderOutages > 0)
        {
            faults.Add($"{options.ReaderOutages} reader outages ({OutageWave} cards each)");
        }

        if (options.DiskFull)
        {
            faults.Add("a full filesystem (tmpfs)");
        }

        return string.Join(", ", faults);
    }

    /// <summary>
    /// Presents cards one at a time, each after the previous one's decision, until the run says stop: readers never
    /// stand idle while a fault strikes (an idle reader looks silent to the service when its clock steps forward, and
    /// a reader already reported offline raises no alarm for its last will).
    /// </summary>
    private async Task SwipeAsync(CardReader reader, CancellationToken cancellationToken)
    {
        for (var i = 0; heard.Count < Volatile.Read(ref stopAt); i++)
        {
            var pending = reader.PresentCard(Card(i), Technology);
            Interlocked.Increment(ref presented);
            var decision = await pending.Decision.WaitAsync(DecisionTimeout, cancellationToken);
            heard.Add(new HeardDecision(reader.ReaderId, pending.EventId, pending.Offline, decision));
        }
    }

    /// <summary>Waits until <paramref name="count"/> decisions have been heard in all; a swipe loop's failure ends the wait.</summary>
    private async Task AnsweredAsync(int count, IReadOnlyList<Task> swipes)
    {
        var reached = heard.WhenAsync($"{count} decisions heard", _ => true, DecisionTimeout, count - 1);
        await await Task.WhenAny([reached, .. swipes]);
    }

    private static string Card(int i) => i % 10 == 9 ? UnknownCard : OperatorCard;

    private Task<ChildProcess> StartServiceAsync(string[] serviceArgs) =>
        ChildProcess.StartAsync("accesscontrol.dll", serviceArgs, "AccessControl edge running", wallClock?.Environment);

    private async Task<string> RestartBrokerAsync()
    {
        await broker!.RestartAsync(TimeSpan.FromSeconds(2));
        return "broker killed, restarted 2 s later";
    }

    private async Task<string> KillServiceAsync(string[] serviceArgs)
    {
        await service!.KillAsync();
        await service.DisposeAsync();
        service = await StartServiceAsync(serviceArgs);
        return "service killed (SIGKILL), started again";
    }

    /// <summary>Steps the service's wall clock to the next offset and waits for the clock_anomaly alarm.</summary>
    private async Task<string> StepClockAsync(int step)
    {
        var from = wallClock!.Offset;
        var to = ClockOffsets[step % ClockOffsets.Length];
        await using var monitor = await AlarmMonitor.ConnectAsync(broker!.Port, Secrets, topics);
        wallClock.StepTo(to);
        await monitor.WhenHeardAsync(AlarmTypes.ClockAnomaly, FaultTimeout);
        tally.ClockSteps++;
        return $"service clock stepped {(to > from ? "forward" : "back")} {(to - from).Duration().TotalMinutes:0} min " +
            $"(now {(to == TimeSpan.Zero ? "right" : $"{to.Duration().TotalMinutes:0} min {(to > TimeSpan.Zero ? "ahead" : "behind")}")}): clock_anomaly alarm";
    }

    /// <summary>
    /// Cuts a reader off (no DISCONNECT: the broker publishes its last will), presents a wave of cards on it without
    /// waiting, lets it stay offline a few seconds, then restores it: it replays the wave marked offline.
    /// </summary>
    private async Task<string> CutOffReaderAsync(CardReader reader, CancellationToken cancellationToken)
    {
        await using var monitor = await AlarmMonitor.ConnectAsync(broker!.Port, Secrets, topics);
        await reader.DropConnectionAsync();
        var wave = Enumerable.Range(0, OutageWave).Select(i => reader.PresentCard(Card(i), Technology)).ToList();
        Interlocked.Add(ref presented, wave.Count);
        await monitor.WhenHeardAsync(AlarmTypes.ReaderOffline, FaultTimeout, reader.ReaderId);
        await Task.Delay(OutageLength, cancellationToken);
        await reader.RestoreConnectionAsync(cancellationToken).WaitAsync(FaultTimeout, cancellationToken);
        foreach (var pending in wave)
        {
            heard.Add(new HeardDecision(reader.ReaderId, pending.EventId, pending.Offline, await pending.Decision.WaitAsync(FaultTimeout, cancellationToken)));
        }

        tally.Outages++;
        tally.WaveEventsNotMadeOffline += wave.Count(e => !e.Offline);
        return $"{reader.ReaderId} cut off for {OutageLength.TotalSeconds:0} s (reader_offline alarm from its last will), " +
            $"{OutageWave} cards presented meanwhile, replayed and answered";
    }

    /// <summary>
    /// Fills the data folder's filesystem to ENOSPC, waits until a swipe is refused (deny/log_failure: the WAL may
    /// have room for a few more commits first) and the log_failure alarm, lets a few more swipes be refused, then
    /// deletes the filler and waits for the next grant.
    /// </summary>
    private async Task<string> FillDiskAsync()
    {
        await using var monitor = await AlarmMonitor.ConnectAsync(broker!.Port, Secrets, topics);
        var before = heard.Count;
        var filler = await disk!.FillAsync();
        var refused = await heard.WhenAsync("deny/log_failure after the filesystem was filled", IsLogFailure, FaultTimeout, before);
        await monitor.WhenHeardAsync(AlarmTypes.LogFailure, FaultTimeout);
        var firstRefused = heard.Snapshot().ToList().FindIndex(h => h.EventId == refused.EventId && h.Reader == refused.Reader);
        await heard.WhenAsync($"{AnsweredWhileFull} more answers while the filesystem is full", _ => true, FaultTimeout, firstRefused + AnsweredWhileFull);
        var freed = heard.Count;
        await disk.FreeAsync();
        await heard.WhenAsync("a grant after the filler was deleted", h => h.Decision.Grant, FaultTimeout, freed);

        var all = heard.Snapshot();
        var whileFull = all.Take(freed).Skip(firstRefused).ToList();
        tally.AnsweredBeforeRefusal = firstRefused - before;
        tally.RefusedWhileFull = whileFull.Count(IsLogFailure);
        tally.GrantsWhileFull = whileFull.Count(h => h.Decision.Grant);
        tally.DiskFilled = true;
        return $"filesystem shrunk to what is in use and filled ({filler / 1024} KiB filler): {tally.AnsweredBeforeRefusal} more answers (WAL room), then deny/log_failure " +
            $"and the log_failure alarm; {tally.RefusedWhileFull} refused, {tally.GrantsWhileFull} granted while full; filler deleted, granted again";
    }

    private static bool IsLogFailure(HeardDecision h) => !h.Decision.Grant && h.Decision.Reason == "log_failure";

    private async Task DisposeDevicesAsync()
    {
        foreach (var reader in readers)
        {
            await reader.DisposeAsync();
        }

        readers.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await DisposeDevicesAsync();
        if (service is not null)
        {
            await service.DisposeAsync();
        }

        if (broker is not null)
        {
            await broker.DisposeAsync();
        }
    }
}

/// <summary>What the faults of a run did, for the final check and report.</summary>
internal sealed class FaultTally
{
    public int ClockSteps { get; set; }

    public int Outages { get; set; }

    public int WaveEventsNotMadeOffline { get; set; }

    public bool DiskFilled { get; set; }

    public int AnsweredBeforeRefusal { get; set; }

    public int RefusedWhileFull { get; set; }

    public int GrantsWhileFull { get; set; }
}

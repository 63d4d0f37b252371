using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Hosting;
using AccessControl.Protocol;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;

namespace AccessControl.Lab.Bench;

/// <summary>
/// Measures, in one run on one broker: the floor (a bare QoS 1 echo round trip: reader publishes, an echo client
/// answers on the reader's decisions topic, no decision, no log) and the full decision round trip (reader event to
/// decision received, with the durable log commit and the door command), at each rate. The same reader clients,
/// the same payloads and the same broker serve both, so the difference is what the service adds.
/// </summary>
public sealed class BenchCommand(IClock clock, TextWriter output)
{
    /// <summary>
    /// Seconds of load at 500 ev/s before each measured phase, so that what is measured is the steady state: the
    /// first seconds after a process starts run code the JIT has not yet optimised (tier-0 code, then on-stack
    /// replacement and PGO re-compilation on a background thread), which `--timeline` shows as a p99 of 7-15 ms.
    /// </summary>
    public double WarmUpSeconds { get; init; } = 5;

    /// <summary>
    /// A quiet second before every measured phase, floor and decision alike: without it the decision phase started in
    /// the wake of the metrics request read just before it (its first second had 15-55 answers over 3 ms, the floor's 0).
    /// </summary>
    private static readonly TimeSpan QuietBeforePhase = TimeSpan.FromSeconds(1);

    /// <summary>Variables added to the service's environment only (runtime or service settings to compare; the floor's echo is untouched).</summary>
    public IReadOnlyDictionary<string, string> ServiceEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Also print p50/p99/max of each second of each phase, to tell a spread tail from a clustered one.</summary>
    public bool Timeline { get; init; }

    /// <summary>
    /// Also split each decision phase's round trips into their legs (<see cref="LatencyBreakdown"/>), from the service's
    /// latency trace (<c>AccessControl__Pipeline__TraceFile</c>, which the service then writes: a line per decision).
    /// </summary>
    public bool Breakdown { get; init; }

    /// <summary>
    /// Also measure the durable floor (<see cref="DurableEcho"/>: the echo, answering only after a group-committed fsync),
    /// between the floor and the decision: what durability alone costs on this machine, apart from the service's own work.
    /// </summary>
    public bool DurableFloor { get; init; }

    /// <summary>
    /// Rows written to the entry log before the service starts, so that the decision phase runs against a log of that
    /// size (its b-trees deeper and mostly out of the page cache) instead of a new one. They come from devices and
    /// people of their own (<see cref="LogSeed"/>), so the bench's readers and card are not affected by them.
    /// </summary>
    public int SeedRows { get; init; }

    /// <summary>
    /// Hold a read transaction open on the service's database through each decision phase, as an auditor's long read
    /// does (<c>log verify</c> of a large log, a big query or export): what it costs the swipes (the WAL checkpoint's
    /// RESTART waits for readers while it holds the writer off; see WalCheckpoints). After the phase, the log's
    /// <c>log_failure</c> rows are counted: swipes denied because their commit could not get in.
    /// </summary>
    public bool LongRead { get; init; }

    /// <summary>
    /// Auditors who ask for <c>GET /api/v1/log/verify</c> over and over through each decision phase (with
    /// <see cref="SeedRows"/>, a walk of a large log each time): what an auditor's verification costs the swipes.
    /// </summary>
    public int VerifyLoad { get; init; }

    /// <summary>How events are spaced at a rate (<see cref="Bench.Arrivals"/>).</summary>
    public Arrivals Arrivals { get; init; } = Arrivals.Poisson;

    private const string Card = "04A1B2C3D4E5F6";

    public async Task<int> RunAsync(string brokerKind, int[] rates, TimeSpan duration, string? markdownFile, CancellationToken cancellationToken)
    {
        var kinds = brokerKind == "both" ? new[] { "embedded", "mosquitto" } : [brokerKind];
        if (BenchPreflight.Missing(kinds) is { } missing)
        {
            throw new BenchSetupException(missing);
        }

        var table = new StringBuilder();
        var durable = new StringBuilder();
        durable.AppendLine("| broker | rate (ev/s) | floor p50 | floor p99 | durable floor p50 | durable floor p99 | decision p50 | decision p99 | durable p99 ratio | decision p99 ratio | durable p50 delta |");
        durable.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        table.AppendLine("| broker | rate (ev/s) | events | floor p50 | floor p99 | decision p50 | decision p99 | p50 ratio | p99 ratio | p50 delta |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var kind in kinds)
        {
            foreach (var (rate, floor, decision, durableFloor) in await RunBrokerAsync(kind, rates, duration, cancellationToken))
            {
                if (durableFloor is not null)
                {
                    durable.AppendLine(string.Format(CultureInfo.InvariantCulture,
                        "| {0} | {1} | {2:0.000} ms | {3:0.000} ms | {4:0.000} ms | {5:0.000} ms | {6:0.000} ms | {7:0.000} ms | {8:0.00} | {9:0.00} | {10:+0.000;-0.000} ms |",
                        kind, rate, floor.P50, floor.P99, durableFloor.P50, durableFloor.P99, decision.P50, decision.P99,
                        durableFloor.P99 / floor.P99, decision.P99 / floor.P99, durableFloor.P50 - floor.P50));
                }

                var row = string.Format(CultureInfo.InvariantCulture,
                    "| {0} | {1} | {2} | {3:0.000} ms | {4:0.000} ms | {5:0.000} ms | {6:0.000} ms | {7:0.00} | {8:0.00} | {9:+0.000;-0.000} ms |",
                    kind, rate, decision.Received, floor.P50, floor.P99, decision.P50, decision.P99,
                    decision.P50 / floor.P50, decision.P99 / floor.P99, decision.P50 - floor.P50);
                table.AppendLine(row);
                if (decision.Received != decision.Sent || floor.Received != floor.Sent)
                {
                    table.AppendLine($"|   lost: floor {floor.Sent - floor.Received}, decision {decision.Sent - decision.Received} | | | | | | | | | |");
                }
            }
        }

        await output.WriteLineAsync(table.ToString());
        if (DurableFloor)
        {
            await output.WriteLineAsync(durable.ToString());
        }
        if (markdownFile is not null)
        {
            await File.WriteAllTextAsync(markdownFile, table.ToString(), cancellationToken);
        }

        return 0;
    }

    private async Task<List<(int Rate, Latencies Floor, Latencies Decision, Latencies? DurableFloor)>> RunBrokerAsync(string kind, int[] rates, TimeSpan duration, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("aclab-bench-").FullName;
        var siteFile = Path.Combine(AppContext.BaseDirectory, "sites", "demo.yaml");
        var site = SiteFileLoader.Load(siteFile);
        if (!site.Success)
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, site.Errors));
        }

        var topology = site.Site!.Topology;
        var key = DeviceSecrets.NewKey();
        await File.WriteAllTextAsync(Path.Combine(directory, "provisioning.key"), Convert.ToBase64String(key), cancellationToken);
        var secrets = new DeviceSecrets(key);
        var topics = new Topics();
        var keyFile = Path.Combine(directory, "provisioning.key");
        await using var broker = await BenchBroker.StartAsync(kind, topology, secrets, topics, siteFile, keyFile, directory);
        await output.WriteLineAsync($"[{kind}] broker on 127.0.0.1:{broker.Port}, arrivals {Arrivals.ToString().ToLowerInvariant()}");

        var answered = Breakdown ? new ConcurrentQueue<LatencyBreakdown.Answered>() : null;
        var cardReaders = topology.Readers.Values.Where(r => r.Kind == ReaderKind.Card).OrderBy(r => r.Id.Value).Select(r => r.Id.Value).ToList();
        var readers = await BenchReader.ConnectAllAsync(cardReaders, broker.Port, secrets, topics, answered);

        var results = new List<(int, Latencies, Latencies, Latencies?)>();

        // Floor: an echo client in the service's place answers each event on the reader's decisions topic. The broker,
        // the echo and the service run in processes of their own, so none shares cores' scheduling or a thread pool with
        // the load generator (this process) in a way another does not.
        string[] echo = ["echo", "--port", broker.Port.ToString(CultureInfo.InvariantCulture), "--key-file", keyFile];
        var floors = await RunEchoPhasesAsync("floor", echo, readers, rates, duration, answered, cancellationToken);
        var durableFloors = DurableFloor
            ? await RunEchoPhasesAsync("durable", [.. echo, "--durable", directory], readers, rates, duration, answered, cancellationToken)
            : [];

        if (SeedRows > 0)
        {
            var seeding = Stopwatch.StartNew();
            LogSeed.Write(Path.Combine(directory, "accesscontrol.db"), SeedRows, clock.GetCurrentInstant());
            await output.WriteLineAsync($"  seeded the entry log with {SeedRows} rows in {seeding.Elapsed.TotalSeconds:0.0} s");
        }

        // Decision: the real service (`accesscontrol run`). With Mosquitto, it connects to the same broker as a client.
        // With the embedded broker, it runs as it does by default: the broker inside the service's process, on the same
        // port, the service inside the broker (InProcessLink); the floor's broker process makes way for it, and the readers
        // log in again.
        var inService = kind == "embedded";
        if (inService)
        {
            await DisposeAllAsync(readers);
            await broker.DisposeAsync();
        }

        // The bench's few readers each send far more than a real reader's rate limit (PipelineOptions.DeviceBurst) allows:
        // a burst deep enough for the whole run measures the pipeline, not the limit. --service-env still overrides it.
        var traceFile = Path.Combine(directory, "latency-trace.tsv");
        var environment = new Dictionary<string, string> { ["AccessControl__Pipeline__DeviceBurst"] = "1000000" };
        foreach (var (name, value) in ServiceEnvironment)
        {
            environment[name] = value;
        }

        if (Breakdown)
        {
            environment["AccessControl__Pipeline__TraceFile"] = traceFile;
        }

        string[] where = inService ? ["--broker-port", $"{broker.Port}"] : ["--external-broker", $"127.0.0.1:{broker.Port}"];
        await using (var service = await ChildProcess.StartAsync("accesscontrol.dll",
            ["run", "--site", siteFile, "--data", directory, .. where, "--http", "http://127.0.0.1:0"], "AccessControl edge running",
            environment))
        {
            if (inService)
            {
                readers = await BenchReader.ConnectAllAsync(cardReaders, broker.Port, secrets, topics, answered);
            }

            using var metrics = ServiceMetrics.Connect(service.ReadyLine, Path.Combine(directory, "accesscontrol.db"), clock);
            await WaitAnsweredAsync(readers, cancellationToken);
            var started = await metrics.ReadAsync(cancellationToken);
            await RunLoadAsync("warm-up", readers, 500, TimeSpan.FromSeconds(WarmUpSeconds), cancellationToken);

            // Steady state also means the garbage collector's: the first collections after a start move what start-up
            // and the first requests built (a few MB) to the oldest generation, gen0 to gen1 then gen1 to gen2, 12-30 ms
            // each on this VM, once in the service's life (a steady-state gen0 collection copies tens of KB, 2-4 ms).
            // Keep the load on, at the top rate, until a gen1 collection is behind us (a minute at most).
            for (var round = 0; round < 12 && !Settled(started.Runtime, (await metrics.ReadAsync(cancellationToken)).Runtime); round++)
            {
                await RunLoadAsync("warm-up (GC)", readers, rates.Max(), TimeSpan.FromSeconds(5), cancellationToken);
            }

            foreach (var rate in rates)
            {
                var before = await metrics.ReadAsync(cancellationToken);
                await Task.Delay(QuietBeforePhase, cancellationToken);
                answered?.Clear();
                Latencies decision;
                using var phaseOver = new CancellationTokenSource();
                var verifying = Enumerable.Range(0, VerifyLoad).Select(_ => metrics.VerifyLogUntilAsync(phaseOver.Token)).ToList();
                using (var auditor = LongRead ? LongReadOn(Path.Combine(directory, "accesscontrol.db")) : null)
                {
                    decision = await RunLoadAsync($"decision@{rate}", readers, rate, duration, cancellationToken);
                }

                await phaseOver.CancelAsync();
                if (VerifyLoad > 0)
                {
                    await output.WriteLineAsync($"    {VerifyLoad} auditors asking GET /log/verify through the phase: {(await Task.WhenAll(verifying)).Sum()} verifications answered");
                }

                if (LongRead)
                {
                    await output.WriteLineAsync($"    a read held open through the phase; log_failure rows in the log: {LogFailureRows(Path.Combine(directory, "accesscontrol.db"))}");
                }

                await output.WriteLineAsync(ServiceMetrics.Format(before, await metrics.ReadAsync(cancellationToken)));
                if (answered is not null)
                {
                    var (lines, spans) = ReadTrace(traceFile);
                    await output.WriteAsync(LatencyBreakdown.Format(answered, lines));
                    await output.WriteAsync(LatencyBreakdown.Bursts([.. answered]));
                    await output.WriteAsync(LatencyBreakdown.Beside([.. answered], spans));
                    await output.WriteAsync(LatencyBreakdown.Durations([.. answered], spans));
                }
                results.Add((rate, floors[rate], decision, durableFloors.GetValueOrDefault(rate)));
            }
        }

        await DisposeAllAsync(readers);

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
        return results;
    }

    /// <summary>A read-only connection with a read transaction that has taken its snapshot: held until disposed.</summary>
    private static Microsoft.Data.Sqlite.SqliteConnection LongReadOn(string database)
    {
        var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var begin = connection.CreateCommand();
        begin.CommandText = "BEGIN; SELECT COUNT(*) FROM entry_log WHERE seq < 10;";
        begin.ExecuteScalar();
        return connection; // disposing it ends the transaction
    }

    private static long LogFailureRows(string database)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM entry_log WHERE reason = 'log_failure'";
        return (long)count.ExecuteScalar()!;
    }

    private static async Task DisposeAllAsync(List<BenchReader> readers)
    {
        foreach (var reader in readers)
        {
            await reader.DisposeAsync();
        }

        readers.Clear();
    }

    /// <summary>An echo process (plain or durable) as the responder: a warm-up, then a measured phase at each rate.</summary>
    private async Task<Dictionary<int, Latencies>> RunEchoPhasesAsync(string name, string[] echoArguments, List<BenchReader> readers, int[] rates,
        TimeSpan duration, ConcurrentQueue<LatencyBreakdown.Answered>? answered, CancellationToken cancellationToken)
    {
        var phases = new Dictionary<int, Latencies>();
        await using var echo = await ChildProcess.StartAsync("aclab.dll", echoArguments, "echo ready");
        await WaitAnsweredAsync(readers, cancellationToken);
        await RunLoadAsync("warm-up", readers, 500, TimeSpan.FromSeconds(WarmUpSeconds), cancellationToken);
        foreach (var rate in rates)
        {
            await Task.Delay(QuietBeforePhase, cancellationToken);
            answered?.Clear();
            phases[rate] = await RunLoadAsync($"{name}@{rate}", readers, rate, duration, cancellationToken);
            if (answered is not null)
            {
                await output.WriteAsync(LatencyBreakdown.Bursts([.. answered]));
            }
        }

        return phases;
    }

    /// <summary>The service's latency trace so far (it keeps the file open and writing): decisions, and what ran beside them.</summary>
    private static (List<AccessControl.Events.LatencyTrace.Line> Lines, List<AccessControl.Events.LatencyTrace.SpanLine> Spans) ReadTrace(string path)
    {
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        var lines = new List<AccessControl.Events.LatencyTrace.Line>();
        var spans = new List<AccessControl.Events.LatencyTrace.SpanLine>();
        while (reader.ReadLine() is { } text)
        {
            if (AccessControl.Events.LatencyTrace.Parse(text) is { } line)
            {
                lines.Add(line);
            }
            else if (AccessControl.Events.LatencyTrace.ParseSpan(text) is { } span)
            {
                spans.Add(span);
            }
        }

        return (lines, spans);
    }

    /// <summary>Whether the service has made, since it took traffic, two collections and one of them of gen1.</summary>
    private static bool Settled(ServiceMetrics.RuntimeReading started, ServiceMetrics.RuntimeReading now) =>
        now.Collections - started.Collections >= 2 && now.Gen1Collections > started.Gen1Collections;

    /// <summary>Until the responder is subscribed, events go unanswered: send one at a time until one is answered.</summary>
    private async Task WaitAnsweredAsync(List<BenchReader> readers, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                await readers[0].SendAsync(clock.GetCurrentInstant()).WaitAsync(TimeSpan.FromMilliseconds(300), cancellationToken);
                return;
            }
            catch (TimeoutException)
            {
                // Not subscribed yet.
            }
        }

        throw new InvalidOperationException("The responder never answered.");
    }

    /// <summary>Open loop: events are sent on schedule whether or not earlier ones were answered.</summary>
    private async Task<Latencies> RunLoadAsync(string name, List<BenchReader> readers, int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var total = (int)(rate * duration.TotalSeconds);
        var pending = new Task<double>[total];
        var sentAt = new long[total];
        var clockStart = Stopwatch.GetTimestamp();
        void Send(int i)
        {
            sentAt[i] = Stopwatch.GetTimestamp();
            pending[i] = readers[i % readers.Count].SendAsync(clock.GetCurrentInstant());
        }

        if (Arrivals == Arrivals.Ticks)
        {
            var sent = 0;
            while (sent < total)
            {
                var due = Math.Min(total, (int)(Stopwatch.GetElapsedTime(clockStart).TotalSeconds * rate) + 1);
                while (sent < due)
                {
                    Send(sent++);
                }

                await Task.Delay(1, cancellationToken);
            }
        }
        else
        {
            await SendSchedule.RunAsync(SendSchedule.Plan(Arrivals, rate, total), Send, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested(); // as Task.Delay does for ticks: the events not sent have no task
        }

        var latencies = new List<double>(total);
        var bySecond = new List<List<double>>();
        for (var i = 0; i < pending.Length; i++)
        {
            try
            {
                var latency = await pending[i].WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
                latencies.Add(latency);
                var second = i / rate;
                while (bySecond.Count <= second)
                {
                    bySecond.Add([]);
                }

                bySecond[second].Add(latency);
            }
            catch (TimeoutException)
            {
                // Counted as lost: Received < Sent in the report.
            }
        }

        var seconds = Stopwatch.GetElapsedTime(clockStart).TotalSeconds;
        var result = new Latencies(name, latencies, total, seconds);
        await output.WriteLineAsync(string.Format(CultureInfo.InvariantCulture, "  {0,-16} {1,6} sent {2,6} answered  p50 {3:0.000} ms  p99 {4:0.000} ms  max {5:0.000} ms  {6}",
            name, result.Sent, result.Received, result.P50, result.P99, result.Max, Spacing(sentAt)));
        if (Timeline)
        {
            for (var second = 0; second < bySecond.Count; second++)
            {
                var part = new Latencies(name, bySecond[second], bySecond[second].Count, 1);
                await output.WriteLineAsync(string.Format(CultureInfo.InvariantCulture, "    second {0,3}: p50 {1:0.000}  p99 {2:0.000}  max {3:0.000} ms  over 3 ms: {4}",
                    second, part.P50, part.P99, part.Max, bySecond[second].Count(l => l > 3)));
            }
        }

        return result;
    }

    /// <summary>How the events actually left: the gaps between sends, and the share sent within 50 µs of the one before.</summary>
    private static string Spacing(long[] sentAt)
    {
        if (sentAt.Length < 2)
        {
            return "";
        }

        var gaps = new double[sentAt.Length - 1];
        for (var i = 1; i < sentAt.Length; i++)
        {
            gaps[i - 1] = (sentAt[i] - sentAt[i - 1]) * 1000.0 / Stopwatch.Frequency;
        }

        var together = gaps.Count(g => g < 0.05) * 100.0 / gaps.Length;
        Array.Sort(gaps);
        return string.Format(CultureInfo.InvariantCulture, "(gaps p50 {0:0.000} p99 {1:0.000} ms, {2:0}% within 50 us)",
            gaps[gaps.Length / 2], gaps[(int)(gaps.Length * 0.99)], together);
    }

    /// <summary>A reader: publishes card events, matches answers by eventId, reports each round trip in ms.</summary>
    private sealed class BenchReader : IAsyncDisposable
    {
        private readonly IMqttClient client;
        private readonly string readerId;
        private readonly Topics topics;
        private readonly ConcurrentDictionary<string, (long Started, TaskCompletionSource<double> Done)> pending = new();
        private long seq;

        private BenchReader(IMqttClient client, string readerId, Topics topics, ConcurrentQueue<LatencyBreakdown.Answered>? answered)
        {
            this.client = client;
            this.readerId = readerId;
            this.topics = topics;
            client.ApplicationMessageReceivedAsync += e =>
            {
                var received = Stopwatch.GetTimestamp();
                var eventId = EventIdOf(e.ApplicationMessage.Payload);
                if (eventId is not null && pending.TryRemove(eventId, out var entry))
                {
                    answered?.Enqueue(new LatencyBreakdown.Answered(readerId + "\t" + eventId, entry.Started, received));
                    entry.Done.TrySetResult(Stopwatch.GetElapsedTime(entry.Started, received).TotalMilliseconds);
                }

                return Task.CompletedTask;
            };
        }

        public static async Task<List<BenchReader>> ConnectAllAsync(IEnumerable<string> readerIds, int port, DeviceSecrets secrets, Topics topics, ConcurrentQueue<LatencyBreakdown.Answered>? answered)
        {
            var readers = new List<BenchReader>();
            foreach (var readerId in readerIds)
            {
                readers.Add(await ConnectAsync(readerId, port, secrets, topics, answered));
            }

            return readers;
        }

        public static async Task<BenchReader> ConnectAsync(string readerId, int port, DeviceSecrets secrets, Topics topics, ConcurrentQueue<LatencyBreakdown.Answered>? answered = null)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            var result = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port)
                .WithClientId(readerId).WithCredentials(readerId, secrets.For(readerId)).WithCleanSession(true).Build());
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new InvalidOperationException($"{readerId} could not connect: {result.ResultCode}");
            }

            await client.SubscribeAsync(topics.ReaderDecisions(readerId), MqttQualityOfServiceLevel.AtLeastOnce);
            return new BenchReader(client, readerId, topics, answered);
        }

        public Task<double> SendAsync(Instant at)
        {
            var n = Interlocked.Increment(ref seq);
            var eventId = $"b{Environment.ProcessId:x}-{n:x}";
            var done = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
            var payload = WireFormat.Write(new ReaderEvent(eventId, n, at, ReaderEventType.Card, Card, "desfire-ev3", false, null));
            pending[eventId] = (Stopwatch.GetTimestamp(), done);
            _ = client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topics.ReaderEvents(readerId)).WithPayload(payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            return done.Task;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await client.DisconnectAsync();
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // The broker went first (with the embedded broker it lives in the service, which has just stopped).
            }

            client.Dispose();
        }

        private static string? EventIdOf(System.Buffers.ReadOnlySequence<byte> payload)
        {
            var reader = new Utf8JsonReader(payload);
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("eventId"u8))
                {
                    reader.Read();
                    return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
            }

            return null;
        }
    }

    /// <summary>The floor's stand-in for the service: answers every reader event at once, nothing else.</summary>
    internal sealed class Echo : IAsyncDisposable
    {
        private readonly IMqttClient client;

        private Echo(IMqttClient client) => this.client = client;

        public static async Task<Echo> StartAsync(int port, DeviceSecrets secrets, Topics topics)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            await ConnectInServicePlaceAsync(client, port, secrets, topics, "echo", (readerId, payload) =>
                _ = client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topics.ReaderDecisions(readerId))
                    .WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()));
            return new Echo(client);
        }

        /// <summary>
        /// Connects <paramref name="client"/> as the service would (its username, QoS 1 on every reader's events) and hands
        /// each reader event to <paramref name="onReaderEvent"/> on the client's own task: the echoes' common part.
        /// </summary>
        internal static async Task ConnectInServicePlaceAsync(IMqttClient client, int port, DeviceSecrets secrets, Topics topics, string who,
            Action<string, System.Buffers.ReadOnlySequence<byte>> onReaderEvent)
        {
            client.ApplicationMessageReceivedAsync += e =>
            {
                var address = topics.Parse(e.ApplicationMessage.Topic);
                if (address.Kind == TopicKind.ReaderEvents)
                {
                    onReaderEvent(address.DeviceId, e.ApplicationMessage.Payload);
                }

                return Task.CompletedTask;
            };
            var result = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port)
                .WithClientId(DeviceSecrets.ServiceUsername).WithCredentials(DeviceSecrets.ServiceUsername, secrets.For(DeviceSecrets.ServiceUsername))
                .WithCleanSession(true).Build());
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new InvalidOperationException($"{who} could not connect: {result.ResultCode}");
            }

            await client.SubscribeAsync(topics.Root + "/readers/+/events", MqttQualityOfServiceLevel.AtLeastOnce);
        }

        public async ValueTask DisposeAsync()
        {
            await client.DisconnectAsync();
            client.Dispose();
        }
    }
}

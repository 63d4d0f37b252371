using System.Collections.Concurrent;
using AccessControl.Devices;
using AccessControl.EntryLog;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Readers;
using AccessControl.Lab.Bench;
using AccessControl.Protocol;
using AccessControl.SiteFiles;
using AccessControl.Storage;
using NodaTime;

namespace AccessControl.Lab.Chaos;

/// <summary>
/// A long run with faults (issue 5, item 2), as a repeatable harness outside the test suite: simulated readers present
/// cards while the broker (Mosquitto) is killed and restarted and the service process is killed with SIGKILL and
/// started again on the same data folder. At the end the service stops cleanly and the run checks, from the database
/// and the checkpoint file: every event a reader sent is in the log exactly once, every decision a reader heard has its
/// durable row with the same outcome, and the entry log's chain and signed checkpoints verify. Exit code 0 only then.
/// </summary>
public sealed class ChaosCommand(IClock clock, TimeProvider time, TextWriter output)
{
    private static readonly string[] ReaderIds = ["rdr-lobby-in", "rdr-lobby-out", "rdr-dh1-in", "rdr-dh1-out"];

    public async Task<int> RunAsync(int events, int brokerRestarts, int serviceKills, CancellationToken cancellationToken)
    {
        var directory = Directory.CreateTempSubdirectory("aclab-chaos-").FullName;
        var siteFile = Path.Combine(AppContext.BaseDirectory, "sites", "demo.yaml");
        var topology = SiteFileLoader.Load(siteFile).Site!.Topology;
        var key = DeviceSecrets.NewKey();
        await File.WriteAllTextAsync(Path.Combine(directory, "provisioning.key"), Convert.ToBase64String(key), cancellationToken);
        var secrets = new DeviceSecrets(key);
        await using var broker = await BenchBroker.StartAsync("mosquitto", topology, secrets, new Topics(), clock, directory);
        var serviceArgs = new[] { "run", "--site", siteFile, "--data", directory, "--external-broker", $"127.0.0.1:{broker.Port}", "--http", "http://127.0.0.1:0" };
        var service = await ChildProcess.StartAsync("accesscontrol.dll", serviceArgs, "AccessControl edge running");
        var options = new DeviceOptions
        {
            Broker = new BrokerEndpoint("127.0.0.1", broker.Port),
            ResendInterval = TimeSpan.FromMilliseconds(500),
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromSeconds(1),
            MaxResends = 1_000_000,
        };
        var readers = ReaderIds.Select(id => new CardReader(id, options, secrets, clock, time, new CardReaderOptions { HeartbeatInterval = TimeSpan.FromSeconds(30) })).ToList();
        foreach (var reader in readers)
        {
            await reader.StartAsync(cancellationToken);
        }

        output.WriteLine($"chaos: {events} events from {readers.Count} readers, {brokerRestarts} broker restarts (Mosquitto, SIGKILL), {serviceKills} service kills (SIGKILL); data {directory}");
        var heard = new ConcurrentBag<(string Reader, string EventId, DecisionMessage Decision)>();
        var answered = 0;
        var perReader = events / readers.Count;
        var swipes = readers.Select(reader => Task.Run(async () =>
        {
            for (var i = 0; i < perReader; i++)
            {
                var pending = reader.PresentCard(i % 10 == 9 ? "04FFFFFFFFFF01" : "04A1B2C3D4E5F6", "desfire-ev3");
                heard.Add((reader.ReaderId, pending.EventId, await pending.Decision.WaitAsync(TimeSpan.FromMinutes(5), cancellationToken)));
                Interlocked.Increment(ref answered);
            }
        }, cancellationToken)).ToList();

        // The faults, spread over the run: at evenly spaced fractions of the events answered.
        var faults = Enumerable.Range(0, brokerRestarts).Select(_ => "broker").Concat(Enumerable.Range(0, serviceKills).Select(_ => "service"))
            .OrderBy(f => f == "service" ? 1 : 0).ToList();
        var interleaved = faults.Select((f, i) => (f, i)).OrderBy(x => x.i % 2 == 0 ? x.i : x.i + faults.Count).Select(x => x.f).ToList();
        for (var n = 0; n < interleaved.Count; n++)
        {
            var threshold = (n + 1) * perReader * readers.Count / (interleaved.Count + 1);
            while (Volatile.Read(ref answered) < threshold)
            {
                await Task.Delay(50, cancellationToken);
            }

            if (interleaved[n] == "broker")
            {
                await broker.RestartAsync(TimeSpan.FromSeconds(2));
                output.WriteLine($"  {Volatile.Read(ref answered),6} answered: broker killed, restarted 2 s later");
            }
            else
            {
                await service.KillAsync();
                await service.DisposeAsync();
                service = await ChildProcess.StartAsync("accesscontrol.dll", serviceArgs, "AccessControl edge running");
                output.WriteLine($"  {Volatile.Read(ref answered),6} answered: service killed (SIGKILL), started again");
            }
        }

        await Task.WhenAll(swipes);
        await service.StopAsync();
        await service.DisposeAsync();
        foreach (var reader in readers)
        {
            await reader.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var database = new Database(Path.Combine(directory, "accesscontrol.db"));
        var rows = new List<LogEntry>();
        for (long after = 0; ;)
        {
            var page = new EntryLogQuery(database).Find(new LogFilter { Kind = LogKinds.Access, AfterSeq = after, Limit = EntryLogQuery.MaxLimit });
            rows.AddRange(page);
            if (page.Count < EntryLogQuery.MaxLimit)
            {
                break;
            }

            after = page[^1].Seq;
        }

        var byEvent = rows.Where(r => r.EventId is not null).GroupBy(r => (r.ReaderId, r.EventId)).ToDictionary(g => g.Key, g => g.ToList());
        var missing = heard.Count(h => !byEvent.ContainsKey((h.Reader, h.EventId)));
        var twice = byEvent.Count(e => e.Value.Count > 1);
        var mismatched = heard.Count(h => byEvent.TryGetValue((h.Reader, h.EventId), out var r) && r[0].Decision != (h.Decision.Grant ? "grant" : "deny"));
        var verification = new LogVerifier(database).Verify();
        output.WriteLine($"sent {perReader * readers.Count}, answered {heard.Count}, rows {rows.Count} ({rows.Count(r => r.Offline)} offline replays, {rows.Count(r => r.Decision == "grant")} grants)");
        output.WriteLine($"missing from the log {missing}, logged twice {twice}, heard a decision other than the logged one {mismatched}");
        output.WriteLine($"chain: {(verification.Ok ? "OK" : "BROKEN " + verification.FirstBroken)}, {verification.Rows} rows, {verification.CheckpointsMatched} checkpoints matched");
        var ok = heard.Count == perReader * readers.Count && missing == 0 && twice == 0 && mismatched == 0 && verification.Ok;
        output.WriteLine(ok ? "chaos: PASS" : "chaos: FAIL");
        if (ok)
        {
            Directory.Delete(directory, recursive: true);
        }

        return ok ? 0 : 1;
    }
}

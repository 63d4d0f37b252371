using System.Collections.Concurrent;
using AccessControl.Devices;
using AccessControl.EntryLog;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Readers;
using AccessControl.Lab.Bench;
using AccessControl.Protocol;
using AccessControl.SiteFiles;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// Issue 5, item 2: the service killed with SIGKILL in the middle of a run, and started again on the same data folder,
/// while the readers keep presenting cards (Mosquitto keeps the readers connected meanwhile). Afterwards every reader
/// event is in the log exactly once, no reader ever heard a grant that has no durable row, and the chain verifies.
/// </summary>
[Collection(ChaosCollection.Name)]
public class ServiceKillTests
{
    private static readonly string[] ReaderIds = ["rdr-lobby-in", "rdr-lobby-out", "rdr-dh1-in", "rdr-dh1-out"];

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    [Trait("control", "PCI-10.2")]
    public async Task ServiceKilledMidRun_EveryEventIsLoggedOnce_NoGrantWithoutARow_AndTheChainVerifies()
    {
        var directory = Directory.CreateTempSubdirectory("ac-chaos-").FullName;
        var key = DeviceSecrets.NewKey();
        await File.WriteAllTextAsync(Path.Combine(directory, "provisioning.key"), Convert.ToBase64String(key));
        var secrets = new DeviceSecrets(key);
        var topology = SiteFileLoader.Load(EdgeHarness.DemoSiteFile).Site!.Topology;
        await using var mosquitto = await MosquittoProcess.StartAsync(topology, secrets, new Topics());
        var clock = new WallClock(RealTime.Instance);
        var options = new DeviceOptions
        {
            Broker = new BrokerEndpoint("127.0.0.1", mosquitto.Port),
            ResendInterval = TimeSpan.FromMilliseconds(500),
            ConnectionCheckInterval = TimeSpan.FromMilliseconds(200),
            ReconnectDelay = TimeSpan.FromMilliseconds(50),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(500),
            MaxResends = 1000,
        };
        var readers = ReaderIds.Select(id => new CardReader(id, options, secrets, clock, RealTime.Instance, new CardReaderOptions { HeartbeatInterval = TimeSpan.FromDays(1) })).ToList();
        var heard = new ConcurrentBag<(string Reader, string EventId, DecisionMessage Decision)>();
        const int PerReader = 60;
        try
        {
            var service = await StartServiceAsync(directory, mosquitto.Port);
            foreach (var reader in readers)
            {
                await reader.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }

            var answered = 0;
            var killAt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var swipes = readers.Select(reader => Task.Run(async () =>
            {
                for (var i = 0; i < PerReader; i++)
                {
                    var pending = reader.PresentCard(DemoCards.Operator, DemoCards.Ev3);
                    var decision = await pending.Decision.WaitAsync(TimeSpan.FromSeconds(120));
                    heard.Add((reader.ReaderId, pending.EventId, decision));
                    if (Interlocked.Increment(ref answered) == PerReader * ReaderIds.Length / 3)
                    {
                        killAt.TrySetResult();
                    }
                }
            })).ToList();

            await killAt.Task.WaitAsync(TimeSpan.FromSeconds(120));
            await service.KillAsync();
            await service.DisposeAsync();
            service = await StartServiceAsync(directory, mosquitto.Port);
            await Task.WhenAll(swipes).WaitAsync(TimeSpan.FromSeconds(240));
            await service.StopAsync();
            await service.DisposeAsync();

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            var database = new Database(Path.Combine(directory, "accesscontrol.db"));
            var rows = new EntryLogQuery(database).Find(new LogFilter { Kind = LogKinds.Access, Limit = 10_000 });
            var byEvent = rows.Where(r => r.EventId is not null).GroupBy(r => (r.ReaderId, r.EventId)).ToDictionary(g => g.Key, g => g.ToList());
            var verification = new LogVerifier(database).Verify();

            Assert.Equal(PerReader * ReaderIds.Length, heard.Count);
            Assert.All(heard, h =>
            {
                Assert.True(byEvent.TryGetValue((h.Reader, h.EventId), out var logged), $"{h.Reader}/{h.EventId} was answered but is not in the log");
                var row = Assert.Single(logged);
                Assert.Equal(h.Decision.Grant ? "grant" : "deny", row.Decision);
            });
            Assert.Equal(heard.Count, byEvent.Count);
            Assert.True(verification.Ok, $"chain: {verification.FirstBroken} {string.Join("; ", verification.CheckpointProblems)}");
        }
        finally
        {
            foreach (var reader in readers)
            {
                await reader.DisposeAsync();
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The service (<c>accesscontrol run</c>) as a process of its own, connected to the test's Mosquitto.</summary>
    private static Task<ChildProcess> StartServiceAsync(string directory, int brokerPort) =>
        ChildProcess.StartAsync("accesscontrol.dll",
            ["run", "--site", EdgeHarness.DemoSiteFile, "--data", directory, "--external-broker", $"127.0.0.1:{brokerPort}", "--http", "http://127.0.0.1:0"],
            "AccessControl edge running");
}

/// <summary>Chaos tests start and kill whole service processes: they run alone, not beside tests that wait on real time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosCollection
{
    public const string Name = "chaos";
}

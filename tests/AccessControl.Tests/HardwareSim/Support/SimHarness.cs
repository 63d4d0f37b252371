using System.Collections.Concurrent;
using AccessControl.Devices;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Readers;
using NodaTime;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim.Support;

/// <summary>
/// One test's world: a real broker, a test service, a manual clock and the devices made for the test,
/// all torn down together. Device logs are printed to the test output at the end.
/// </summary>
public sealed class SimHarness : IAsyncDisposable
{
    public static readonly Instant Start = Instant.FromUtc(2026, 11, 28, 9, 15, 2);

    private readonly ITestOutputHelper output;
    private readonly List<SimulatedDevice> devices = [];
    private readonly ConcurrentQueue<string> log = new();

    private SimHarness(ITestOutputHelper output, TestBroker broker, TestService service)
    {
        this.output = output;
        Broker = broker;
        Service = service;
        Options = new DeviceOptions
        {
            SeqFromClock = false,
            Broker = broker.Endpoint,
            ReconnectDelay = TimeSpan.FromSeconds(1),
            MaxReconnectDelay = TimeSpan.FromSeconds(1),
            ConnectionCheckInterval = TimeSpan.FromSeconds(5),
            ResendInterval = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(30),
            Log = line => log.Enqueue($"{Time.GetCurrentInstant()} {line}"),
        };
    }

    public ManualTimeProvider Time { get; } = new(Start);

    public TestBroker Broker { get; }

    public TestService Service { get; private set; }

    public DeviceSecrets Secrets => Broker.Secrets;

    public DeviceOptions Options { get; }

    public static async Task<SimHarness> StartAsync(ITestOutputHelper output)
    {
        var broker = await TestBroker.StartAsync(new DeviceSecrets(DeviceSecrets.NewKey()));
        var service = await TestService.ConnectAsync(broker);
        return new SimHarness(output, broker, service);
    }

    public CardReader Reader(string id, DeviceSecrets? secrets = null) =>
        Track(new CardReader(id, Options, secrets ?? Secrets, Time, Time, new CardReaderOptions { HeartbeatInterval = TimeSpan.Zero }));

    public FingerprintReader FingerprintReader(string id, FingerprintReaderOptions? readerOptions = null) =>
        Track(new FingerprintReader(id, Options, Secrets, Time, Time, readerOptions ?? new FingerprintReaderOptions { HeartbeatInterval = TimeSpan.Zero, Seed = 42 }));

    public DoorController Controller(string id, IEnumerable<string> doors, DoorControllerOptions? doorOptions = null) =>
        Track(new DoorController(id, doors, Options, Secrets, Time, Time, doorOptions ?? new DoorControllerOptions { OpenDelay = TimeSpan.Zero }));

    public T Track<T>(T device)
        where T : SimulatedDevice
    {
        devices.Add(device);
        return device;
    }

    /// <summary>Replaces the test service with a new connection (after a broker restart), keeping its answer policy.</summary>
    public async Task ReconnectServiceAsync()
    {
        var answer = Service.Answer;
        await Service.DisposeAsync();
        Service = await TestService.ConnectAsync(Broker);
        Service.Answer = answer;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var device in devices)
        {
            await device.DisposeAsync();
        }

        await Service.DisposeAsync();
        await Broker.DisposeAsync();
        while (log.TryDequeue(out var line))
        {
            output.WriteLine(line);
        }
    }
}

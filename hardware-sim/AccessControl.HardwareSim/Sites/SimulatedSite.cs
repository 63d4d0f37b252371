using AccessControl.Devices;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Readers;
using AccessControl.Sites;
using DoorController = AccessControl.HardwareSim.Doors.DoorController;
using NodaTime;

namespace AccessControl.HardwareSim.Sites;

/// <summary>
/// All the simulated hardware of a site: one <see cref="CardReader"/> per card reader, one
/// <see cref="FingerprintReader"/> per fingerprint reader and one <see cref="Doors.DoorController"/> per door
/// controller, each its own MQTT client, started and stopped together.
/// </summary>
public sealed class SimulatedSite : IAsyncDisposable
{
    private readonly Dictionary<string, DoorController> controllerOfDoor = new(StringComparer.Ordinal);

    public SimulatedSite(
        DeviceLayout layout,
        DeviceOptions options,
        DeviceSecrets secrets,
        IClock clock,
        TimeProvider time,
        CardReaderOptions? readerOptions = null,
        DoorControllerOptions? doorOptions = null,
        FingerprintReaderOptions? fingerprintOptions = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var defaults = readerOptions ?? new CardReaderOptions();
        var fingerprintDefaults = fingerprintOptions ?? new FingerprintReaderOptions();
        var controllerDefaults = doorOptions ?? new DoorControllerOptions();
        Readers = layout.Readers.Where(r => r.Kind == ReaderKind.Card).ToDictionary(
            r => r.ReaderId,
            r => new CardReader(r.ReaderId, options, secrets, clock, time, r.HeartbeatInterval is { } beat ? defaults with { HeartbeatInterval = beat } : defaults),
            StringComparer.Ordinal);
        FingerprintReaders = layout.Readers.Where(r => r.Kind == ReaderKind.Fingerprint).ToDictionary(
            r => r.ReaderId,
            r => new FingerprintReader(r.ReaderId, options, secrets, clock, time, r.HeartbeatInterval is { } beat ? fingerprintDefaults with { HeartbeatInterval = beat } : fingerprintDefaults),
            StringComparer.Ordinal);
        Controllers = layout.Controllers.ToDictionary(
            c => c.ControllerId,
            c => new DoorController(c.ControllerId, c.DoorIds, options, secrets, clock, time, c.HeartbeatInterval is { } beat ? controllerDefaults with { HeartbeatInterval = beat } : controllerDefaults),
            StringComparer.Ordinal);
        foreach (var controller in Controllers.Values)
        {
            foreach (var door in controller.DoorIds)
            {
                if (!controllerOfDoor.TryAdd(door, controller))
                {
                    throw new ArgumentException($"Door '{door}' is driven by both '{controllerOfDoor[door].ControllerId}' and '{controller.ControllerId}'.", nameof(layout));
                }
            }
        }
    }

    /// <summary>Simulates the card readers and door controllers of <paramref name="topology"/> (optionally one site of it).</summary>
    public static SimulatedSite FromTopology(
        SiteTopology topology,
        DeviceOptions options,
        DeviceSecrets secrets,
        IClock clock,
        TimeProvider time,
        SiteId? site = null,
        CardReaderOptions? readerOptions = null,
        DoorControllerOptions? doorOptions = null,
        FingerprintReaderOptions? fingerprintOptions = null) =>
        new(DeviceLayout.FromTopology(topology, site), options, secrets, clock, time, readerOptions, doorOptions, fingerprintOptions);

    /// <summary>Card readers by reader id.</summary>
    public IReadOnlyDictionary<string, CardReader> Readers { get; }

    /// <summary>Fingerprint readers by reader id.</summary>
    public IReadOnlyDictionary<string, FingerprintReader> FingerprintReaders { get; }

    /// <summary>Door controllers by controller id.</summary>
    public IReadOnlyDictionary<string, DoorController> Controllers { get; }

    public IEnumerable<SimulatedDevice> Devices => Readers.Values.Cast<SimulatedDevice>().Concat(FingerprintReaders.Values).Concat(Controllers.Values);

    public bool TryGetReader(string readerId, out CardReader reader) => Readers.TryGetValue(readerId, out reader!);

    public bool TryGetFingerprintReader(string readerId, out FingerprintReader reader) => FingerprintReaders.TryGetValue(readerId, out reader!);

    /// <summary>The controller that drives a door.</summary>
    public bool TryGetControllerOf(string doorId, out DoorController controller) => controllerOfDoor.TryGetValue(doorId, out controller!);

    /// <summary>Starts every device and waits until all are online.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) =>
        Task.WhenAll(Devices.Select(d => d.StartAsync(cancellationToken)));

    /// <summary>Stops every device cleanly (offline status, MQTT DISCONNECT).</summary>
    public Task StopAsync() => Task.WhenAll(Devices.Select(d => d.StopAsync()));

    public async ValueTask DisposeAsync()
    {
        foreach (var device in Devices)
        {
            await device.DisposeAsync();
        }
    }
}

using System.Collections.Immutable;
using AccessControl.Devices;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Sites;
using AccessControl.Sites;
using AccessControl.Tests.HardwareSim.Support;
using NodaTime;

namespace AccessControl.Tests.HardwareSim;

public class SimulatedSiteTests
{
    [Fact]
    public async Task FromTopology_SimulatesEachReaderAndEachControllerWithItsDoors()
    {
        var site = new SiteId("demo");
        var hall = new ZoneId("dh1");
        var topology = new SiteTopology(
            [new Site(site, "Demo", DateTimeZone.Utc)],
            [new Zone(hall, site, "Data hall 1", ZoneKind.DataHall, null, 2, AntiPassbackMode.Off, [])],
            [
                Door("door-lobby", site, hall, "ctl-lobby"),
                Door("door-dh1", site, hall, "ctl-dh1"),
                Door("door-dh1-b", site, hall, "ctl-dh1"),
            ],
            [
                new Reader(new ReaderId("rdr-dh1-in"), ReaderKind.Card, new DoorId("door-dh1"), Direction.In, Duration.FromSeconds(10)),
                new Reader(new ReaderId("fp-dh1-in"), ReaderKind.Fingerprint, new DoorId("door-dh1"), Direction.In, Duration.FromSeconds(10)),
                new Reader(new ReaderId("rdr-lobby-in"), ReaderKind.Card, new DoorId("door-lobby"), Direction.In, Duration.FromSeconds(30)),
            ],
            [
                new AccessControl.Sites.DoorController(new ControllerId("ctl-lobby"), site, "Lobby"),
                new AccessControl.Sites.DoorController(new ControllerId("ctl-dh1"), site, "Hall 1") { HeartbeatInterval = Duration.FromSeconds(20) },
                new AccessControl.Sites.DoorController(new ControllerId("ctl-spare"), site, "Spare, no doors"),
            ],
            []);
        var time = new ManualTimeProvider(Instant.FromUtc(2026, 1, 1, 0, 0));

        await using var simulated = SimulatedSite.FromTopology(topology, new DeviceOptions(), new DeviceSecrets(DeviceSecrets.NewKey()), time, time);

        Assert.Equal(["rdr-dh1-in", "rdr-lobby-in"], simulated.Readers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["fp-dh1-in"], simulated.FingerprintReaders.Keys);
        Assert.True(simulated.TryGetFingerprintReader("fp-dh1-in", out _));
        Assert.Equal(5, simulated.Devices.Count());
        Assert.Equal(["ctl-dh1", "ctl-lobby"], simulated.Controllers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["door-dh1", "door-dh1-b"], simulated.Controllers["ctl-dh1"].DoorIds);
        Assert.True(simulated.TryGetControllerOf("door-dh1-b", out var controller));
        Assert.Equal("ctl-dh1", controller.ControllerId);
        Assert.Equal(
            [("ctl-dh1", TimeSpan.FromSeconds(20)), ("ctl-lobby", (TimeSpan?)null)],
            DeviceLayout.FromTopology(topology).Controllers.Select(c => (c.ControllerId, c.HeartbeatInterval)));
    }

    private static Door Door(string id, SiteId site, ZoneId to, string controller) =>
        new(new DoorId(id), site, id, null, to, new ControllerId(controller), Duration.FromSeconds(5), Duration.FromSeconds(30));
}

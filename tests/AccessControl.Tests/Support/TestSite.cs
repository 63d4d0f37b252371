using System.Collections.Immutable;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Tests.Support;

/// <summary>
/// A small site for broker and protocol tests: one building with a main entrance and a data hall.
/// The main controller drives one door; the hall controller drives two, so "the doors it drives" is more than one.
/// </summary>
public static class TestSite
{
    public const string MainEntrance = "door-main";
    public const string HallDoor = "door-hall-a";
    public const string HallEmergencyExit = "door-hall-a-exit";

    public const string MainController = "ctl-main";
    public const string HallController = "ctl-hall-a";

    public const string MainReaderIn = "rdr-main-in";
    public const string MainReaderOut = "rdr-main-out";
    public const string HallReaderIn = "rdr-hall-a-in";

    /// <summary>A fixed provisioning key, so failures are reproducible.</summary>
    public static DeviceSecrets Secrets { get; } = new(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public static Topics Topics { get; } = new();

    public static SiteTopology Topology { get; } = Build();

    public static SiteTopology Build(params Reader[] extraReaders)
    {
        var site = new SiteId("dc1");
        var campus = new ZoneId("dc1");
        var hall = new ZoneId("dc1-hall-a");
        var unlock = Duration.FromSeconds(5);
        var held = Duration.FromSeconds(30);
        var heartbeat = Duration.FromSeconds(30);
        return new SiteTopology(
            [new Site(site, "Datacenter 1", DateTimeZone.Utc)],
            [
                new Zone(campus, site, "Campus", ZoneKind.Site, null, 1, AntiPassbackMode.Off, []),
                new Zone(hall, site, "Data hall A", ZoneKind.DataHall, campus, 3, AntiPassbackMode.Hard, []),
            ],
            [
                new Door(new DoorId(MainEntrance), site, "Main entrance", null, campus, new ControllerId(MainController), unlock, held),
                new Door(new DoorId(HallDoor), site, "Hall A door", campus, hall, new ControllerId(HallController), unlock, held),
                new Door(new DoorId(HallEmergencyExit), site, "Hall A emergency exit", campus, hall, new ControllerId(HallController), unlock, held),
            ],
            [
                new Reader(new ReaderId(MainReaderIn), ReaderKind.Card, new DoorId(MainEntrance), Direction.In, heartbeat),
                new Reader(new ReaderId(MainReaderOut), ReaderKind.Card, new DoorId(MainEntrance), Direction.Out, heartbeat),
                new Reader(new ReaderId(HallReaderIn), ReaderKind.Fingerprint, new DoorId(HallDoor), Direction.In, heartbeat),
                .. extraReaders,
            ],
            [
                new DoorController(new ControllerId(MainController), site, "Main entrance controller"),
                new DoorController(new ControllerId(HallController), site, "Hall A controller"),
            ],
            []);
    }

    /// <summary>A reader on the main entrance that is not in <see cref="Topology"/> until a test adds it.</summary>
    public static Reader NewReader(string id) =>
        new(new ReaderId(id), ReaderKind.Card, new DoorId(MainEntrance), Direction.In, Duration.FromSeconds(30));
}

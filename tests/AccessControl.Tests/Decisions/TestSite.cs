using AccessControl.Decisions;
using AccessControl.People;
using AccessControl.Schedules;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Tests.Decisions;

/// <summary>
/// One small site in Berlin, built in code:
/// outside --gate--> campus (anti-passback off, any technology)
///          campus --hall door--> hall-a (hard anti-passback, DESFire EV3 only, office hours)
///          hall-a --cage door--> cage-7 (soft anti-passback, always)
///          hall-a --vault door--> vault (escort-required: 10 s, 3 people per escort)
/// Alice holds every level with a DESFire card; tests derive variations with the <c>With</c> helpers.
/// </summary>
internal static class TestSite
{
    public static readonly SiteId Dc1 = new("dc1");
    public static readonly DateTimeZone Berlin = DateTimeZoneProviders.Tzdb["Europe/Berlin"];

    public static readonly ZoneId Campus = new("dc1-campus");
    public static readonly ZoneId HallA = new("dc1-hall-a");
    public static readonly ZoneId Cage7 = new("dc1-cage-7");
    public static readonly ZoneId Vault = new("dc1-vault");

    public static readonly DoorId Gate = new("dc1-gate");
    public static readonly DoorId HallDoor = new("dc1-hall-a-door");
    public static readonly DoorId CageDoor = new("dc1-cage-7-door");
    public static readonly DoorId VaultDoor = new("dc1-vault-door");
    public static readonly DoorId DoorOfUnknownSite = new("dc9-door");
    public static readonly DoorId DoorIntoUnknownZone = new("dc1-door-nowhere");

    public static readonly ReaderId GateIn = new("rdr-gate-in");
    public static readonly ReaderId GateOut = new("rdr-gate-out");
    public static readonly ReaderId HallIn = new("rdr-hall-a-in");
    public static readonly ReaderId HallOut = new("rdr-hall-a-out");
    public static readonly ReaderId HallFingerprint = new("fpr-hall-a-in");
    public static readonly ReaderId CageIn = new("rdr-cage-7-in");
    public static readonly ReaderId CageOut = new("rdr-cage-7-out");
    public static readonly ReaderId VaultIn = new("rdr-vault-in");
    public static readonly ReaderId VaultOut = new("rdr-vault-out");
    public static readonly ReaderId ReaderOnMissingDoor = new("rdr-dangling");
    public static readonly ReaderId ReaderOfUnknownSite = new("rdr-dc9");
    public static readonly ReaderId ReaderIntoUnknownZone = new("rdr-nowhere");

    public static readonly ControllerId Controller = new("dc1-ctl-1");

    public static readonly ScheduleId OfficeHours = new("office-hours");

    public static readonly AccessLevelId CampusAlways = new("campus-always");
    public static readonly AccessLevelId HallOfficeHours = new("hall-a-office-hours");
    public static readonly AccessLevelId CageAlways = new("cage-7-always");

    public static readonly PersonId Alice = new("p-alice");
    public const string AliceCard = "04A1B2C3D4E5F6";
    public const string Desfire = "desfire-ev3";
    public const string Mifare = "mifare-classic";

    public static readonly Duration GateUnlock = Duration.FromSeconds(3);
    public static readonly Duration HallUnlock = Duration.FromSeconds(5);
    public static readonly Duration CageUnlock = Duration.FromSeconds(7);

    /// <summary>Wednesday 2026-11-25 10:00 in Berlin (CET, UTC+1): inside office hours.</summary>
    public static readonly Instant WorkingHours = Instant.FromUtc(2026, 11, 25, 9, 0);

    /// <summary>Saturday 2026-11-28 10:00 in Berlin: outside office hours.</summary>
    public static readonly Instant Saturday = Instant.FromUtc(2026, 11, 28, 9, 0);

    public static SiteTopology Topology { get; } = new(
        [new Site(Dc1, "DC1 Berlin", Berlin)],
        [
            NewZone(Campus, ZoneKind.Site, null, AntiPassbackMode.Off),
            NewZone(HallA, ZoneKind.DataHall, Campus, AntiPassbackMode.Hard, Desfire),
            NewZone(Cage7, ZoneKind.ServerRoom, HallA, AntiPassbackMode.Soft),
            NewZone(Vault, ZoneKind.ServerRoom, HallA, AntiPassbackMode.Off) with { Escort = EscortPolicy.Default },
            new Zone(new ZoneId("dc9-lobby"), new SiteId("dc9"), "Lobby of a site not loaded", ZoneKind.Area, null, 1, AntiPassbackMode.Off, []),
        ],
        [
            NewDoor(Gate, null, Campus, GateUnlock),
            NewDoor(HallDoor, Campus, HallA, HallUnlock),
            NewDoor(CageDoor, HallA, Cage7, CageUnlock),
            NewDoor(VaultDoor, HallA, Vault, CageUnlock),
            new Door(DoorOfUnknownSite, new SiteId("dc9"), "Door of a site not loaded", null, new ZoneId("dc9-lobby"), Controller, HallUnlock, Duration.FromSeconds(30)),
            NewDoor(DoorIntoUnknownZone, Campus, new ZoneId("dc1-not-configured"), HallUnlock),
        ],
        [
            NewReader(GateIn, Gate, Direction.In),
            NewReader(GateOut, Gate, Direction.Out),
            NewReader(HallIn, HallDoor, Direction.In),
            NewReader(HallOut, HallDoor, Direction.Out),
            new Reader(HallFingerprint, ReaderKind.Fingerprint, HallDoor, Direction.In, Duration.FromSeconds(30)),
            NewReader(CageIn, CageDoor, Direction.In),
            NewReader(CageOut, CageDoor, Direction.Out),
            NewReader(VaultIn, VaultDoor, Direction.In),
            NewReader(VaultOut, VaultDoor, Direction.Out),
            NewReader(ReaderOnMissingDoor, new DoorId("dc1-door-removed"), Direction.In),
            NewReader(ReaderOfUnknownSite, DoorOfUnknownSite, Direction.In),
            NewReader(ReaderIntoUnknownZone, DoorIntoUnknownZone, Direction.In),
        ],
        [new DoorController(Controller, Dc1, "Controller 1")],
        [
            new Schedule(
                OfficeHours,
                "Mon-Fri 07:00-19:00",
                [.. new[] { IsoDayOfWeek.Monday, IsoDayOfWeek.Tuesday, IsoDayOfWeek.Wednesday, IsoDayOfWeek.Thursday, IsoDayOfWeek.Friday }
                    .Select(d => new WeeklyInterval(d, new TimeOfDayRange(new LocalTime(7, 0), new LocalTime(19, 0))))],
                [],
                []) { Site = Dc1 },
        ]);

    public static Person AlicePerson { get; } = new(Alice, "Alice", PersonKind.Employee, PersonStatus.Active, [CampusAlways, HallOfficeHours, CageAlways]);

    public static Credential AliceCredential { get; } = new(AliceCard, Desfire, Alice, null, null, CredentialStatus.Active);

    public static Cardholders Holders { get; } = Cardholders.Create(
        [AlicePerson],
        [AliceCredential],
        [
            new AccessLevel(CampusAlways, "Campus, always", [Campus], ScheduleId.Always),
            new AccessLevel(HallOfficeHours, "Hall A, office hours", [HallA], OfficeHours),
            new AccessLevel(CageAlways, "Cage 7, always", [Cage7], ScheduleId.Always),
        ]);

    /// <summary>Alice's card at a reader, reporting the enrolled technology unless told otherwise.</summary>
    public static AccessRequest Swipe(ReaderId reader, Instant? at = null, string card = AliceCard, string technology = Desfire) =>
        new(reader, card, technology, at ?? WorkingHours);

    public static AccessDecision Decide(in AccessRequest request, Cardholders? cardholders = null, PassbackState? passback = null, EscortState? escorts = null) =>
        DecisionEngine.Decide(request, Topology, cardholders ?? Holders, passback ?? PassbackState.Empty, escorts ?? EscortState.Empty);

    /// <summary>Cardholders where Alice's person record is changed.</summary>
    public static Cardholders WithAlice(Func<Person, Person> change) => Holders.With(change(AlicePerson));

    /// <summary>Cardholders where Alice's credential is changed.</summary>
    public static Cardholders WithAliceCredential(Func<Credential, Credential> change) => Holders.With(change(AliceCredential));

    private static Zone NewZone(ZoneId id, ZoneKind kind, ZoneId? parent, AntiPassbackMode antiPassback, params string[] technologies) =>
        new(id, Dc1, id.Value, kind, parent, 1, antiPassback, [.. technologies]);

    private static Door NewDoor(DoorId id, ZoneId? from, ZoneId to, Duration unlockFor) =>
        new(id, Dc1, id.Value, from, to, Controller, unlockFor, Duration.FromSeconds(30));

    private static Reader NewReader(ReaderId id, DoorId door, Direction direction) =>
        new(id, ReaderKind.Card, door, direction, Duration.FromSeconds(30));
}

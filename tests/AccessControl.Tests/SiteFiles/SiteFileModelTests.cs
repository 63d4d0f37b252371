using AccessControl.People;
using AccessControl.Schedules;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.SiteFiles.SiteFileText;

namespace AccessControl.Tests.SiteFiles;

/// <summary>What a valid file turns into: every declared value arrives in the model, defaults fill the rest.</summary>
public class SiteFileModelTests
{
    private static readonly AccessControl.SiteFiles.SiteDefinition Site = Parse(Valid).Site!;

    [Fact]
    public void Parse_Site_HasItsIdNameAndTimeZone()
    {
        var site = Assert.Single(Site.Topology.Sites.Values);

        Assert.Equal(new SiteId("fra1"), site.Id);
        Assert.Equal("Frankfurt 1", site.Name);
        Assert.Equal(DateTimeZoneProviders.Tzdb["Europe/Berlin"], site.TimeZone);
    }

    [Fact]
    public void Parse_Zones_KeepContainmentAntiPassbackAndTechnologies()
    {
        var zones = Site.Topology.Zones;

        Assert.Equal(3, zones.Count);
        Assert.Equal(new Zone(new ZoneId("campus"), new SiteId("fra1"), "Campus", ZoneKind.Site, null, 1, AntiPassbackMode.Off, []), zones[new ZoneId("campus")] with { AllowedTechnologies = [] });
        Assert.Equal(new ZoneId("campus"), zones[new ZoneId("bldg")].Parent);
        Assert.Equal(AntiPassbackMode.Soft, zones[new ZoneId("bldg")].AntiPassback);
        var hall = zones[new ZoneId("hall")];
        Assert.Equal(ZoneKind.DataHall, hall.Kind);
        Assert.Equal(AntiPassbackMode.Hard, hall.AntiPassback);
        Assert.Equal(3, hall.SecurityLevel);
        Assert.Equal(["desfire-ev3"], hall.AllowedTechnologies);
        Assert.True(zones[new ZoneId("bldg")].AllowedTechnologies.IsEmpty);
    }

    [Fact]
    public void Parse_Doors_UseDeclaredDurationsOrTheDefaults()
    {
        var lobby = Site.Topology.Doors[new DoorId("door-lobby")];
        var hall = Site.Topology.Doors[new DoorId("door-hall")];

        Assert.Null(lobby.From);
        Assert.Equal(new ZoneId("bldg"), lobby.To);
        Assert.Equal(new ControllerId("ctl-lobby"), lobby.Controller);
        Assert.Equal(Duration.FromSeconds(5), lobby.UnlockFor);
        Assert.Equal(Duration.FromSeconds(30), lobby.HeldOpenAfter);
        Assert.Equal(new ZoneId("bldg"), hall.From);
        Assert.Equal(Duration.FromSeconds(7), hall.UnlockFor);
        Assert.Equal(Duration.FromSeconds(45), hall.HeldOpenAfter);
    }

    [Fact]
    public void Parse_ReadersAndControllers_AreDeclaredAsWritten()
    {
        var topology = Site.Topology;

        Assert.Equal(
            new Reader(new ReaderId("rdr-lobby-in"), ReaderKind.Card, new DoorId("door-lobby"), Direction.In, Duration.FromSeconds(30)),
            topology.Readers[new ReaderId("rdr-lobby-in")]);
        Assert.Equal(Duration.FromSeconds(60), topology.Readers[new ReaderId("rdr-hall-in")].HeartbeatInterval);
        Assert.Equal(ReaderKind.Fingerprint, topology.Readers[new ReaderId("rdr-hall-out")].Kind);
        Assert.Equal(Direction.Out, topology.Readers[new ReaderId("rdr-hall-out")].Direction);
        Assert.Equal(
            new DoorController(new ControllerId("ctl-hall"), new SiteId("fra1"), "Hall controller") { HeartbeatInterval = Duration.FromSeconds(45) },
            topology.Controllers[new ControllerId("ctl-hall")]);
    }

    [Fact]
    public void Parse_ControllerWithoutHeartbeatSeconds_HasNoHeartbeat_AndIsSupervisedByItsWillAlone()
    {
        Assert.Null(Site.Topology.Controllers[new ControllerId("ctl-lobby")].HeartbeatInterval);
    }

    [Fact]
    public void Parse_Schedule_HasOneIntervalPerDayWithTwentyFourHundredAsEndOfDay()
    {
        var office = Site.Topology.ScheduleOf(new SiteId("fra1"), new ScheduleId("office"))!;

        var weekday = new TimeOfDayRange(new LocalTime(7, 0), new LocalTime(19, 0));
        Assert.Equal<WeeklyInterval>(
            [
                new WeeklyInterval(IsoDayOfWeek.Monday, weekday),
                new WeeklyInterval(IsoDayOfWeek.Tuesday, weekday),
                new WeeklyInterval(IsoDayOfWeek.Wednesday, weekday),
                new WeeklyInterval(IsoDayOfWeek.Thursday, weekday),
                new WeeklyInterval(IsoDayOfWeek.Friday, weekday),
                new WeeklyInterval(IsoDayOfWeek.Saturday, new TimeOfDayRange(new LocalTime(9, 0), null)),
            ],
            office.Intervals);
        Assert.Equal([new LocalDate(2026, 12, 24), new LocalDate(2026, 12, 25)], office.Holidays.Order());
        Assert.Equal<TimeOfDayRange>([new TimeOfDayRange(new LocalTime(10, 0), new LocalTime(12, 0))], office.HolidayIntervals);
    }

    [Fact]
    public void Parse_Schedules_BelongToTheSite_AndAlwaysIsTheSharedBuiltIn()
    {
        Assert.All(Site.Topology.Schedules.Values, s => Assert.Equal(new SiteId("fra1"), s.Site));
        Assert.Same(Schedule.Always, Site.Topology.ScheduleOf(new SiteId("fra1"), ScheduleId.Always));
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Parse_AuthorizationList_IsLoadedExactlyAsDeclared()
    {
        Assert.Equal(
            [
                new AccessLevel(new AccessLevelId("building"), "Building", [new ZoneId("campus"), new ZoneId("bldg")], ScheduleId.Always),
                new AccessLevel(new AccessLevelId("hall-office"), "Hall in office hours", [new ZoneId("hall")], new ScheduleId("office")),
            ],
            Site.AccessLevels,
            AccessLevelComparer);
        Assert.Equal(
            [
                new Person(new PersonId("p-alice"), "Alice Adams", PersonKind.Employee, PersonStatus.Active, [new AccessLevelId("building"), new AccessLevelId("hall-office")]),
                new Person(new PersonId("p-bob"), "Bob Brown", PersonKind.Contractor, PersonStatus.Suspended, [new AccessLevelId("building")]),
                new Person(new PersonId("p-carol"), "Carol Clark", PersonKind.Visitor, PersonStatus.Active, []),
            ],
            Site.People,
            PersonComparer);
        Assert.Equal<Credential>(
            [
                new Credential("04A1B2C3D4E5F6", "desfire-ev3", new PersonId("p-alice"), Instant.FromUtc(2026, 1, 1, 0, 0), Instant.FromUtc(2027, 1, 1, 0, 0), CredentialStatus.Active),
                new Credential("04B0B0B0B0B0B0", "mifare-classic", new PersonId("p-bob"), null, null, CredentialStatus.Revoked),
            ],
            Site.Credentials);
    }

    // Records holding immutable collections compare those by reference (ImmutableArray<T> too, and xunit honours
    // its IEquatable); these comparers compare them by content.
    internal static readonly IEqualityComparer<AccessLevel> AccessLevelComparer = EqualityComparer<AccessLevel>.Create(
        (a, b) => a is not null && b is not null && a.Id == b.Id && a.Name == b.Name && a.Schedule == b.Schedule && a.Zones.SetEquals(b.Zones)
            && a.Escort == b.Escort && a.EscortedOnly == b.EscortedOnly,
        a => a.Id.GetHashCode());

    internal static readonly IEqualityComparer<Person> PersonComparer = EqualityComparer<Person>.Create(
        (a, b) => a is not null && b is not null && a.Id == b.Id && a.Name == b.Name && a.Kind == b.Kind && a.Status == b.Status && a.AccessLevels.SequenceEqual(b.AccessLevels),
        p => p.Id.GetHashCode());
}

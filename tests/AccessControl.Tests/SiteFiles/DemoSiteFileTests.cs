using AccessControl.People;
using AccessControl.Schedules;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Tests.SiteFiles;

/// <summary>deploy/sites/demo.yaml, the site the demo and the integration tests run against.</summary>
public class DemoSiteFileTests
{
    private static readonly string DemoPath = Path.Combine(AppContext.BaseDirectory, "deploy", "sites", "demo.yaml");

    private static readonly SiteFileResult Result = SiteFileLoader.Load(DemoPath);

    private static SiteDefinition Demo => Result.Site ?? throw new InvalidOperationException(string.Join(Environment.NewLine, Result.Errors));

    [Fact]
    public void Load_DemoSite_HasNoErrors()
    {
        Assert.Empty(Result.Errors);
        Assert.True(Result.Success);
    }

    [Fact]
    public void Load_DemoSite_IsOneBuildingWithADataHallAndAServerRoomInBerlin()
    {
        var topology = Demo.Topology;
        var site = Assert.Single(topology.Sites.Values);

        Assert.Equal(new SiteId("demo"), site.Id);
        Assert.Equal("Europe/Berlin", site.TimeZone.Id);
        Assert.Equal(
            [("demo-campus", (string?)null), ("demo-bldg-a", "demo-campus"), ("demo-dh1", "demo-bldg-a"), ("demo-sr1", "demo-dh1")],
            topology.Zones.Values.OrderBy(z => z.SecurityLevel).Select(z => (z.Id.Value, z.Parent?.Value)));
        Assert.Equal(AntiPassbackMode.Soft, topology.Zones[new ZoneId("demo-bldg-a")].AntiPassback);
        Assert.Equal(AntiPassbackMode.Hard, topology.Zones[new ZoneId("demo-dh1")].AntiPassback);
        Assert.True(topology.Zones[new ZoneId("demo-dh1")].AllowedTechnologies.SetEquals(["desfire-ev3", "desfire-ev2"]));
        Assert.False(topology.Zones[new ZoneId("demo-dh1")].AllowsTechnology("mifare-classic"));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Load_DemoServerRoom_IsTheOnlyEscortRequiredZone_TwoPeoplePerEscortWithinTheDefaultWindow()
    {
        var zones = Demo.Topology.Zones.Values;

        Assert.Equal([new ZoneId("demo-sr1")], zones.Where(z => z.EscortRequired).Select(z => z.Id));
        Assert.Equal(new EscortPolicy(Duration.FromSeconds(10), 2), Demo.Topology.Zones[new ZoneId("demo-sr1")].Escort);
    }

    [Theory]
    [InlineData("door-lobby", null, "demo-bldg-a", "ctl-lobby")]
    [InlineData("door-dh1", "demo-bldg-a", "demo-dh1", "ctl-dh1")]
    [InlineData("door-sr1", "demo-dh1", "demo-sr1", "ctl-sr1")]
    public void Load_DemoDoor_HasItsOwnControllerAndACardReaderOnEachSide(string doorId, string? from, string to, string controller)
    {
        var topology = Demo.Topology;
        var door = topology.Doors[new DoorId(doorId)];

        Assert.Equal(from, door.From?.Value);
        Assert.Equal(to, door.To.Value);
        Assert.Equal(controller, door.Controller.Value);
        Assert.Equal([door], topology.DoorsOf(door.Controller));
        Assert.Equal(
            [Direction.In, Direction.Out],
            topology.ReadersOf(door.Id).Where(r => r.Kind == ReaderKind.Card).Select(r => r.Direction).Order());
    }

    [Fact]
    public void Load_DemoBusinessHours_MatchesTheFile()
    {
        var schedule = Demo.Topology.ScheduleOf(new SiteId("demo"), new ScheduleId("business-hours"))!;

        var hours = new TimeOfDayRange(new LocalTime(7, 0), new LocalTime(19, 0));
        Assert.Equal(
            [IsoDayOfWeek.Monday, IsoDayOfWeek.Tuesday, IsoDayOfWeek.Wednesday, IsoDayOfWeek.Thursday, IsoDayOfWeek.Friday],
            schedule.Intervals.Select(i => i.Day));
        Assert.All(schedule.Intervals, i => Assert.Equal(hours, i.Range));
        Assert.Equal(
            [new LocalDate(2026, 12, 24), new LocalDate(2026, 12, 25), new LocalDate(2026, 12, 26), new LocalDate(2027, 1, 1)],
            schedule.Holidays.Order());
        Assert.Empty(schedule.HolidayIntervals);
    }

    [Theory]
    [InlineData("2026-12-07T05:59:00Z", false)] // Monday 06:59 in Berlin (UTC+1, far from any DST change)
    [InlineData("2026-12-07T06:00:00Z", true)] // Monday 07:00, the start is inclusive
    [InlineData("2026-12-07T08:30:00Z", true)] // Monday 09:30
    [InlineData("2026-12-07T17:59:00Z", true)] // Monday 18:59
    [InlineData("2026-12-07T18:00:00Z", false)] // Monday 19:00, the end is exclusive
    [InlineData("2026-12-05T10:00:00Z", false)] // Saturday
    [InlineData("2026-12-24T10:00:00Z", false)] // Thursday, but Christmas Eve is a holiday
    [InlineData("2027-01-01T10:00:00Z", false)] // Friday, New Year's Day
    [InlineData("2027-01-04T10:00:00Z", true)] // Monday after
    public void Load_DemoBusinessHours_AreReadInTheSiteTimeZone(string instant, bool active)
    {
        var site = Assert.Single(Demo.Topology.Sites.Values);
        var schedule = Demo.Topology.ScheduleOf(new SiteId("demo"), new ScheduleId("business-hours"))!;

        Assert.Equal(active, schedule.IsActive(NodaTime.Text.InstantPattern.ExtendedIso.Parse(instant).Value, site.TimeZone));
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Load_DemoAuthorizationList_IsExactlyAsDeclared()
    {
        Assert.Equal(
            [
                new AccessLevel(new AccessLevelId("lobby-24x7"), "Building A, around the clock", [new ZoneId("demo-campus"), new ZoneId("demo-bldg-a")], ScheduleId.Always),
                new AccessLevel(new AccessLevelId("datahall-business-hours"), "Data hall 1, business hours", [new ZoneId("demo-dh1")], new ScheduleId("business-hours")),
                new AccessLevel(new AccessLevelId("serverroom-operators"), "Data hall 1 and server room 1, around the clock (NOC operators)", [new ZoneId("demo-dh1"), new ZoneId("demo-sr1")], ScheduleId.Always, Escort: true),
                new AccessLevel(new AccessLevelId("serverroom-escorted"), "Server room 1, business hours, only under escort (engineers without unescorted access)", [new ZoneId("demo-sr1")], new ScheduleId("business-hours"), EscortedOnly: true),
                new AccessLevel(
                    new AccessLevelId("visitors-serverroom"),
                    "Visitors to server room 1 (building, data hall 1, server room 1 under escort), business hours",
                    [new ZoneId("demo-campus"), new ZoneId("demo-bldg-a"), new ZoneId("demo-dh1"), new ZoneId("demo-sr1")],
                    new ScheduleId("business-hours")),
            ],
            Demo.AccessLevels,
            SiteFileModelTests.AccessLevelComparer);

        string[] all = ["lobby-24x7", "datahall-business-hours", "serverroom-operators"];
        string[] engineer = ["lobby-24x7", "datahall-business-hours"];
        string[] visitor = ["visitors-serverroom"];
        Assert.Equal(
            [
                ("p-mkoch", PersonKind.Employee, PersonStatus.Active, all),
                ("p-jweber", PersonKind.Employee, PersonStatus.Active, [.. engineer, "serverroom-escorted"]),
                ("p-lromano", PersonKind.Contractor, PersonStatus.Active, ["lobby-24x7"]),
                ("p-sbrandt", PersonKind.Employee, PersonStatus.Suspended, engineer),
                ("p-tfischer", PersonKind.Employee, PersonStatus.Terminated, all),
                ("p-aschulz", PersonKind.Employee, PersonStatus.Active, engineer),
                ("v-ewagner", PersonKind.Visitor, PersonStatus.Active, visitor),
                ("v-hyilmaz", PersonKind.Visitor, PersonStatus.Active, visitor),
                ("v-pnowak", PersonKind.Visitor, PersonStatus.Active, visitor),
            ],
            Demo.People.Select(p => (p.Id.Value, p.Kind, p.Status, p.AccessLevels.Select(l => l.Value).ToArray())));
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Load_DemoCredentials_AreOneSevenByteCardPerPerson()
    {
        Assert.Equal(Demo.People.Select(p => p.Id), Demo.Credentials.Select(c => c.Person));
        Assert.All(Demo.Credentials, c => Assert.Equal(14, c.CardUid.Length));
        Assert.Equal(Demo.Credentials.Length, Demo.Credentials.Select(c => c.CardUid).Distinct().Count());
        Assert.Equal("047C19D24A5B81", Demo.Credentials.Single(c => c.Person == new PersonId("p-lromano")).CardUid);
        Assert.Equal(Instant.FromUtc(2027, 3, 31, 22, 0), Demo.Credentials.Single(c => c.Person == new PersonId("p-lromano")).ValidUntil);
        Assert.Equal("mifare-classic", Demo.Credentials.Single(c => c.Person == new PersonId("p-aschulz")).Technology);
    }
}

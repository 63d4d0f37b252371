using AccessControl.Fingerprints;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.SiteFiles.SiteFileText;

namespace AccessControl.Tests.SiteFiles;

/// <summary>The two-factor keys of the site file: zones' <c>twoFactor</c> and its two numbers, the site's fingerprint rules.</summary>
public class SiteFileTwoFactorTests
{
    private const string Hall = "{ id: hall, name: Hall, kind: data-hall, parent: bldg, securityLevel: 3, antiPassback: hard, technologies: [desfire-ev3] }";
    private const string Site = "site: { id: fra1, name: Frankfurt 1, timeZone: Europe/Berlin }";
    private const string FingerprintOut = "- { id: rdr-hall-out, type: fingerprint, door: door-hall, direction: out }";
    private const string FingerprintIn = "- { id: fp-hall-in, type: fingerprint, door: door-hall, direction: in }";
    private const string HallDoor = "  - { id: door-hall, name: Hall door, from: bldg, to: hall, controller: ctl-hall, unlockSeconds: 7, heldOpenSeconds: 45 }";

    private static readonly ZoneId HallId = new("hall");

    /// <summary>The valid file with the hall two-factor (plus <paramref name="keys"/>) and a fingerprint reader facing in.</summary>
    private static string TwoFactorHall(string keys = "") =>
        With(With(Valid, Hall, Hall[..^2] + ", twoFactor: true" + (keys.Length == 0 ? "" : ", " + keys) + " }"), FingerprintOut, FingerprintIn);

    private static string WithSite(string keys) => SiteFileText.With(Site, Site[..^2] + ", " + keys + " }");

    private static SiteDefinition Load(string yaml)
    {
        var result = Parse(yaml);
        Assert.Empty(result.Errors);
        return result.Site!;
    }

    private static string With(string yaml, string oldText, string newText)
    {
        Assert.Contains(oldText, yaml, StringComparison.Ordinal);
        return yaml.Replace(oldText, newText, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ZonesWithoutTwoFactor_NeedOnlyACard_AndTheSiteHasTheDefaultRules()
    {
        var site = Load(Valid);

        Assert.All(site.Topology.Zones.Values, z => Assert.False(z.TwoFactor));
        Assert.Equal(FingerprintRules.Default, site.Topology.Sites.Values.Single().Fingerprints);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-PE-3")]
    public void Parse_TwoFactor_TakesTheDefaultThresholdAndTimeout()
    {
        var hall = Load(TwoFactorHall()).Topology.Zones[HallId];

        Assert.True(hall.TwoFactor);
        Assert.Equal(new FingerprintPolicy(60, Duration.FromSeconds(10)), hall.Fingerprint);
    }

    [Fact]
    public void Parse_TwoFactor_WithItsOwnThresholdAndTimeout()
    {
        var hall = Load(TwoFactorHall("fingerprintThreshold: 75, fingerprintTimeoutSeconds: 20")).Topology.Zones[HallId];

        Assert.Equal(new FingerprintPolicy(75, Duration.FromSeconds(20)), hall.Fingerprint);
    }

    [Theory]
    [InlineData("fingerprintThreshold: 70")]
    [InlineData("fingerprintTimeoutSeconds: 15")]
    public void Parse_FingerprintNumbersWithoutTwoFactor_AreAnError(string keys)
    {
        var error = SingleError(Parse(With(Valid, Hall, Hall[..^2] + ", " + keys + " }")));

        Assert.Contains("applies only to a zone with twoFactor: true", error.Message, StringComparison.Ordinal);
        Assert.Equal("zones[2]." + keys.Split(':')[0], error.Path);
    }

    [Theory]
    [InlineData("fingerprintThreshold: 0")]
    [InlineData("fingerprintThreshold: 101")]
    [InlineData("fingerprintTimeoutSeconds: 2")]
    [InlineData("fingerprintTimeoutSeconds: 61")]
    [InlineData("twoFactor: maybe")]
    public void Parse_OutOfRangeTwoFactorValues_AreAnError(string keys)
    {
        var yaml = keys.StartsWith("twoFactor", StringComparison.Ordinal)
            ? With(With(Valid, Hall, Hall[..^2] + ", " + keys + " }"), FingerprintOut, FingerprintIn)
            : TwoFactorHall(keys);

        var error = SingleError(Parse(yaml));

        Assert.Equal("zones[2]." + keys.Split(':')[0], error.Path);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Parse_ADoorIntoATwoFactorZone_WithoutACardReaderFacingIn_IsRejected()
    {
        // The hall's card reader turned to face out: the finger facing in would have no card to verify.
        var yaml = TwoFactorHall();
        var cardIn = yaml.Split('\n').Single(l => l.Contains("type: card, door: door-hall, direction: in", StringComparison.Ordinal));
        var error = SingleError(Parse(With(yaml, cardIn, cardIn.Replace("direction: in", "direction: out", StringComparison.Ordinal))));

        Assert.Contains("door 'door-hall' leads into the two-factor zone 'hall' but has no card reader facing in", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void Parse_ADoorIntoATwoFactorZone_WithoutAFingerprintReaderFacingIn_IsRejected()
    {
        // The valid file's only fingerprint reader faces out: nobody could ever enter.
        var error = SingleError(Parse(With(Valid, Hall, Hall[..^2] + ", twoFactor: true }")));

        Assert.Contains("door 'door-hall' leads into the two-factor zone 'hall' but has no fingerprint reader facing in", error.Message, StringComparison.Ordinal);
        Assert.StartsWith("doors[", error.Path, StringComparison.Ordinal);
    }

    /// <summary>
    /// An emergency exit out of the two-factor hall, with a card reader facing out only (to record who leaves, which
    /// hard anti-passback needs): nobody enters through it, so it needs no fingerprint reader, and the file is valid.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.2")]
    [InlineData("from: bldg, ")]
    [InlineData("")]
    public void Parse_AnExitOnlyDoorOutOfATwoFactorZone_NeedsNoFingerprintReader(string from)
    {
        var yaml = With(With(TwoFactorHall(), HallDoor, HallDoor + "\n" + $"  - {{ id: door-hall-exit, name: Hall emergency exit, {from}to: hall, controller: ctl-hall }}"),
            FingerprintIn, FingerprintIn + "\n" + "  - { id: rdr-hall-exit-out, type: card, door: door-hall-exit, direction: out }");

        var site = Load(yaml);

        Assert.Equal(Direction.Out, site.Topology.Readers[new ReaderId("rdr-hall-exit-out")].Direction);
        Assert.DoesNotContain(site.Topology.Readers.Values, r => r.Door == new DoorId("door-hall-exit") && r.Direction == Direction.In);
    }

    /// <summary>
    /// A cage inside the two-factor, escort-required hall with a door of its own straight from outside the site: its card
    /// reader lets people into the cage, inside the hall, with a card alone and no escort, and the cage's out reader then
    /// into the hall itself (leaving a zone into the two-factor zone around it asks no finger: it assumes the finger was
    /// given coming in). The file is refused at that door, naming the rules the cage lacks, unless it has them itself.
    /// </summary>
    [Theory]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-PE-3")]
    [InlineData("", "the two-factor and escort-required zone 'hall'", "twoFactor: true and escortRequired: true")]
    [InlineData(", twoFactor: true", "the escort-required zone 'hall'", "escortRequired: true")]
    [InlineData(", escortRequired: true", "the two-factor zone 'hall'", "twoFactor: true")]
    [InlineData(", twoFactor: true, escortRequired: true", null, null)]
    public void Parse_APerimeterDoorIntoAZoneInsideATwoFactorOrEscortZone_IsRejected_UnlessThatZoneHasTheRulesToo(string cageKeys, string? inside, string? give)
    {
        var cage = "  - { id: cage, name: Cage, kind: area, parent: hall, securityLevel: 4" + cageKeys + " }";
        var yaml = With(With(With(TwoFactorHall("escortRequired: true"), Hall[..^2] + ", twoFactor: true, escortRequired: true }", Hall[..^2] + ", twoFactor: true, escortRequired: true }\n" + cage),
            HallDoor, HallDoor + "\n" + """
                  - { id: door-cage, name: Cage door, from: hall, to: cage, controller: ctl-hall }
                  - { id: door-cage-dock, name: Cage loading dock, to: cage, controller: ctl-hall }
                """.TrimEnd()),
            FingerprintIn, FingerprintIn + "\n" + """
                  - { id: rdr-cage-in, type: card, door: door-cage, direction: in }
                  - { id: rdr-cage-out, type: card, door: door-cage, direction: out }
                  - { id: rdr-cage-dock-in, type: card, door: door-cage-dock, direction: in }
                  - { id: fp-cage-dock-in, type: fingerprint, door: door-cage-dock, direction: in }
                  - { id: fp-cage-in, type: fingerprint, door: door-cage, direction: in }
                """.TrimEnd());

        var result = Parse(yaml);

        if (inside is null)
        {
            Assert.Empty(result.Errors);
            return;
        }

        var error = SingleError(result);
        Assert.Contains($"door 'door-cage-dock' leads from outside the site into 'cage', inside {inside}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Give 'cage' {give} itself", error.Message, StringComparison.Ordinal);
        Assert.Equal("doors[3].to", error.Path);
    }

    [Fact]
    [Trait("control", "PCI-8.3.4")]
    public void Parse_SiteFingerprintRules_AreRead()
    {
        var site = Load(WithSite("fingerprintLockoutAfter: 5, fingerprintLockoutMinutes: 30, visitorsWithoutFingerprint: deny")).Topology.Sites.Values.Single();

        Assert.Equal(new FingerprintRules(5, Duration.FromMinutes(30), VisitorFingerprintFallback.Deny), site.Fingerprints);
    }

    [Theory]
    [InlineData("fingerprintLockoutAfter: 0")]
    [InlineData("fingerprintLockoutAfter: 11")]
    [InlineData("fingerprintLockoutMinutes: 0")]
    [InlineData("visitorsWithoutFingerprint: always")]
    public void Parse_BadSiteFingerprintRules_AreAnErrorAtTheKey(string keys)
    {
        var error = SingleError(Parse(WithSite(keys)));

        Assert.Equal("site." + keys.Split(':')[0], error.Path);
    }

    [Fact]
    public void DemoSite_ServerRoomIsTwoFactor_WithAFingerprintReaderAtItsDoor()
    {
        var demo = SiteFileLoader.Load(Path.Combine(AppContext.BaseDirectory, "deploy", "sites", "demo.yaml"));

        Assert.True(demo.Success, string.Join("\n", demo.Errors));
        var topology = demo.Site!.Topology;
        Assert.True(topology.Zones[new ZoneId("demo-sr1")].TwoFactor);
        Assert.Contains(topology.Readers.Values, r => r.Kind == ReaderKind.Fingerprint && r.Door == new DoorId("door-sr1") && r.Direction == Direction.In);
        Assert.Equal(VisitorFingerprintFallback.EscortOnly, topology.Sites[new SiteId("demo")].Fingerprints.Visitors);
    }
}

using System.Collections.Immutable;
using AccessControl.Devices;
using AccessControl.Fingerprints;
using AccessControl.People;
using AccessControl.Schedules;
using AccessControl.Sites;
using NodaTime;
using NodaTime.Text;
using YamlDotNet.RepresentationModel;

namespace AccessControl.SiteFiles;

/// <summary>
/// Turns the node tree of one site file into a <see cref="SiteDefinition"/>, section by section, in one pass that
/// records every id declared and every id referenced; the cross-section rules (references resolve, zones form one
/// tree, doors join neighbouring zones and have readers) run afterwards in <c>SiteFileReader.Rules.cs</c>.
/// </summary>
/// <remarks>
/// Model objects are built only from entries whose values were all valid; any error anywhere discards the whole model.
/// </remarks>
internal sealed partial class SiteFileReader
{
    private static readonly string[] RootKeys = ["version", "site", "zones", "controllers", "doors", "readers", "schedules", "accessLevels", "people", "credentials", "firePanels"];
    private static readonly string[] SiteKeys = ["id", "name", "timeZone", "fingerprintLockoutAfter", "fingerprintLockoutMinutes", "visitorsWithoutFingerprint"];
    private static readonly string[] ZoneKeys = ["id", "name", "kind", "parent", "securityLevel", "antiPassback", "technologies", "escortRequired", "escortWindowSeconds", "escortMaxVisitors",
        "twoFactor", "fingerprintThreshold", "fingerprintTimeoutSeconds"];
    private static readonly string[] ControllerKeys = ["id", "name", "heartbeatSeconds"];
    private static readonly string[] DoorKeys = ["id", "name", "from", "to", "controller", "unlockSeconds", "heldOpenSeconds", "failSafe"];
    private static readonly string[] ReaderKeys = ["id", "type", "door", "direction", "heartbeatSeconds"];
    private static readonly string[] ScheduleKeys = ["id", "name", "intervals", "holidays", "holidayIntervals"];
    private static readonly string[] IntervalKeys = ["days", "from", "to"];
    private static readonly string[] RangeKeys = ["from", "to"];
    private static readonly string[] AccessLevelKeys = ["id", "name", "zones", "schedule", "escort", "escortedOnly"];
    private static readonly string[] PersonKeys = ["id", "name", "kind", "status", "accessLevels", "adopt"];
    private static readonly string[] CredentialKeys = ["card", "technology", "person", "validFrom", "validUntil", "status", "adopt"];

    private static readonly Dictionary<string, ZoneKind> ZoneKinds = new(StringComparer.Ordinal)
    {
        ["site"] = ZoneKind.Site,
        ["building"] = ZoneKind.Building,
        ["data-hall"] = ZoneKind.DataHall,
        ["server-room"] = ZoneKind.ServerRoom,
        ["area"] = ZoneKind.Area,
    };

    private static readonly Dictionary<string, VisitorFingerprintFallback> VisitorFallbacks = new(StringComparer.Ordinal)
    {
        ["escort"] = VisitorFingerprintFallback.EscortOnly,
        ["deny"] = VisitorFingerprintFallback.Deny,
    };

    private static readonly Dictionary<string, AntiPassbackMode> AntiPassbackModes = new(StringComparer.Ordinal)
    {
        ["off"] = AntiPassbackMode.Off,
        ["soft"] = AntiPassbackMode.Soft,
        ["hard"] = AntiPassbackMode.Hard,
    };

    private static readonly Dictionary<string, ReaderKind> ReaderKinds = new(StringComparer.Ordinal)
    {
        ["card"] = ReaderKind.Card,
        ["fingerprint"] = ReaderKind.Fingerprint,
    };

    private static readonly Dictionary<string, Direction> Directions = new(StringComparer.Ordinal)
    {
        ["in"] = Direction.In,
        ["out"] = Direction.Out,
    };

    private static readonly Dictionary<string, IsoDayOfWeek> Days = new(StringComparer.Ordinal)
    {
        ["mon"] = IsoDayOfWeek.Monday,
        ["tue"] = IsoDayOfWeek.Tuesday,
        ["wed"] = IsoDayOfWeek.Wednesday,
        ["thu"] = IsoDayOfWeek.Thursday,
        ["fri"] = IsoDayOfWeek.Friday,
        ["sat"] = IsoDayOfWeek.Saturday,
        ["sun"] = IsoDayOfWeek.Sunday,
    };

    private static readonly Dictionary<string, PersonKind> PersonKinds = new(StringComparer.Ordinal)
    {
        ["employee"] = PersonKind.Employee,
        ["contractor"] = PersonKind.Contractor,
        ["visitor"] = PersonKind.Visitor,
    };

    private static readonly Dictionary<string, PersonStatus> PersonStatuses = new(StringComparer.Ordinal)
    {
        ["active"] = PersonStatus.Active,
        ["suspended"] = PersonStatus.Suspended,
        ["terminated"] = PersonStatus.Terminated,
    };

    private static readonly Dictionary<string, CredentialStatus> CredentialStatuses = new(StringComparer.Ordinal)
    {
        ["active"] = CredentialStatus.Active,
        ["suspended"] = CredentialStatus.Suspended,
        ["revoked"] = CredentialStatus.Revoked,
    };

    /// <summary>MQTT usernames of the service itself; a device with one of these ids could log in as the service.</summary>
    private static readonly ImmutableHashSet<string> ReservedDeviceIds =
        ImmutableHashSet.CreateRange(StringComparer.OrdinalIgnoreCase, DeviceSecrets.ReservedUsernames);

    private static readonly LocalTimePattern TimePattern = LocalTimePattern.CreateWithInvariantCulture("HH':'mm");

    private readonly ErrorCollector errors;

    private readonly SiteIdsInUse otherSites;

    private readonly IdSpace zoneIds = new("zone", "zones", SiteIdsInUse.Zone);
    private readonly IdSpace controllerIds = new("controller", "controllers", SiteIdsInUse.Device);
    private readonly IdSpace doorIds = new("door", "doors", SiteIdsInUse.Door);
    private readonly IdSpace readerIds = new("reader", "readers", SiteIdsInUse.Device);
    private readonly IdSpace firePanelIds = new("fire panel", "firePanels", SiteIdsInUse.Device);
    private readonly IdSpace scheduleIds = new("schedule", "schedules");
    private readonly IdSpace accessLevelIds = new("access level", "accessLevels", SiteIdsInUse.AccessLevel);
    private readonly IdSpace personIds = new("person", "people", SiteIdsInUse.Person);
    private readonly Dictionary<string, Located> cardUids = new(StringComparer.Ordinal);
    private readonly List<(IdSpace Space, Located At)> references = [];

    private readonly List<ZoneDraft> zoneDrafts = [];
    private readonly List<DoorDraft> doorDrafts = [];
    private readonly HashSet<string> doorsWithReaders = new(StringComparer.Ordinal);
    private readonly HashSet<string> doorsWithCardReaders = new(StringComparer.Ordinal);
    private readonly HashSet<string> doorsWithCardIn = new(StringComparer.Ordinal);
    private readonly HashSet<string> doorsWithFingerprintIn = new(StringComparer.Ordinal);

    private readonly List<Zone> zones = [];
    private readonly List<DoorController> controllers = [];
    private readonly List<FirePanel> firePanels = [];
    private readonly List<Door> doors = [];
    private readonly List<Reader> readers = [];
    private readonly List<Schedule> schedules = [];
    private readonly List<AccessLevel> accessLevels = [];
    private readonly List<Person> people = [];
    private readonly List<Credential> credentials = [];
    private readonly HashSet<PersonId> adoptedPeople = [];
    private readonly HashSet<string> adoptedCards = new(StringComparer.Ordinal);

    // Zones, doors and controllers carry their site's id; a placeholder until the site section is read (any
    // problem with it is an error, so a model with the placeholder is never returned).
    private SiteId siteId = new("");

    private SiteFileReader(ErrorCollector errors, SiteIdsInUse otherSites)
    {
        this.errors = errors;
        this.otherSites = otherSites;
    }

    /// <summary>
    /// Reads the document; null (with errors collected) unless the file is entirely valid, its zone, door and device ids
    /// included: none may be one that <paramref name="otherSites"/> holds at a site other than this file's.
    /// </summary>
    public static SiteDefinition? Read(YamlNode root, ErrorCollector errors, SiteIdsInUse otherSites) => new SiteFileReader(errors, otherSites).ReadDocument(root, layoutOnly: false);

    /// <summary>
    /// Reads the document without its people and credentials (<see cref="SiteFileLoader.ParseLayout"/>): the definition it
    /// returns declares none, which says nothing of the file's cardholders. Its ids are not checked against other sites.
    /// </summary>
    public static SiteDefinition? ReadLayout(YamlNode root, ErrorCollector errors) => new SiteFileReader(errors, SiteIdsInUse.None).ReadDocument(root, layoutOnly: true);

    private SiteDefinition? ReadDocument(YamlNode rootNode, bool layoutOnly)
    {
        if (rootNode is not YamlMappingNode)
        {
            errors.Add(rootNode, "(root)", $"a site file is a mapping that starts with 'version: 1', found {YamlMap.Describe(rootNode)}");
            return null;
        }

        if (!IsSupportedVersion((YamlMappingNode)rootNode))
        {
            return null;
        }

        var root = YamlMap.Open(rootNode, "", errors, "a site file", RootKeys)!;
        root.Scalar("version"); // reports a missing version along with everything else

        var site = ReadSite(root);
        ReadZones(root);
        ReadControllers(root);
        ReadDoors(root);
        ReadReaders(root);
        ReadFirePanels(root);
        ReadSchedules(root);
        ReadAccessLevels(root);
        if (!layoutOnly)
        {
            ReadPeople(root);
            ReadCredentials(root);
        }

        ResolveReferences();
        CheckZoneTree(root);
        CheckDoors();

        if (errors.HasErrors || site is null)
        {
            return null;
        }

        var topology = new SiteTopology([site], zones, doors, readers, controllers, schedules)
        {
            FirePanels = firePanels.ToImmutableDictionary(p => p.Id, StringComparer.Ordinal),
        };
        return new SiteDefinition(topology, [.. accessLevels], [.. people], [.. credentials])
        {
            AdoptedPeople = [.. adoptedPeople],
            AdoptedCards = [.. adoptedCards],
        };
    }

    /// <summary>
    /// Checks the version before anything else: a file written for another version would only produce a flood of
    /// misleading errors (unknown keys first of all), so an unsupported version is the one error reported.
    /// A missing version is reported with the other errors.
    /// </summary>
    private bool IsSupportedVersion(YamlMappingNode root)
    {
        if (!root.Children.TryGetValue(new YamlScalarNode("version"), out var node) || YamlMap.IsNull(node) || node is YamlScalarNode { Value: "1" })
        {
            return true;
        }

        var found = node is YamlScalarNode { Value: var text } ? $"'{text}'" : YamlMap.Describe(node);
        errors.Add(node, "version", $"unsupported version {found}: this service reads site files of version 1");
        return false;
    }

    private Site? ReadSite(YamlMap root)
    {
        if (root.Value("site", required: true) is not { } node || YamlMap.Open(node, "site", errors, "the site", SiteKeys) is not { } map)
        {
            return null;
        }

        var id = map.Id("id");
        var name = map.Text("name");
        var timeZone = ReadTimeZone(map);
        var defaults = FingerprintRules.Default;
        var lockoutAfter = map.Integer("fingerprintLockoutAfter", defaults.LockoutAfter, 1, 10, null);
        var lockoutMinutes = map.Integer("fingerprintLockoutMinutes", (int)defaults.LockoutFor.TotalMinutes, 1, 24 * 60, "minutes");
        var visitors = map.Token("visitorsWithoutFingerprint", VisitorFallbacks, defaults.Visitors);
        if (id is not { } i || name is null || timeZone is null || lockoutAfter is null || lockoutMinutes is null || visitors is null)
        {
            return null;
        }

        siteId = new SiteId(i.Text);
        return new Site(siteId, name, timeZone)
        {
            Fingerprints = new FingerprintRules(lockoutAfter.Value, Duration.FromMinutes(lockoutMinutes.Value), visitors.Value),
        };
    }

    private DateTimeZone? ReadTimeZone(YamlMap map)
    {
        if (map.Scalar("timeZone") is not { } value)
        {
            return null;
        }

        var zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(value.Text);
        if (zone is null)
        {
            errors.Add(value.Node, value.Path, $"unknown time zone '{value.Text}': use an IANA time zone id such as Europe/Berlin{Suggestions.DidYouMean(value.Text, DateTimeZoneProviders.Tzdb.Ids)}");
        }

        return zone;
    }

    private void ReadZones(YamlMap root)
    {
        foreach (var item in root.List("zones", required: true, nonEmpty: true))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a zone", ZoneKeys) is not { } map)
            {
                continue;
            }

            var id = Declare(zoneIds, map.Id("id"));
            var name = map.Text("name");
            var kind = map.Token("kind", ZoneKinds, null);
            var parent = Reference(zoneIds, map.Scalar("parent", required: false));
            var securityLevel = map.Integer("securityLevel", null, 0, 9, null);
            var antiPassback = map.Token("antiPassback", AntiPassbackModes, AntiPassbackMode.Off);
            var technologies = ReadTechnologies(map, "technologies");
            var escort = ReadEscortPolicy(map);
            var fingerprint = ReadFingerprintPolicy(map);
            zoneDrafts.Add(new ZoneDraft(map, zoneDrafts.Count, id, parent, kind)
            {
                TwoFactor = fingerprint?.Policy is not null,
                EscortRequired = escort?.Policy is not null,
                AntiPassback = antiPassback is { } apb && apb != AntiPassbackMode.Off,
            });
            if (id is { } i && name is not null && kind is { } k && securityLevel is { } level && antiPassback is { } mode && technologies is not null && escort is { } e
                && fingerprint is { } f)
            {
                var parentId = parent is { } p ? new ZoneId(p.Text) : (ZoneId?)null;
                zones.Add(new Zone(new ZoneId(i.Text), siteId, name, k, parentId, level, mode, technologies, e.Policy) { Fingerprint = f.Policy });
            }
        }
    }

    /// <summary>
    /// A zone's escort rule: <c>escortRequired</c>, with the window and the number of people per escort entry. The two
    /// numbers mean nothing without the flag, so giving them alone is an error rather than a setting silently ignored.
    /// Null means invalid (reported); a holder of a null policy means "not escort-required".
    /// </summary>
    private OptionalEscort? ReadEscortPolicy(YamlMap map)
    {
        var required = map.Boolean("escortRequired", false);
        var defaults = EscortPolicy.Default;
        var window = map.Integer("escortWindowSeconds", (int)defaults.Window.TotalSeconds, 1, 120, "seconds");
        var max = map.Integer("escortMaxVisitors", defaults.MaxEscorted, 1, 20, null);
        var valid = required is not null && window is not null && max is not null;
        if (required == false)
        {
            foreach (var key in new[] { "escortWindowSeconds", "escortMaxVisitors" })
            {
                if (map.Value(key, required: false) is { } node)
                {
                    errors.Add(node, map.PathOf(key), $"{key} applies only to a zone with escortRequired: true");
                    valid = false;
                }
            }
        }

        if (!valid)
        {
            return null;
        }

        return new OptionalEscort(required == true ? new EscortPolicy(Duration.FromSeconds(window!.Value), max!.Value) : null);
    }

    private readonly record struct OptionalEscort(EscortPolicy? Policy);

    /// <summary>
    /// A zone's two-factor rule: <c>twoFactor</c> (card + fingerprint), with the match threshold and the timeout; like the
    /// escort numbers, the two numbers alone are an error. Null means invalid (reported).
    /// </summary>
    private OptionalFingerprint? ReadFingerprintPolicy(YamlMap map)
    {
        var required = map.Boolean("twoFactor", false);
        var defaults = FingerprintPolicy.Default;
        var threshold = map.Integer("fingerprintThreshold", defaults.Threshold, 1, 100, null);
        var timeout = map.Integer("fingerprintTimeoutSeconds", (int)defaults.Timeout.TotalSeconds, 3, 60, "seconds");
        var valid = required is not null && threshold is not null && timeout is not null;
        if (required == false)
        {
            foreach (var key in new[] { "fingerprintThreshold", "fingerprintTimeoutSeconds" })
            {
                if (map.Value(key, required: false) is { } node)
                {
                    errors.Add(node, map.PathOf(key), $"{key} applies only to a zone with twoFactor: true");
                    valid = false;
                }
            }
        }

        if (!valid)
        {
            return null;
        }

        return new OptionalFingerprint(required == true ? new FingerprintPolicy(threshold!.Value, Duration.FromSeconds(timeout!.Value)) : null);
    }

    private readonly record struct OptionalFingerprint(FingerprintPolicy? Policy);

    private ImmutableHashSet<string>? ReadTechnologies(YamlMap map, string key)
    {
        var valid = true;
        var technologies = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var technology in map.ScalarList(key))
        {
            if (CheckTechnology(technology))
            {
                technologies.Add(technology.Text);
            }
            else
            {
                valid = false;
            }
        }

        return valid ? technologies.ToImmutable() : null;
    }

    private bool CheckTechnology(Located technology)
    {
        if (CardUid.IsTechnologyToken(technology.Text))
        {
            return true;
        }

        errors.Add(technology.Node, technology.Path, $"'{technology.Text}' is not a card technology: use lower-case letters, digits and dashes, such as desfire-ev3 or mifare-classic");
        return false;
    }

    private void ReadControllers(YamlMap root)
    {
        foreach (var item in root.List("controllers"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a door controller", ControllerKeys) is not { } map)
            {
                continue;
            }

            var id = DeclareDevice(controllerIds, map.Id("id"));
            var name = map.Text("name");

            // Optional with no default: a controller whose firmware sends no heartbeat is supervised by its will alone.
            var beats = map.Has("heartbeatSeconds");
            var heartbeat = beats ? map.Integer("heartbeatSeconds", null, 5, 3600, "seconds") : null;
            if (id is { } i && name is not null && (!beats || heartbeat is not null))
            {
                controllers.Add(new DoorController(new ControllerId(i.Text), siteId, name)
                {
                    HeartbeatInterval = heartbeat is { } h ? Duration.FromSeconds(h) : null,
                });
            }
        }
    }

    private void ReadDoors(YamlMap root)
    {
        foreach (var item in root.List("doors"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a door", DoorKeys) is not { } map)
            {
                continue;
            }

            var id = Declare(doorIds, map.Id("id"));
            var name = map.Text("name");
            var from = Reference(zoneIds, map.Scalar("from", required: false));
            var to = Reference(zoneIds, map.Scalar("to"));
            var controller = Reference(controllerIds, map.Scalar("controller"));
            var unlock = map.Integer("unlockSeconds", 5, 1, 60, "seconds");
            var heldOpen = map.Integer("heldOpenSeconds", 30, 5, 3600, "seconds");
            var failSafe = map.Boolean("failSafe", false);
            doorDrafts.Add(new DoorDraft(map, id, from, to));
            if (id is { } i && name is not null && to is { } t && controller is { } c && unlock is { } u && heldOpen is { } h)
            {
                var fromId = from is { } f ? new ZoneId(f.Text) : (ZoneId?)null;
                doors.Add(new Door(new DoorId(i.Text), siteId, name, fromId, new ZoneId(t.Text), new ControllerId(c.Text), Duration.FromSeconds(u), Duration.FromSeconds(h))
                {
                    FailSafe = failSafe ?? false,
                });
            }
        }
    }

    /// <summary>Fire panels: a plain list of ids, each an MQTT username in the device namespace.</summary>
    private void ReadFirePanels(YamlMap root)
    {
        foreach (var item in root.ScalarList("firePanels"))
        {
            if (YamlMap.CheckId(item, errors) && DeclareDevice(firePanelIds, item) is { } id)
            {
                firePanels.Add(new FirePanel(id.Text, siteId));
            }
        }
    }

    private void ReadReaders(YamlMap root)
    {
        foreach (var item in root.List("readers"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a reader", ReaderKeys) is not { } map)
            {
                continue;
            }

            var id = DeclareDevice(readerIds, map.Id("id"));
            var kind = map.Token("type", ReaderKinds, null);
            var door = Reference(doorIds, map.Scalar("door"));
            var direction = map.Token("direction", Directions, null);
            var heartbeat = map.Integer("heartbeatSeconds", 30, 5, 3600, "seconds");
            if (door is { } d)
            {
                doorsWithReaders.Add(d.Text);
                if (kind == ReaderKind.Card)
                {
                    doorsWithCardReaders.Add(d.Text);
                }

                if (kind == ReaderKind.Card && direction == Direction.In)
                {
                    doorsWithCardIn.Add(d.Text);
                }

                if (kind == ReaderKind.Fingerprint && direction == Direction.In)
                {
                    doorsWithFingerprintIn.Add(d.Text);
                }
            }

            if (id is { } i && kind is { } k && door is { } doorId && direction is { } dir && heartbeat is { } h)
            {
                readers.Add(new Reader(new ReaderId(i.Text), k, new DoorId(doorId.Text), dir, Duration.FromSeconds(h)));
            }
        }
    }

    private void ReadSchedules(YamlMap root)
    {
        foreach (var item in root.List("schedules"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a schedule", ScheduleKeys) is not { } map)
            {
                continue;
            }

            var id = map.Id("id");
            if (id is { Text: var text } builtIn && text == ScheduleId.Always.Value)
            {
                errors.Add(builtIn.Node, builtIn.Path, "'always' is the built-in schedule (active at all times, holidays included) and cannot be redeclared");
                id = null;
            }

            id = Declare(scheduleIds, id);
            var name = map.Text("name");
            var intervals = ReadWeeklyIntervals(map);
            var holidays = ReadHolidays(map);
            var holidayIntervals = ReadHolidayIntervals(map);
            if (id is { } i && name is not null && intervals is not null && holidays is not null && holidayIntervals is not null)
            {
                schedules.Add(new Schedule(new ScheduleId(i.Text), name, intervals.Value, holidays, holidayIntervals.Value) { Site = siteId });
            }
        }
    }

    private ImmutableArray<WeeklyInterval>? ReadWeeklyIntervals(YamlMap schedule)
    {
        var valid = true;
        var intervals = ImmutableArray.CreateBuilder<WeeklyInterval>();
        foreach (var item in schedule.List("intervals", required: true))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a weekly interval", IntervalKeys) is not { } map)
            {
                valid = false;
                continue;
            }

            var days = map.ScalarList("days", required: true, nonEmpty: true).Select(d => YamlMap.AsToken(d, "day", Days, errors)).ToList();
            var range = ReadRange(map);
            if (range is not { } r || days.Count == 0 || days.Any(d => d is null))
            {
                valid = false;
                continue;
            }

            intervals.AddRange(days.Select(d => new WeeklyInterval(d!.Value, r)));
        }

        return valid ? intervals.ToImmutable() : null;
    }

    private ImmutableHashSet<LocalDate>? ReadHolidays(YamlMap schedule)
    {
        var valid = true;
        var holidays = ImmutableHashSet.CreateBuilder<LocalDate>();
        foreach (var value in schedule.ScalarList("holidays"))
        {
            var parsed = LocalDatePattern.Iso.Parse(value.Text);
            if (parsed.Success)
            {
                holidays.Add(parsed.Value);
            }
            else
            {
                errors.Add(value.Node, value.Path, $"'{value.Text}' is not a date: use YYYY-MM-DD, such as 2026-12-24");
                valid = false;
            }
        }

        return valid ? holidays.ToImmutable() : null;
    }

    private ImmutableArray<TimeOfDayRange>? ReadHolidayIntervals(YamlMap schedule)
    {
        var valid = true;
        var ranges = ImmutableArray.CreateBuilder<TimeOfDayRange>();
        foreach (var item in schedule.List("holidayIntervals"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a holiday interval", RangeKeys) is { } map && ReadRange(map) is { } range)
            {
                ranges.Add(range);
            }
            else
            {
                valid = false;
            }
        }

        return valid ? ranges.ToImmutable() : null;
    }

    /// <summary>Reads <c>from</c> and <c>to</c> as a same-day range; <c>to: "24:00"</c> means up to midnight.</summary>
    private TimeOfDayRange? ReadRange(YamlMap map)
    {
        var from = map.Scalar("from");
        var to = map.Scalar("to");
        LocalTime? start = null;
        LocalTime? end = null;
        var valid = from is { } f && TryReadTime(f, endOfDayAllowed: false, out start);
        valid &= to is { } t && TryReadTime(t, endOfDayAllowed: true, out end);
        if (!valid || start is not { } s)
        {
            return null;
        }

        if (end is { } e && e <= s)
        {
            errors.Add(to!.Value.Node, to.Value.Path, $"to ({to.Value.Text}) must be later than from ({from!.Value.Text}); a range cannot cross midnight: split it into one ending at 24:00 and one starting at 00:00 on the next day");
            return null;
        }

        return new TimeOfDayRange(s, end);
    }

    /// <summary>A time of day as HH:mm; <c>24:00</c>, the end of the day, gives a null <paramref name="time"/>.</summary>
    private bool TryReadTime(Located value, bool endOfDayAllowed, out LocalTime? time)
    {
        time = null;
        if (value.Text == "24:00" && endOfDayAllowed)
        {
            return true;
        }

        var parsed = TimePattern.Parse(value.Text);
        if (parsed.Success)
        {
            time = parsed.Value;
            return true;
        }

        var allowed = endOfDayAllowed ? "00:00 to 23:59, or 24:00 for the end of the day" : "00:00 to 23:59";
        errors.Add(value.Node, value.Path, $"'{value.Text}' is not a time of day: use HH:mm from {allowed}");
        return false;
    }

    private void ReadAccessLevels(YamlMap root)
    {
        foreach (var item in root.List("accessLevels"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "an access level", AccessLevelKeys) is not { } map)
            {
                continue;
            }

            var id = Declare(accessLevelIds, map.Id("id"));
            var name = map.Text("name");
            var levelZones = map.ScalarList("zones", required: true, nonEmpty: true);
            foreach (var zone in levelZones)
            {
                Reference(zoneIds, zone);
            }

            var schedule = Reference(scheduleIds, map.Scalar("schedule"));
            var escort = map.Boolean("escort", false);
            var escortedOnly = map.Boolean("escortedOnly", false);
            if (escort == true && escortedOnly == true)
            {
                var at = map.Scalar("escortedOnly")!.Value;
                errors.Add(at.Node, at.Path, "a level cannot be both escort and escortedOnly: an escort needs unescorted access to the zones they escort into");
                continue;
            }

            if (id is { } i && name is not null && levelZones.Count > 0 && schedule is { } s && escort is { } canEscort && escortedOnly is { } onlyEscorted)
            {
                accessLevels.Add(new AccessLevel(
                    new AccessLevelId(i.Text),
                    name,
                    levelZones.Select(z => new ZoneId(z.Text)).ToImmutableHashSet(),
                    new ScheduleId(s.Text),
                    canEscort,
                    onlyEscorted));
            }
        }
    }

    private void ReadPeople(YamlMap root)
    {
        foreach (var item in root.List("people"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a person", PersonKeys) is not { } map)
            {
                continue;
            }

            var id = Declare(personIds, map.Id("id"));
            if (id is { } declared && Adopts(SiteIdsInUse.Person, declared.Text, declared, $"person '{declared.Text}'", map.Boolean("adopt", false),
                    "would replace their name, kind, status and access levels, and a later file that leaves them out would suspend them"))
            {
                adoptedPeople.Add(new PersonId(declared.Text));
            }

            var name = map.Text("name");
            var kind = map.Token("kind", PersonKinds, null);
            var status = map.Token("status", PersonStatuses, PersonStatus.Active);
            var levels = map.ScalarList("accessLevels");
            foreach (var level in levels)
            {
                Reference(accessLevelIds, level);
            }

            if (id is { } i && name is not null && kind is { } k && status is { } s)
            {
                people.Add(new Person(new PersonId(i.Text), name, k, s, [.. levels.Select(l => new AccessLevelId(l.Text))]));
            }
        }
    }

    private void ReadCredentials(YamlMap root)
    {
        foreach (var item in root.List("credentials"))
        {
            if (YamlMap.Open(item.Node, item.Path, errors, "a credential", CredentialKeys) is not { } map)
            {
                continue;
            }

            var card = ReadCardUid(map);
            var technology = map.Scalar("technology") is { } t && CheckTechnology(t) ? t.Text : null;
            var person = Reference(personIds, map.Scalar("person"));
            var validFrom = ReadInstant(map, "validFrom");
            var validUntil = ReadInstant(map, "validUntil");
            var status = map.Token("status", CredentialStatuses, CredentialStatus.Active);
            if (validFrom is { Value: { } from } && validUntil is { Value: { } until } && until <= from)
            {
                var at = map.Scalar("validUntil")!.Value;
                errors.Add(at.Node, at.Path, "validUntil must be later than validFrom (a credential is valid from validFrom up to, not including, validUntil)");
                continue;
            }

            if (card is not null && technology is not null && person is { } p && validFrom is { } vf && validUntil is { } vu && status is { } s)
            {
                credentials.Add(new Credential(card, technology, new PersonId(p.Text), vf.Value, vu.Value, s));
            }
        }
    }

    private string? ReadCardUid(YamlMap map)
    {
        if (map.Scalar("card") is not { } value)
        {
            return null;
        }

        var uid = CardUid.Normalize(value.Text);
        if (uid is null)
        {
            errors.Add(value.Node, value.Path, $"'{value.Text}' is not a card UID: use 2 to 32 hexadecimal digits (':', '-' and spaces between them are ignored)");
            return null;
        }

        if (cardUids.TryGetValue(uid, out var first))
        {
            errors.Add(value.Node, value.Path, $"card {uid} is already declared at {first.Path} (line {first.Node.Start.Line}); a card belongs to one credential");
            return null;
        }

        if (otherSites.HeldElsewhere(SiteIdsInUse.Card, uid, siteId) is { } holder)
        {
            errors.Add(value.Node, value.Path, $"card {uid} is already used by the {holder}; a site file changes only its own site's cardholders, "
                + "and importing this one would bind the card to this file's person: take it out of the other site's file first (or revoke it there)");
        }
        else if (Adopts(SiteIdsInUse.Card, uid, value, $"card {uid}", map.Boolean("adopt", false),
            "would replace its person, validity and status, and a later file that leaves it out would revoke it"))
        {
            adoptedCards.Add(uid);
        }

        cardUids.Add(uid, value);
        return uid;
    }

    /// <summary>An optional RFC 3339 UTC instant. Null means invalid (reported); a holder of null means absent.</summary>
    private OptionalInstant? ReadInstant(YamlMap map, string key)
    {
        if (map.Scalar(key, required: false) is not { } value)
        {
            return new OptionalInstant(null);
        }

        // Cut to the millisecond, as the cardholder tables keep it (Credential.StoredPrecision): else a file's bound is
        // compared with its stored copy as different at every start, and bounds within a millisecond pass the check
        // below and fail the table's at import.
        var parsed = InstantPattern.ExtendedIso.Parse(value.Text);
        if (parsed.Success)
        {
            return new OptionalInstant(Credential.StoredPrecision(parsed.Value));
        }

        errors.Add(value.Node, value.Path, $"'{value.Text}' is not an RFC 3339 UTC instant: use the form 2026-01-01T00:00:00Z");
        return null;
    }

    private readonly record struct OptionalInstant(Instant? Value);

    /// <summary>Where a zone was declared and what the containment rules need of it.</summary>
    private sealed record ZoneDraft(YamlMap Map, int Order, Located? Id, Located? Parent, ZoneKind? Kind)
    {
        public bool TwoFactor { get; init; }

        public bool EscortRequired { get; init; }

        public bool AntiPassback { get; init; }
    }

    /// <summary>Where a door was declared and the zones it joins.</summary>
    private sealed record DoorDraft(YamlMap Map, Located? Id, Located? From, Located? To);
}

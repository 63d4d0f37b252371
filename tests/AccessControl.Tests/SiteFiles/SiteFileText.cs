using AccessControl.SiteFiles;

namespace AccessControl.Tests.SiteFiles;

/// <summary>A small but complete site file, and helpers to break it in one place and find where that place is.</summary>
internal static class SiteFileText
{
    public const string FileName = "test-site.yaml";

    public const string Valid = """
        version: 1
        site: { id: fra1, name: Frankfurt 1, timeZone: Europe/Berlin }
        zones:
          - { id: campus, name: Campus, kind: site, securityLevel: 1 }
          - { id: bldg, name: Building, kind: building, parent: campus, securityLevel: 2, antiPassback: soft }
          - { id: hall, name: Hall, kind: data-hall, parent: bldg, securityLevel: 3, antiPassback: hard, technologies: [desfire-ev3] }
        controllers:
          - { id: ctl-lobby, name: Lobby controller }
          - { id: ctl-hall, name: Hall controller, heartbeatSeconds: 45 }
        doors:
          - { id: door-lobby, name: Lobby, to: bldg, controller: ctl-lobby }
          - { id: door-hall, name: Hall door, from: bldg, to: hall, controller: ctl-hall, unlockSeconds: 7, heldOpenSeconds: 45 }
        readers:
          - { id: rdr-lobby-in, type: card, door: door-lobby, direction: in }
          - { id: rdr-hall-in, type: card, door: door-hall, direction: in, heartbeatSeconds: 60 }
          - { id: rdr-hall-out, type: fingerprint, door: door-hall, direction: out }
        schedules:
          - id: office
            name: Office hours
            intervals:
              - { days: [mon, tue, wed, thu, fri], from: "07:00", to: "19:00" }
              - { days: [sat], from: "09:00", to: "24:00" }
            holidays: [2026-12-24, 2026-12-25]
            holidayIntervals:
              - { from: "10:00", to: "12:00" }
        accessLevels:
          - { id: building, name: Building, zones: [campus, bldg], schedule: always }
          - { id: hall-office, name: Hall in office hours, zones: [hall], schedule: office }
        people:
          - { id: p-alice, name: Alice Adams, kind: employee, accessLevels: [building, hall-office] }
          - { id: p-bob, name: Bob Brown, kind: contractor, status: suspended, accessLevels: [building] }
          - { id: p-carol, name: Carol Clark, kind: visitor }
        credentials:
          - { card: "04:a1:b2:c3:d4:e5:f6", technology: desfire-ev3, person: p-alice, validFrom: 2026-01-01T00:00:00Z, validUntil: 2027-01-01T00:00:00Z }
          - { card: "04B0B0B0B0B0B0", technology: mifare-classic, person: p-bob, status: revoked }

        """;

    /// <summary>The valid file with exactly one occurrence of <paramref name="oldText"/> replaced.</summary>
    public static string With(string oldText, string newText)
    {
        var index = Valid.IndexOf(oldText, StringComparison.Ordinal);
        Assert.True(index >= 0, $"'{oldText}' is not in the test file");
        Assert.Equal(-1, Valid.IndexOf(oldText, index + 1, StringComparison.Ordinal));
        return string.Concat(Valid.AsSpan(0, index), newText, Valid.AsSpan(index + oldText.Length));
    }

    public static SiteFileResult Parse(string yaml) => SiteFileLoader.Parse(yaml, FileName);

    /// <summary>The 1-based line and column where <paramref name="text"/> first occurs.</summary>
    public static (int Line, int Column) PositionOf(string yaml, string text)
    {
        var index = yaml.IndexOf(text, StringComparison.Ordinal);
        Assert.True(index >= 0, $"'{text}' is not in the file");
        var lineStart = index == 0 ? 0 : yaml.LastIndexOf('\n', index - 1) + 1;
        return (yaml.AsSpan(0, index).Count('\n') + 1, index - lineStart + 1);
    }

    /// <summary>The single error of a result, with the model checked to be absent.</summary>
    public static SiteFileError SingleError(SiteFileResult result)
    {
        Assert.Null(result.Site);
        Assert.False(result.Success);
        return Assert.Single(result.Errors);
    }
}

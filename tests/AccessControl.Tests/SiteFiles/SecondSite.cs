namespace AccessControl.Tests.SiteFiles;

/// <summary>
/// A second, valid site file ("site-b", New York) to load beside the demo site; each id can be set to one of the
/// demo's to make the two collide (its person and card too). Its staff level (Saturday and Sunday, 07:00-08:00 New York) is held by Bea Newman.
/// </summary>
internal static class SecondSite
{
    public const string Id = "site-b";
    public const string Reader = "rdr-b-in";
    public const string StaffCard = "04B0000000B001";

    public static string Yaml(string zone = "b-campus", string door = "door-b", string reader = Reader, string controller = "ctl-b",
        string firePanel = "fire-b", string schedule = "b-hours", string level = "b-staff", string? levelSchedule = null, string person = "p-bnewman", string card = StaffCard) => $$"""
        version: 1
        site: { id: {{Id}}, name: Site B, timeZone: America/New_York }
        zones:
          - { id: {{zone}}, name: B campus, kind: site, securityLevel: 1 }
        controllers:
          - { id: {{controller}}, name: B controller }
        doors:
          - { id: {{door}}, name: B door, to: {{zone}}, controller: {{controller}} }
        readers:
          - { id: {{reader}}, type: card, door: {{door}}, direction: in }
        firePanels: [{{firePanel}}]
        schedules:
          - id: {{schedule}}
            name: B hours
            intervals:
              - { days: [sat, sun], from: "07:00", to: "08:00" }
        accessLevels:
          - { id: {{level}}, name: Site B staff, zones: [{{zone}}], schedule: {{levelSchedule ?? schedule}} }
        people:
          - { id: {{person}}, name: Bea Newman, kind: employee, accessLevels: [{{level}}] }
        credentials:
          - { card: "{{card}}", technology: desfire-ev3, person: {{person}} }
        """;
}

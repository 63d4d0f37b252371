using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using AccessControl.Visitors;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace AccessControl.Tests.Visitors;

/// <summary>
/// The desk reads a visit's window on its site's wall clock, with the offset that says which 02:30 of a fall-back night
/// is meant, in every answer carrying a visit, in the check-in refusals and in <c>visit list</c>; the UTC instants stay
/// as they were. Over HTTP against the running service (real SQLite, Kestrel, broker; a fake clock). The JSON is read
/// as text: the wire format is what a client sees.
/// </summary>
public sealed class VisitLocalTimeTests : IDisposable
{
    private static readonly Instant BeforeFallBack = Instant.FromUtc(2026, 10, 20, 8, 0);

    private readonly DataFolder folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>
    /// Europe/Berlin goes back from 03:00 CEST to 02:00 CET on 25 October 2026: a requested 02:30 is the first one
    /// (+02:00), and a night visit begun the evening before (summer time) ends at 06:00 winter time (+01:00). The
    /// request's, the approval's, the visit's and the day list's answers all say so, the instants unchanged.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task VisitJson_OnTheBerlinFallBackNight_GivesTheLocalWindowWithTheOffsetOfEachOccurrence()
    {
        await using var edge = await EdgeHarness.StartAsync(now: BeforeFallBack);
        using var desk = VisitDesk.For(edge);

        var overlap = await PostAsync(desk.Host, "api/v1/visits", VisitDesk.Request(date: "2026-10-25", start: "02:30", end: "02:45"));
        var night = await PostAsync(desk.Host, "api/v1/visits", VisitDesk.Request(date: "2026-10-24", start: "22:00", end: "06:00"));
        var id = overlap.GetProperty("id").GetInt64();
        var approved = await PostAsync(desk.Approver, $"api/v1/visits/{id}/approve", new { note = "ok" });
        var shown = await GetAsync(desk.Frontdesk, $"api/v1/visits/{id}");
        var listed = await GetAsync(desk.Frontdesk, "api/v1/visits?date=2026-10-25");

        foreach (var visit in new[] { overlap, approved, shown, listed[1] })
        {
            Assert.Equal(
                ("Europe/Berlin", "2026-10-25T02:30:00+02:00", "2026-10-25T02:45:00+02:00", "2026-10-25T00:30:00Z", "2026-10-25T00:45:00Z"),
                Window(visit.GetProperty("window")));
        }

        Assert.Equal(Window(overlap.GetProperty("window")), Window(approved.GetProperty("approved").GetProperty("window")));
        Assert.Equal(
            ("Europe/Berlin", "2026-10-24T22:00:00+02:00", "2026-10-25T06:00:00+01:00", "2026-10-24T20:00:00Z", "2026-10-25T05:00:00Z"),
            Window(night.GetProperty("window")));
        Assert.Equal([night.GetProperty("id").GetInt64(), id], listed.EnumerateArray().Select(v => v.GetProperty("id").GetInt64())); // in start order
    }

    /// <summary>
    /// A site in New York: clocks go back from 02:00 EDT to 01:00 EST on 1 November 2026; a requested 01:30 is the first
    /// one (-04:00), the morning after is -05:00.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task VisitJson_AtANewYorkSite_OnTheUsFallBackNight_GivesTheLocalWindowWithItsOffsets()
    {
        await using var edge = await EdgeHarness.StartAsync(now: BeforeFallBack, configure: s => s with { SiteFile = SiteFileIn("America/New_York") });
        using var desk = VisitDesk.For(edge);

        var overlap = await PostAsync(desk.Host, "api/v1/visits", VisitDesk.Request(date: "2026-11-01", start: "01:30", end: "01:45"));
        var night = await PostAsync(desk.Host, "api/v1/visits", VisitDesk.Request(date: "2026-10-31", start: "22:00", end: "06:00"));

        Assert.Equal(
            ("America/New_York", "2026-11-01T01:30:00-04:00", "2026-11-01T01:45:00-04:00", "2026-11-01T05:30:00Z", "2026-11-01T05:45:00Z"),
            Window(overlap.GetProperty("window")));
        Assert.Equal(
            ("America/New_York", "2026-10-31T22:00:00-04:00", "2026-11-01T06:00:00-05:00", "2026-11-01T02:00:00Z", "2026-11-01T11:00:00Z"),
            Window(night.GetProperty("window")));
    }

    /// <summary>
    /// A visit 03:00-04:00 on the Berlin fall-back night opens for check-in at the second 02:30 (CET, +01:00). At the
    /// first 02:10 (CEST) the desk is refused naming that 02:30 with its offset, the zone and UTC; after 04:00, the end the same way.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task CheckIn_TooEarlyOrTooLate_OnTheFallBackNight_NamesTheLocalTimeWithOffsetAndZone_AndUtc()
    {
        await using var edge = await EdgeHarness.StartAsync(now: BeforeFallBack);
        using var desk = VisitDesk.For(edge);
        await desk.AddBadgeAsync();
        var visit = await PostAsync(desk.Host, "api/v1/visits", VisitDesk.Request(date: "2026-10-25", start: "03:00", end: "04:00"));
        var id = visit.GetProperty("id").GetInt64();
        await desk.ApproveAsync(id);

        edge.Clock.Reset(Instant.FromUtc(2026, 10, 25, 0, 10)); // 02:10 CEST, the first time
        var early = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{id}/check-in", VisitDesk.CheckIn());
        edge.Clock.Reset(Instant.FromUtc(2026, 10, 25, 3, 5)); // 04:05 CET
        var late = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{id}/check-in", VisitDesk.CheckIn());

        Assert.Equal(
            "Check-in opens at 2026-10-25T02:30:00+01:00 Europe/Berlin (2026-10-25T01:30:00Z); the visit starts at 2026-10-25T03:00:00+01:00 Europe/Berlin (2026-10-25T02:00:00Z).",
            await DetailAsync(early));
        Assert.Equal("The visit's window ended at 2026-10-25T04:00:00+01:00 Europe/Berlin (2026-10-25T03:00:00Z).", await DetailAsync(late));
    }

    /// <summary>
    /// <c>visit list</c> prints a table with each window on its site's clock, offset and zone, not the UTC instants;
    /// <c>--json</c> prints the service's answer, local times included.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public async Task VisitList_PrintsTheWindowsOnTheSitesClockWithOffsetAndZone_AndJsonOnRequest()
    {
        await using var edge = await EdgeHarness.StartAsync(now: BeforeFallBack);
        using var desk = VisitDesk.For(edge);
        var overlap = await PostAsync(desk.Host, "api/v1/visits", VisitDesk.Request(date: "2026-10-25", start: "02:30", end: "02:45"));
        var night = await PostAsync(desk.Host, "api/v1/visits", VisitDesk.Request(date: "2026-10-24", start: "22:00", end: "06:00"));
        var token = desk.Frontdesk.DefaultRequestHeaders.Authorization!.Parameter!;
        var url = edge.Host.HttpAddress.ToString();

        var table = await VisitCliTests.RunAsync(url, token, ["visit", "list", "--date", "2026-10-25"]);
        var json = await VisitCliTests.RunAsync(url, token, ["visit", "list", "--date", "2026-10-25", "--site", "demo", "--json"]);

        Assert.True(table.Code == 0, table.Error);
        var lines = table.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["ID", "SITE", "STATUS", "STARTS", "ENDS", "ZONE", "VISITORS", "HOST"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(
            [night.GetProperty("id").GetInt64().ToString(), "demo", "requested", "2026-10-24", "22:00", "+02:00", "2026-10-25", "06:00", "+01:00", "Europe/Berlin", "1", "p-jweber"],
            lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(
            [overlap.GetProperty("id").GetInt64().ToString(), "demo", "requested", "2026-10-25", "02:30", "+02:00", "2026-10-25", "02:45", "+02:00", "Europe/Berlin", "1", "p-jweber"],
            lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("00:30", table.Output, StringComparison.Ordinal); // 02:30 CEST in UTC
        Assert.True(json.Code == 0, json.Error);
        Assert.Equal("2026-10-25T06:00:00+01:00", JsonDocument.Parse(json.Output).RootElement[0].GetProperty("window").GetProperty("endsLocal").GetString());
    }

    /// <summary>
    /// The desk's two live lists on the Berlin fall-back night at 02:50 CET (01:50 UTC, the second time the clocks read
    /// 02:50): a night visit checked in at 23:00 summer time, last let through at the second 02:40, ending 06:00 winter
    /// time; a short visit 02:15-02:45 (the first occurrence) checked in at the first 02:20, its badge still out and its
    /// alarm raised at 02:50 winter time: ten minutes after its end by the clock's face, in fact sixty-five.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task OnSiteAndOverdueJson_OnTheBerlinFallBackNight_GiveEachTimeOnTheSitesClockWithItsOffset()
    {
        await using var edge = await EdgeHarness.StartAsync(now: BeforeFallBack);
        using var desk = VisitDesk.For(edge);
        var (night, overlap) = await FallBackNightAsync(edge, desk);

        var onSite = await GetAsync(desk.Frontdesk, "api/v1/visits/on-site?site=demo");
        var overdue = await GetAsync(desk.Security, "api/v1/visits/overdue-badges");

        string? S(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetString() : null;
        var stayed = onSite.EnumerateArray().Single(v => v.GetProperty("visit").GetInt64() == night);
        Assert.Equal(
            ("Europe/Berlin", "2026-10-24T23:00:00+02:00", "2026-10-24T21:00:00Z", "2026-10-25T06:00:00+01:00", "2026-10-25T05:00:00Z"),
            (S(stayed, "timeZone"), S(stayed, "checkedInLocal"), S(stayed, "checkedInAt"), S(stayed, "windowEndsLocal"), S(stayed, "windowEndsAt")));
        var seen = stayed.GetProperty("lastSeen");
        Assert.Equal(("2026-10-25T02:40:00+01:00", "2026-10-25T01:40:00Z", "door-dh1"), (S(seen, "atLocal"), S(seen, "at"), S(seen, "door")));
        var late = onSite.EnumerateArray().Single(v => v.GetProperty("visit").GetInt64() == overlap);
        Assert.Equal(
            ("Europe/Berlin", "2026-10-25T02:20:00+02:00", "2026-10-25T02:45:00+02:00", "2026-10-25T00:45:00Z"),
            (S(late, "timeZone"), S(late, "checkedInLocal"), S(late, "windowEndsLocal"), S(late, "windowEndsAt")));
        var badge = Assert.Single(overdue.EnumerateArray());
        Assert.Equal(
            (overlap, "Europe/Berlin", "2026-10-25T02:45:00+02:00", "2026-10-25T00:45:00Z", "2026-10-25T02:50:00+01:00", "2026-10-25T01:50:00Z"),
            (badge.GetProperty("visit").GetInt64(), S(badge, "timeZone"), S(badge, "windowEndedLocal"), S(badge, "windowEndedAt"), S(badge, "alarmRaisedLocal"), S(badge, "alarmRaisedAt")));
    }

    /// <summary>
    /// <c>visit on-site</c> (the muster list) and <c>visit overdue</c> print tables with every time on the site's clock,
    /// offset and zone, as <c>visit list</c> does, showing of each visitor what the answer shows and no document;
    /// <c>--json</c> prints the service's answer.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    [Trait("control", "NIST-PE-8")]
    public async Task VisitOnSiteAndOverdue_PrintTablesOnTheSitesClockWithOffsetAndZone_AndJsonOnRequest()
    {
        await using var edge = await EdgeHarness.StartAsync(now: BeforeFallBack);
        using var desk = VisitDesk.For(edge);
        var (night, overlap) = await FallBackNightAsync(edge, desk);
        var token = desk.Frontdesk.DefaultRequestHeaders.Authorization!.Parameter!;
        var url = edge.Host.HttpAddress.ToString();

        var onSite = await VisitCliTests.RunAsync(url, token, ["visit", "on-site", "--site", "demo"]);
        var overdue = await VisitCliTests.RunAsync(url, token, ["visit", "overdue"]);
        var json = await VisitCliTests.RunAsync(url, token, ["visit", "overdue", "--json"]);

        Assert.True(onSite.Code == 0, onSite.Error);
        var lines = onSite.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal(
            ["VISIT", "VISITOR", "NAME", "ORGANIZATION", "HOST", "BADGE", "CHECKED", "IN", "ENDS", "ZONE", "LAST", "SEEN", "WHERE"],
            lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(
            $"{night}      1        José María Pérez-García  Kältetechnik Rhein-Main GmbH  p-jweber  {VisitDesk.Badge1}  2026-10-24 23:00 +02:00  2026-10-25 06:00 +01:00  Europe/Berlin  2026-10-25 02:40 +01:00  door-dh1",
            lines.Single(l => l.StartsWith($"{night} ", StringComparison.Ordinal)));
        Assert.Equal(
            $"{overlap}      1        Ada Lovelace             Analytical Engines Ltd        p-jweber  {VisitDesk.Badge2}  2026-10-25 02:20 +02:00  2026-10-25 02:45 +02:00  Europe/Berlin  -                        -",
            lines.Single(l => l.StartsWith($"{overlap} ", StringComparison.Ordinal)));
        Assert.DoesNotContain(VisitDesk.Passport[^4..], onSite.Output, StringComparison.Ordinal); // no document, not even its last four
        Assert.True(overdue.Code == 0, overdue.Error);
        Assert.Equal(
            [
                ["BADGE", "VISIT", "VISITOR", "NAME", "ORGANIZATION", "HOST", "ENDED", "ZONE", "ALARM"],
                [VisitDesk.Badge2, overlap.ToString(), "1", "Ada", "Lovelace", "Analytical", "Engines", "Ltd", "p-jweber", "2026-10-25", "02:45", "+02:00", "Europe/Berlin", "2026-10-25", "02:50", "+01:00"],
            ],
            overdue.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.True(json.Code == 0, json.Error);
        Assert.Equal("2026-10-25T02:45:00+02:00", JsonDocument.Parse(json.Output).RootElement[0].GetProperty("windowEndedLocal").GetString());
    }

    /// <summary>
    /// The night of 24-25 October 2026 at the demo site (Berlin), as <see cref="OnSiteAndOverdueJson_OnTheBerlinFallBackNight_GiveEachTimeOnTheSitesClockWithItsOffset"/>
    /// tells it; leaves the clock at 02:50 CET with the short visit's alarm raised. Returns the two visits' ids.
    /// </summary>
    private static async Task<(long Night, long Overlap)> FallBackNightAsync(EdgeHarness edge, VisitDesk desk)
    {
        await desk.AddBadgeAsync(VisitDesk.Badge1);
        await desk.AddBadgeAsync(VisitDesk.Badge2);
        var night = (await desk.RequestAsync(VisitDesk.Request(date: "2026-10-24", start: "22:00", end: "06:00"))).Id;
        var overlap = (await desk.RequestAsync(VisitDesk.Request(date: "2026-10-25", start: "02:15", end: "02:45",
            visitors: [new { name = "Ada Lovelace", organization = "Analytical Engines Ltd" }]))).Id;
        await desk.ApproveAsync(night);
        await desk.ApproveAsync(overlap);

        edge.Clock.Reset(Instant.FromUtc(2026, 10, 24, 21, 0)); // 23:00 CEST
        await CheckInAsync(desk, night, VisitDesk.CheckIn(badge: VisitDesk.Badge1));
        edge.Clock.Reset(Instant.FromUtc(2026, 10, 25, 0, 20)); // 02:20 CEST, the first time
        await CheckInAsync(desk, overlap, VisitDesk.CheckIn(name: "LOVELACE ADA", number: "L0V3L4C3", badge: VisitDesk.Badge2));
        edge.Clock.Reset(Instant.FromUtc(2026, 10, 25, 1, 40)); // 02:40 CET, the second time
        var dataHall = await edge.ReaderAsync("rdr-dh1-in");
        var swipe = await dataHall.PresentCardAsync(VisitDesk.Badge1, DemoCards.Ev3).WaitAsync(EdgeHarness.Timeout);
        Assert.True(swipe.Grant, swipe.Reason);
        edge.Clock.Reset(Instant.FromUtc(2026, 10, 25, 1, 50)); // 02:50 CET
        Assert.Single(await edge.Host.Services.GetRequiredService<VisitorService>().CheckOverdueBadgesAsync());
        return (night, overlap);
    }

    private static async Task CheckInAsync(VisitDesk desk, long visit, object checkIn)
    {
        var response = await desk.Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit}/check-in", checkIn);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>A copy of the demo site file in another time zone.</summary>
    private string SiteFileIn(string zone)
    {
        var path = Path.Combine(folder.Path, "demo.yaml");
        File.WriteAllText(path, File.ReadAllText(EdgeHarness.DemoSiteFile).Replace("timeZone: Europe/Berlin", "timeZone: " + zone, StringComparison.Ordinal));
        return path;
    }

    private static (string?, string?, string?, string?, string?) Window(JsonElement window)
    {
        string? S(string name) => window.TryGetProperty(name, out var v) ? v.GetString() : null;
        return (S("timeZone"), S("startsLocal"), S("endsLocal"), S("startsAt"), S("endsAt"));
    }

    private static async Task<JsonElement> PostAsync(HttpClient client, string path, object body)
    {
        var response = await client.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> GetAsync(HttpClient client, string path) =>
        JsonDocument.Parse(await client.GetStringAsync(path)).RootElement.Clone();

    private static async Task<string?> DetailAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, text);
        return JsonDocument.Parse(text).RootElement.GetProperty("detail").GetString();
    }
}

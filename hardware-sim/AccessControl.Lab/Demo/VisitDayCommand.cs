using System.Net.Http.Headers;
using System.Net.Http.Json;
using AccessControl.Admin;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Readers;
using AccessControl.HardwareSim.Sites;
using AccessControl.Hosting;
using AccessControl.Visitors;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Lab.Demo;

/// <summary>
/// A visitor's day at the demo site, end to end through the real interfaces: the host requests the visit over the
/// HTTP API, an approver approves it, the front desk checks the visitor in with a passport (a pooled badge is bound
/// to the visit), the visitor follows the operator into the server room on simulated readers (refused alone,
/// granted behind the escort), the escort leaves early (visitor_unescorted), the front desk checks the visitor out
/// and the returned badge is refused a moment later. Every entry-log row is printed as it is committed.
/// </summary>
public sealed class VisitDayCommand(IClock clock, TimeProvider time, TextWriter output)
{
    private const string Badge = "04BADE000000A1";
    private const string Operator = "04A1B2C3D4E5F6";
    private const string Technology = "desfire-ev3";
    private static readonly LocalDatePattern Date = LocalDatePattern.Iso;
    private static readonly LocalTimePattern Time = LocalTimePattern.CreateWithInvariantCulture("HH':'mm");

    public async Task<int> RunAsync(CancellationToken stopping)
    {
        var directory = Directory.CreateTempSubdirectory("aclab-visit-day-").FullName;
        var settings = new ServiceSettings
        {
            DataDirectory = directory,
            SiteFile = Path.Combine(AppContext.BaseDirectory, "sites", "demo.yaml"),
            HttpUrl = "http://127.0.0.1:0",
            Broker = new Broker.BrokerOptions { Port = 0 },
        };
        await using var host = AccessControlHost.Create(settings, clock, time, l => l.SetMinimumLevel(LogLevel.Warning).AddServiceConsole(time, timestampFormat: null));
        var zone = host.Edge.Configuration.Topology.Sites.Values.First().TimeZone;
        host.Edge.Pipeline.Committed += rows =>
        {
            foreach (var row in rows.Where(r => r.Kind is not (EntryLog.LogKinds.Admin or EntryLog.LogKinds.Device)))
            {
                output.WriteLine("      log: " + DemoCommand.Describe(row, zone));
            }
        };
        await host.StartAsync(stopping);
        await DemoFingerprints.EnrollAsync(host.Edge, output, stopping);
        output.WriteLine($"Visit day at site 'demo': admin API {host.HttpAddress}, MQTT 127.0.0.1:{host.Edge.BrokerPort}, data {directory}");

        var tokens = new ApiTokens(host.Edge.Database, clock);
        using var hostApi = Client(host.HttpAddress, tokens.CreateToken("jweber", OperatorRole.Host, "visit-day", "p-jweber"));
        using var approver = Client(host.HttpAddress, tokens.CreateToken("aschulz", OperatorRole.Approver, "visit-day", "p-aschulz"));
        using var desk = Client(host.HttpAddress, tokens.CreateToken("desk-1", OperatorRole.Frontdesk, "visit-day", "p-aschulz"));
        using var admin = Client(host.HttpAddress, tokens.CreateToken("admin-1", OperatorRole.Admin, "visit-day", "p-mkoch"));

        var options = new DeviceOptions { Broker = new BrokerEndpoint("127.0.0.1", host.Edge.BrokerPort) };
        await using var devices = SimulatedSite.FromTopology(host.Edge.Configuration.Topology, options, host.Edge.Secrets, clock, time,
            doorOptions: new DoorControllerOptions { AutoOpenOnUnlock = true, OpenDelay = TimeSpan.FromMilliseconds(200), OpenFor = TimeSpan.FromMilliseconds(800) });
        await devices.StartAsync(stopping);

        // The visit: from 20 minutes from now for three hours, in the site's local time.
        var start = clock.GetCurrentInstant().InZone(zone).LocalDateTime.PlusMinutes(20);
        var end = start.PlusHours(3);
        Step("host p-jweber requests a visit for José María Pérez-García (HVAC contractor) to data hall 1 and server room 1, escorted by p-mkoch");
        await Expect(await admin.PutAsJsonAsync($"api/v1/badge-pool/{Badge}", new { site = "demo", technology = Technology }, stopping));
        var visit = await Read<VisitView>(await hostApi.PostAsJsonAsync("api/v1/visits", new
        {
            site = "demo",
            purpose = "Replace a failed CRAC fan in server room 1",
            date = Date.Format(start.Date),
            start = Time.Format(start.TimeOfDay),
            end = Time.Format(end.TimeOfDay),
            zones = new[] { "demo-campus", "demo-bldg-a", "demo-dh1", "demo-sr1" },
            visitors = new[] { new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" } },
            escorts = new[] { "p-mkoch" },
        }, stopping));
        output.WriteLine($"      visit {visit.Id}: {visit.Status}, {visit.Window.Date} {visit.Window.Start}-{visit.Window.End}");

        Step("the host, then the escort, try to approve the visit (segregation of duties: neither approves their own duty)");
        using (var self = Client(host.HttpAddress, tokens.CreateToken("jweber-approver", OperatorRole.Approver, "visit-day", "p-jweber")))
        using (var escort = Client(host.HttpAddress, tokens.CreateToken("mkoch", OperatorRole.Approver, "visit-day", "p-mkoch")))
        {
            var refused = await self.PostAsJsonAsync($"api/v1/visits/{visit.Id}/approve", new { note = "self" }, stopping);
            output.WriteLine($"      host refused: HTTP {(int)refused.StatusCode}");
            refused = await escort.PostAsJsonAsync($"api/v1/visits/{visit.Id}/approve", new { note = "escorted by me" }, stopping);
            output.WriteLine($"      escort refused: HTTP {(int)refused.StatusCode}");
        }

        Step("approver p-aschulz approves it before it starts");
        visit = await Read<VisitView>(await approver.PostAsJsonAsync($"api/v1/visits/{visit.Id}/approve", new { note = "escort p-mkoch confirmed" }, stopping));
        output.WriteLine($"      visit {visit.Id}: {visit.Status}");

        Step("front desk: the visitor shows an expired passport, then a valid one");
        var expired = await desk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", CheckIn("2024-01-31"), stopping);
        output.WriteLine($"      expired passport refused: HTTP {(int)expired.StatusCode} {await expired.Content.ReadAsStringAsync(stopping)}");
        visit = await Read<VisitView>(await desk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", CheckIn("2031-05-31"), stopping));
        output.WriteLine($"      checked in with badge {visit.Visitors[0].Badge}; the passport number is kept only as a keyed hash and its last 4 characters");

        var readers = devices.Readers;
        Step("the visitor and the escort walk in: lobby, data hall 1");
        await Swipe(readers["rdr-lobby-in"], Operator);
        await Swipe(readers["rdr-lobby-in"], Badge);
        await Swipe(readers["rdr-dh1-in"], Operator);
        await Swipe(readers["rdr-dh1-in"], Badge);

        Step("server room 1 is escort-required and two-factor: the visitor alone is refused; the escort gives card and finger, the visitor (no fingerprint enrolled) follows right behind");
        await Swipe(readers["rdr-sr1-in"], Badge);
        devices.TryGetFingerprintReader("fp-sr1-in", out var fingerprints);
        var finger = fingerprints.PresentFingerAsync("p-mkoch", DemoFingerprints.Finger, stopping);
        await Swipe(readers["rdr-sr1-in"], Operator);
        var capture = await finger;
        output.WriteLine($"  {"fp-sr1-in",-14} {"escort finger",-13} -> score {capture?.Score}");
        await Swipe(readers["rdr-sr1-in"], Badge);

        Step("the escort leaves the server room early, with the visitor still inside");
        await Swipe(readers["rdr-sr1-out"], Operator);
        await Task.Delay(TimeSpan.FromMilliseconds(300), time, stopping);

        Step("the visitor comes out and leaves the building");
        await Swipe(readers["rdr-sr1-out"], Badge);
        await Swipe(readers["rdr-dh1-out"], Badge);
        await Swipe(readers["rdr-lobby-out"], Badge);

        Step("front desk checks the visitor out; the returned badge is refused at once");
        visit = await Read<VisitView>(await desk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-out", new { visitor = 1 }, stopping));
        output.WriteLine($"      visit {visit.Id}, visitor 1: {visit.Visitors[0].Status}; visit closed at {visit.ClosedAt}");
        await Swipe(readers["rdr-lobby-in"], Badge);

        await Task.Delay(TimeSpan.FromMilliseconds(300), time, stopping);
        output.WriteLine("Visit day done.");
        return 0;

        void Step(string text) => output.WriteLine($"--- {text}");

        async Task Swipe(CardReader reader, string card)
        {
            var decision = await reader.PresentCardAsync(card, Technology, stopping).WaitAsync(TimeSpan.FromSeconds(10), stopping);
            output.WriteLine($"  {reader.ReaderId,-14} {(card == Badge ? "visitor badge" : "escort card "),-13} -> {(decision.Grant ? "grant" : "deny")} {decision.Reason}");
            await Task.Delay(TimeSpan.FromMilliseconds(150), time, stopping);
        }
    }

    private static object CheckIn(string expiry) => new
    {
        visitor = 1,
        name = "PEREZ GARCIA JOSE MARIA",
        document = new { type = "passport", country = "ESP", number = "C01X00T47", expiry },
    };

    private static HttpClient Client(Uri address, string token)
    {
        var http = new HttpClient { BaseAddress = address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static async Task Expect(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task<T> Read<T>(HttpResponseMessage response)
    {
        await Expect(response);
        return (await response.Content.ReadFromJsonAsync<T>(AdminJson.Options))!;
    }
}

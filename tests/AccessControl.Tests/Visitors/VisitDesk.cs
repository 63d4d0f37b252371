using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Storage;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using AccessControl.Visitors;
using Microsoft.Extensions.DependencyInjection;
using NodaTime;

namespace AccessControl.Tests.Visitors;

/// <summary>
/// The people of a visit day at the demo site, each with an API client of their role: Jonas Weber (p-jweber) hosts,
/// Martina Koch (p-mkoch) escorts (<see cref="Request"/>), an approver who is neither (segregation of duties), a front
/// desk, security, an admin and an auditor. The demo clock is Tuesday
/// 1 December 2026, 10:00 in Berlin; <see cref="Request"/> asks for a visit 10:15-12:00 that day.
/// </summary>
internal sealed class VisitDesk : IDisposable
{
    public const string Badge1 = "04BADE000000A1";
    public const string Badge2 = "04BADE000000A2";
    public const string Passport = "C01X00T47";

    private readonly List<HttpClient> clients = [];

    /// <remarks>The operators who are not demo cardholders (approver, desk, security, admin, auditor) are added as people, since a token must name one.</remarks>
    public VisitDesk(Uri address, Database database, IClock clock)
    {
        HttpClient Client(string token)
        {
            var http = new HttpClient { BaseAddress = address };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            clients.Add(http);
            return http;
        }

        this.database = database;
        var tokens = new ApiTokens(database, clock);
        TestPeople.Add(database, "p-approver-1", "p-desk-1", "p-sec-1", "p-admin-1", "p-audit-1");
        Tokens = tokens;
        HostToken = tokens.CreateToken("jweber", OperatorRole.Host, "test", "p-jweber");
        Host = Client(HostToken);
        Approver = Client(tokens.CreateToken("approver-1", OperatorRole.Approver, "test", "p-approver-1"));
        Frontdesk = Client(tokens.CreateToken("desk-1", OperatorRole.Frontdesk, "test", "p-desk-1"));
        Security = Client(tokens.CreateToken("sec-1", OperatorRole.Security, "test", "p-sec-1"));
        Admin = Client(tokens.CreateToken("admin-1", OperatorRole.Admin, "test", "p-admin-1"));
        Auditor = Client(tokens.CreateToken("audit-1", OperatorRole.Auditor, "test", "p-audit-1"));
        this.address = address;
    }

    private readonly Uri address;
    private readonly Database database;

    public ApiTokens Tokens { get; }

    public string HostToken { get; }

    public HttpClient Host { get; }

    public HttpClient Approver { get; }

    public HttpClient Frontdesk { get; }

    public HttpClient Security { get; }

    public HttpClient Admin { get; }

    public HttpClient Auditor { get; }

    /// <summary>A desk on a harness, whose log scan then also looks for the desk's tokens and the test passport's number.</summary>
    public static VisitDesk For(EdgeHarness edge)
    {
        var desk = new VisitDesk(edge.Host.HttpAddress, edge.Edge.Database, edge.Clock);
        edge.TreatAsSecret("the test passport's number", Passport);
        foreach (var client in desk.clients)
        {
            edge.TreatAsSecret("an operator token", client.DefaultRequestHeaders.Authorization!.Parameter!);
        }

        return desk;
    }

    /// <summary>
    /// Another client, for a token made by the test (limited to <paramref name="site"/> when given). An unknown
    /// <paramref name="person"/> is added first, as an active employee.
    /// </summary>
    public HttpClient As(string operatorName, OperatorRole role, string person, string? site = null)
    {
        TestPeople.Add(database, person);
        var http = new HttpClient { BaseAddress = address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.CreateToken(operatorName, role, "test", person, site));
        clients.Add(http);
        return http;
    }

    public static object Request(
        string[]? zones = null, string start = "10:15", string end = "12:00", string date = "2026-12-01", object[]? visitors = null, string? host = null, string[]? escorts = null) => new
    {
        site = "demo",
        purpose = "Replace a failed PSU in rack A-07",
        date,
        start,
        end,
        zones = zones ?? ["demo-campus", "demo-bldg-a", "demo-dh1"],
        visitors = visitors ?? [new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" }],
        escorts = escorts ?? ["p-mkoch"],
        host,
    };

    public static object CheckIn(int visitor = 1, string name = "PEREZ GARCIA JOSE MARIA", string number = Passport, string expiry = "2031-05-31", string? badge = null) => new
    {
        visitor,
        name,
        document = new { type = "passport", country = "ESP", number, expiry },
        badge,
    };

    public async Task AddBadgeAsync(string card = Badge1)
    {
        var response = await Admin.PutAsJsonAsync($"api/v1/badge-pool/{card}", new { site = "demo", technology = "desfire-ev3" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Requests and returns the new visit (asserting 201).</summary>
    public async Task<VisitView> RequestAsync(object? request = null)
    {
        var response = await Host.PostAsJsonAsync("api/v1/visits", request ?? Request());
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
    }

    public async Task<VisitView> ApproveAsync(long id, HttpClient? approver = null)
    {
        var response = await (approver ?? Approver).PostAsJsonAsync($"api/v1/visits/{id}/approve", new { note = "ok, escorted by Martina" });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
    }

    /// <summary>A badge in the pool, a visit requested and approved (by <see cref="Approver"/> unless another is given), visitor 1 checked in with a badge.</summary>
    public async Task<VisitView> CheckedInVisitAsync(object? request = null, HttpClient? approver = null)
    {
        await AddBadgeAsync();
        var visit = await RequestAsync(request);
        await ApproveAsync(visit.Id, approver);
        var response = await Frontdesk.PostAsJsonAsync($"api/v1/visits/{visit.Id}/check-in", CheckIn());
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<VisitView>(AdminJson.Options))!;
    }

    public VisitView Get(EdgeHarness edge, long id) =>
        edge.Host.Services.GetRequiredService<VisitorService>().Get(id) ?? throw new InvalidOperationException($"No visit {id}.");

    public static async Task<string?> RefusalCodeAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        return json.RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
    }

    /// <summary>The problem's <c>detail</c>: what the desk reads.</summary>
    public static async Task<string> ProblemDetailAsync(HttpResponseMessage response)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("detail").GetString()!;
    }

    public static Instant At(int hour, int minute, int second = 0) => Instant.FromUtc(2026, 12, 1, hour - 1, minute, second); // Berlin = UTC+1 in December

    public void Dispose()
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }
}

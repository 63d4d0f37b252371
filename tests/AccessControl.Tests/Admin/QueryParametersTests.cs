using System.Net;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Hr;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Hr;
using AccessControl.Tests.Visitors;

namespace AccessControl.Tests.Admin;

/// <summary>
/// Every route the real service host maps, of every method (read from its endpoint data source, as in
/// <see cref="StateChangingRoutesTests"/>), refuses a query parameter it does not take, and one given twice, with 400
/// naming it: <c>/watchlist?site=B</c> or <c>/log?persn=p-1</c> silently ignored would answer with a wider listing than
/// the one asked for, read as the one asked for, and <c>POST /fire/reset?forse=true</c> would reset without the force
/// asked for. A route added later fails <see cref="EveryRoute_IsInTheQueryTable"/> until it has a row in
/// <see cref="Routes"/>, and so is swept too.
/// </summary>
public sealed class QueryParametersTests(StateChangingRoutesTests.Service service) : IClassFixture<StateChangingRoutesTests.Service>
{
    /// <summary>
    /// A route: its method, a path that matches it, a role that may call it (null: it needs no token, or for the HR
    /// feed the HR system's signature), and one parameter it takes (null: it takes none).
    /// </summary>
    public sealed record ApiRoute(string Method, string Pattern, string Path, OperatorRole? Role, string? Parameter)
    {
        public string Key => $"{Method} {Pattern}";
    }

    private static ApiRoute Get(string pattern, string path, OperatorRole? role, string? parameter) => new("GET", pattern, path, role, parameter);

    public static readonly ApiRoute[] Routes =
    [
        Get("/api/v1/people", "/api/v1/people", OperatorRole.Auditor, "limit"),
        Get("/api/v1/people/{id}", "/api/v1/people/p-lromano", OperatorRole.Auditor, null),
        Get("/api/v1/credentials/{card}", "/api/v1/credentials/" + DemoCards.Contractor, OperatorRole.Auditor, null),
        Get("/api/v1/access-levels", "/api/v1/access-levels", OperatorRole.Auditor, "after"),
        Get("/api/v1/access-levels/{id}", "/api/v1/access-levels/lobby-24x7", OperatorRole.Auditor, null),
        Get("/api/v1/tokens", "/api/v1/tokens", OperatorRole.Auditor, "limit"),
        Get("/api/v1/log", "/api/v1/log", OperatorRole.Auditor, "escort"),
        Get("/api/v1/log/verify", "/api/v1/log/verify", OperatorRole.Auditor, null),

        Get("/api/v1/visits", "/api/v1/visits", OperatorRole.Security, "site"),
        Get("/api/v1/visits/{id}", "/api/v1/visits/1", OperatorRole.Security, null),
        Get("/api/v1/visits/on-site", "/api/v1/visits/on-site", OperatorRole.Security, "site"),
        Get("/api/v1/visits/overdue-badges", "/api/v1/visits/overdue-badges", OperatorRole.Security, "site"),
        Get("/api/v1/visits/log", "/api/v1/visits/log", OperatorRole.Auditor, "site"),
        Get("/api/v1/watchlist", "/api/v1/watchlist", OperatorRole.Security, null),
        Get("/api/v1/badge-pool", "/api/v1/badge-pool", OperatorRole.Frontdesk, "site"),

        Get("/api/v1/people/{personId}/fingerprints", "/api/v1/people/p-lromano/fingerprints", OperatorRole.Auditor, null),
        Get("/api/v1/fingerprints/reconciliation", "/api/v1/fingerprints/reconciliation", OperatorRole.Auditor, null),

        Get("/api/v1/health", "/api/v1/health", null, null),
        Get("/api/v1/health/checks", "/api/v1/health/checks", OperatorRole.Auditor, null),
        Get("/api/v1/broker", "/api/v1/broker", OperatorRole.Auditor, null),
        Get("/api/v1/metrics/pipeline", "/api/v1/metrics/pipeline", OperatorRole.Auditor, null),
        Get("/api/v1/fire", "/api/v1/fire", OperatorRole.Security, null),

        new("PUT", "/api/v1/people/{id}", "/api/v1/people/p-lromano", OperatorRole.Admin, null),
        new("POST", "/api/v1/people/{id}/status", "/api/v1/people/p-lromano/status", OperatorRole.Admin, null),
        new("PUT", "/api/v1/people/{id}/access-levels", "/api/v1/people/p-lromano/access-levels", OperatorRole.Admin, null),
        new("PUT", "/api/v1/credentials/{card}", "/api/v1/credentials/" + DemoCards.Contractor, OperatorRole.Admin, null),
        new("POST", "/api/v1/credentials/{card}/status", "/api/v1/credentials/" + DemoCards.Contractor + "/status", OperatorRole.Admin, null),
        new("POST", "/api/v1/credentials/{card}/reissue", "/api/v1/credentials/" + DemoCards.Contractor + "/reissue", OperatorRole.Admin, null),
        new("PUT", "/api/v1/access-levels/{id}", "/api/v1/access-levels/lobby-24x7", OperatorRole.Admin, null),
        new("DELETE", "/api/v1/access-levels/{id}", "/api/v1/access-levels/lobby-24x7", OperatorRole.Admin, null),

        new("POST", "/api/v1/visits", "/api/v1/visits", OperatorRole.Host, null),
        new("POST", "/api/v1/visits/{id}/approve", "/api/v1/visits/1/approve", OperatorRole.Approver, null),
        new("POST", "/api/v1/visits/{id}/reject", "/api/v1/visits/1/reject", OperatorRole.Approver, null),
        new("POST", "/api/v1/visits/{id}/withdraw", "/api/v1/visits/1/withdraw", OperatorRole.Approver, null),
        new("POST", "/api/v1/visits/{id}/check-in", "/api/v1/visits/1/check-in", OperatorRole.Frontdesk, null),
        new("POST", "/api/v1/visits/{id}/check-out", "/api/v1/visits/1/check-out", OperatorRole.Frontdesk, null),
        new("POST", "/api/v1/visits/badges/{card}/check-out", "/api/v1/visits/badges/" + VisitDesk.Badge1 + "/check-out", OperatorRole.Frontdesk, null),
        new("POST", "/api/v1/visits/purge", "/api/v1/visits/purge", OperatorRole.Admin, null),
        new("POST", "/api/v1/watchlist", "/api/v1/watchlist", OperatorRole.Security, null),
        new("DELETE", "/api/v1/watchlist/{id}", "/api/v1/watchlist/1", OperatorRole.Security, null),
        new("PUT", "/api/v1/badge-pool/{card}", "/api/v1/badge-pool/" + VisitDesk.Badge1, OperatorRole.Admin, null),
        new("DELETE", "/api/v1/badge-pool/{card}", "/api/v1/badge-pool/" + VisitDesk.Badge1, OperatorRole.Admin, null),

        new("POST", "/api/v1/people/{personId}/fingerprints", "/api/v1/people/p-lromano/fingerprints", OperatorRole.Enrollment, null),
        new("DELETE", "/api/v1/fingerprints/{templateId}", "/api/v1/fingerprints/fpt-0000000000000000", OperatorRole.Enrollment, "reason"),
        new("POST", "/api/v1/fingerprints/rekey", "/api/v1/fingerprints/rekey", OperatorRole.Admin, null),

        new("POST", "/api/v1/devices/{kind}/{id}/seq-reset", "/api/v1/devices/readers/rdr-lobby-in/seq-reset", OperatorRole.Admin, "baseline"),
        new("POST", "/api/v1/fire/reset", "/api/v1/fire/reset", OperatorRole.Security, "force"),

        // Signed by the HR system, not an operator's token: checked after the signature.
        new("POST", HrFeedApi.Path, HrFeedApi.Path, null, null),
    ];

    /// <summary>
    /// Each route twice: with a parameter it does not take (a misspelling of its own, or <c>site</c> when it takes
    /// none), and with one given twice (its own, or <c>site</c>). Each with the parameter the answer must name.
    /// </summary>
    public static TheoryData<string, string, string> Requests()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var route in Routes)
        {
            var unknown = route.Parameter is { } own ? own[..^1] : "site";
            var twice = route.Parameter ?? "site";
            data.Add(route.Key, $"?{unknown}=demo", unknown);
            data.Add(route.Key, $"?{twice}=demo&{twice}=other", twice);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Requests))]
    [Trait("control", "NIST-SI-10")]
    [Trait("control", "NIST-AU-6")]
    public async Task EveryRoute_WithAParameterItDoesNotTake_OrOneGivenTwice_Is400NamingIt(string key, string query, string named)
    {
        var route = Routes.Single(r => r.Key == key);

        var (status, text) = await SendAsync(route, query);

        Assert.True(status == HttpStatusCode.BadRequest, $"{route.Method} {route.Path + query}: {(int)status} {text}");
        var problem = JsonSerializer.Deserialize<AdminApi.ApiProblem>(text, AdminJson.Options)!;
        Assert.Equal("Invalid query", problem.Title);
        var error = Assert.Single(problem.Errors!);
        Assert.Equal(named, error.Field);
        var known = route.Parameter is not null && named == route.Parameter;
        Assert.True(known ? error.Message == "must be given once" : error.Message.StartsWith("is not a parameter of this route", StringComparison.Ordinal), error.Message);
    }

    [Theory]
    [InlineData("POST", "/api/v1/fire/reset?forse=true")]
    [InlineData("POST", HrFeedApi.Path + "?batch=1")]
    [Trait("control", "NIST-AU-2")]
    public async Task ARouteWithAParameterItDoesNotTake_WithoutCredentials_IsStill401_WithItsSecurityRow(string method, string path)
    {
        var (status, rows, text) = await service.SendAsync(null, method, path, new { });

        Assert.True(status == HttpStatusCode.Unauthorized, $"{method} {path}: {(int)status} {text}");
        Assert.Contains(rows, r => r.Kind == LogKinds.Security);
    }

    [Fact]
    [Trait("control", "NIST-SI-10")]
    public void EveryRoute_IsInTheQueryTable()
    {
        var mapped = service.Routes().Where(key => !key.StartsWith("HEAD ", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        var listed = Routes.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);

        var missing = mapped.Where(p => !listed.Contains(p)).Order(StringComparer.Ordinal).ToList();
        var gone = listed.Where(p => !mapped.Contains(p)).Order(StringComparer.Ordinal).ToList();

        Assert.True(mapped.Count > 40, "the host's endpoint data source named too few routes: " + string.Join(", ", mapped));
        Assert.True(missing.Count == 0,
            "routes with no row in QueryParametersTests.Routes (give each a path, a role that may call it and a parameter it takes; "
            + "map it with .WithQueryParameters(...)):\n" + string.Join('\n', missing));
        Assert.True(gone.Count == 0, "rows for routes the service no longer maps:\n" + string.Join('\n', gone));
        Assert.Equal(listed.Count, Routes.Length);
    }

    /// <summary>The request with that query, with an operator token of the route's role, or signed by the HR system for its feed.</summary>
    private async Task<(HttpStatusCode Status, string Text)> SendAsync(ApiRoute route, string query)
    {
        if (route.Pattern == HrFeedApi.Path)
        {
            using var hr = new HrFeedClient(service.Edge);
            using var response = await hr.PostSignedAsync(HrFeedClient.Body(HrFeedClient.Transfer("query-sweep-1", "p-aschulz", "lobby-24x7")), query: query);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var (status, _, text) = await service.SendAsync(route.Role is { } role ? service.Token(role) : null, route.Method, route.Path + query, new { });
        return (status, text);
    }
}

using System.Net;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Tests.EndToEnd;

namespace AccessControl.Tests.Admin;

/// <summary>
/// Every GET route the real service host maps (read from its endpoint data source, as in
/// <see cref="StateChangingRoutesTests"/>) refuses a query parameter it does not take, and one given twice, with 400
/// naming it: <c>/watchlist?site=B</c> or <c>/log?persn=p-1</c> silently ignored would answer with a wider listing than
/// the one asked for, read as the one asked for. A GET route added later fails
/// <see cref="EveryGetRoute_IsInTheQueryTable"/> until it has a row in <see cref="Routes"/>, and so is swept too.
/// </summary>
public sealed class QueryParametersTests(StateChangingRoutesTests.Service service) : IClassFixture<StateChangingRoutesTests.Service>
{
    /// <summary>
    /// A GET route: a path that matches it, a role that may call it (null: it needs no token), and one parameter it
    /// takes (null: it takes none).
    /// </summary>
    public sealed record GetRoute(string Pattern, string Path, OperatorRole? Role, string? Parameter);

    public static readonly GetRoute[] Routes =
    [
        new("/api/v1/people", "/api/v1/people", OperatorRole.Auditor, "limit"),
        new("/api/v1/people/{id}", "/api/v1/people/p-lromano", OperatorRole.Auditor, null),
        new("/api/v1/credentials/{card}", "/api/v1/credentials/" + DemoCards.Contractor, OperatorRole.Auditor, null),
        new("/api/v1/access-levels", "/api/v1/access-levels", OperatorRole.Auditor, "after"),
        new("/api/v1/access-levels/{id}", "/api/v1/access-levels/lobby-24x7", OperatorRole.Auditor, null),
        new("/api/v1/tokens", "/api/v1/tokens", OperatorRole.Auditor, "limit"),
        new("/api/v1/log", "/api/v1/log", OperatorRole.Auditor, "escort"),
        new("/api/v1/log/verify", "/api/v1/log/verify", OperatorRole.Auditor, null),

        new("/api/v1/visits", "/api/v1/visits", OperatorRole.Security, "site"),
        new("/api/v1/visits/{id:long}", "/api/v1/visits/1", OperatorRole.Security, null),
        new("/api/v1/visits/on-site", "/api/v1/visits/on-site", OperatorRole.Security, "site"),
        new("/api/v1/visits/overdue-badges", "/api/v1/visits/overdue-badges", OperatorRole.Security, "site"),
        new("/api/v1/visits/log", "/api/v1/visits/log", OperatorRole.Auditor, "site"),
        new("/api/v1/watchlist", "/api/v1/watchlist", OperatorRole.Security, null),
        new("/api/v1/badge-pool", "/api/v1/badge-pool", OperatorRole.Frontdesk, "site"),

        new("/api/v1/people/{personId}/fingerprints", "/api/v1/people/p-lromano/fingerprints", OperatorRole.Auditor, null),
        new("/api/v1/fingerprints/reconciliation", "/api/v1/fingerprints/reconciliation", OperatorRole.Auditor, null),

        new("/api/v1/health", "/api/v1/health", null, null),
        new("/api/v1/health/checks", "/api/v1/health/checks", OperatorRole.Auditor, null),
        new("/api/v1/broker", "/api/v1/broker", OperatorRole.Auditor, null),
        new("/api/v1/metrics/pipeline", "/api/v1/metrics/pipeline", OperatorRole.Auditor, null),
        new("/api/v1/fire", "/api/v1/fire", OperatorRole.Security, null),
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
            data.Add(route.Pattern, $"?{unknown}=demo", unknown);
            data.Add(route.Pattern, $"?{twice}=demo&{twice}=other", twice);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Requests))]
    [Trait("control", "NIST-SI-10")]
    [Trait("control", "NIST-AU-6")]
    public async Task EveryGetRoute_WithAParameterItDoesNotTake_OrOneGivenTwice_Is400NamingIt(string pattern, string query, string named)
    {
        var route = Routes.Single(r => r.Pattern == pattern);

        var (status, _, text) = await service.SendAsync(route.Role is { } role ? service.Token(role) : null, "GET", route.Path + query, null);

        Assert.True(status == HttpStatusCode.BadRequest, $"GET {route.Path + query}: {(int)status} {text}");
        var problem = JsonSerializer.Deserialize<AdminApi.ApiProblem>(text, AdminJson.Options)!;
        Assert.Equal("Invalid query", problem.Title);
        var error = Assert.Single(problem.Errors!);
        Assert.Equal(named, error.Field);
        var known = route.Parameter is not null && named == route.Parameter;
        Assert.True(known ? error.Message == "must be given once" : error.Message.StartsWith("is not a parameter of this route", StringComparison.Ordinal), error.Message);
    }

    [Fact]
    [Trait("control", "NIST-SI-10")]
    public void EveryGetRoute_IsInTheQueryTable()
    {
        var mapped = service.Routes().Where(key => key.StartsWith("GET ", StringComparison.Ordinal)).Select(key => key["GET ".Length..]).ToHashSet(StringComparer.Ordinal);
        var listed = Routes.Select(r => r.Pattern).ToHashSet(StringComparer.Ordinal);

        var missing = mapped.Where(p => !listed.Contains(p)).Order(StringComparer.Ordinal).ToList();
        var gone = listed.Where(p => !mapped.Contains(p)).Order(StringComparer.Ordinal).ToList();

        Assert.True(mapped.Count > 15, "the host's endpoint data source named too few GET routes: " + string.Join(", ", mapped));
        Assert.True(missing.Count == 0,
            "GET routes with no row in QueryParametersTests.Routes (give each a path, a role that may call it and a parameter it takes; "
            + "map it with .WithQueryParameters(...)):\n" + string.Join('\n', missing));
        Assert.True(gone.Count == 0, "rows for GET routes the service no longer maps:\n" + string.Join('\n', gone));
        Assert.Equal(listed.Count, Routes.Length);
    }
}

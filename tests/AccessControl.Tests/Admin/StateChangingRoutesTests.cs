using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.HttpSecurity;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Hr;
using AccessControl.Tests.Support;
using AccessControl.Tests.Visitors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;

namespace AccessControl.Tests.Admin;

/// <summary>
/// Every state-changing route the real service host maps (read from its <see cref="EndpointDataSource"/>, not from a
/// list kept by hand) is classified in <see cref="Routes"/>: the roles that may call it, and the entry-log row a
/// successful call writes. A route added later fails <see cref="EveryStateChangingRoute_IsClassified"/> until someone
/// says who may call it and what it records. One host, many requests: a sweep of refusals, then one day's worth of
/// successful changes, each checked for a row naming the operator and the time (the fake clock, moved one second
/// before each call so that every change has a time of its own).
/// </summary>
public sealed class StateChangingRoutesTests(StateChangingRoutesTests.Service service) : IClassFixture<StateChangingRoutesTests.Service>
{
    /// <summary>Who may call a route: operator tokens of these roles, or (empty) the HR system's signature only.</summary>
    public sealed record RouteRule(string Method, string Pattern, OperatorRole[] Roles, string Writes)
    {
        public string Key => $"{Method} {Pattern}";

        public bool SignedByHr => Roles.Length == 0;
    }

    private static readonly OperatorRole[] AdminOnly = [OperatorRole.Admin];

    /// <summary>
    /// The classification, from docs/operations.md (sections 4, 5, 7, 9, 10 and 12). <c>Writes</c> is the reason of the
    /// row a successful call writes, naming the operator. No state-changing route is exempt from the row: sign-in and
    /// token creation are not HTTP routes (tokens are made on the database file, `token create`, which writes its own row).
    /// </summary>
    public static readonly RouteRule[] Routes =
    [
        new("PUT", "/api/v1/people/{id}", AdminOnly, "person.upsert"),
        new("POST", "/api/v1/people/{id}/status", AdminOnly, "person.terminate"),
        new("PUT", "/api/v1/people/{id}/access-levels", AdminOnly, "person.access_levels"),
        new("PUT", "/api/v1/credentials/{card}", AdminOnly, "credential.upsert"),
        new("POST", "/api/v1/credentials/{card}/status", AdminOnly, "credential.suspend"),
        new("POST", "/api/v1/credentials/{card}/reissue", AdminOnly, "credential.reissue"),
        new("PUT", "/api/v1/access-levels/{id}", AdminOnly, "access_level.upsert"),
        new("DELETE", "/api/v1/access-levels/{id}", AdminOnly, "access_level.delete"),

        new("POST", "/api/v1/visits", [OperatorRole.Host], "visit.request"),
        new("POST", "/api/v1/visits/{id}/approve", [OperatorRole.Approver], "visit.approve"),
        new("POST", "/api/v1/visits/{id}/reject", [OperatorRole.Approver], "visit.reject"),
        new("POST", "/api/v1/visits/{id}/withdraw", [OperatorRole.Approver], "visit.withdraw"),
        new("POST", "/api/v1/visits/{id}/check-in", [OperatorRole.Frontdesk], "visit.check_in"),
        new("POST", "/api/v1/visits/{id}/check-out", [OperatorRole.Frontdesk], "visit.check_out"),
        new("POST", "/api/v1/visits/badges/{card}/check-out", [OperatorRole.Frontdesk], "visit.check_out"),
        new("POST", "/api/v1/visits/purge", AdminOnly, "visit.purge"),
        new("POST", "/api/v1/watchlist", [OperatorRole.Security], "watchlist.add"),
        new("DELETE", "/api/v1/watchlist/{id}", [OperatorRole.Security], "watchlist.remove"),
        new("PUT", "/api/v1/badge-pool/{card}", AdminOnly, "badge_pool.add"),
        new("DELETE", "/api/v1/badge-pool/{card}", AdminOnly, "badge_pool.remove"),

        new("POST", "/api/v1/people/{personId}/fingerprints", [OperatorRole.Enrollment, OperatorRole.Admin], "fingerprint.enroll"),
        new("DELETE", "/api/v1/fingerprints/{templateId}", [OperatorRole.Enrollment, OperatorRole.Admin], "fingerprint.revoke"),
        new("POST", "/api/v1/fingerprints/rekey", AdminOnly, "fingerprint.rekey"),

        new("POST", "/api/v1/devices/{kind}/{id}/seq-reset", AdminOnly, "device_seq_reset"),
        new("POST", "/api/v1/fire/reset", [OperatorRole.Admin, OperatorRole.Security], "fire_reset"),

        // Not an operator's: the HR system signs the body with the HR feed key; its rows name "hr-feed".
        new("POST", "/api/v1/hr/events", [], "person.access_levels"),
    ];

    /// <summary>A concrete request for each route: a path that matches it (the body is irrelevant to a refusal).</summary>
    private static readonly Dictionary<string, string> SamplePaths = new()
    {
        ["/api/v1/people/{id}"] = "/api/v1/people/p-lromano",
        ["/api/v1/people/{id}/status"] = "/api/v1/people/p-lromano/status",
        ["/api/v1/people/{id}/access-levels"] = "/api/v1/people/p-lromano/access-levels",
        ["/api/v1/credentials/{card}"] = "/api/v1/credentials/" + DemoCards.Contractor,
        ["/api/v1/credentials/{card}/status"] = "/api/v1/credentials/" + DemoCards.Contractor + "/status",
        ["/api/v1/credentials/{card}/reissue"] = "/api/v1/credentials/" + DemoCards.Contractor + "/reissue",
        ["/api/v1/access-levels/{id}"] = "/api/v1/access-levels/lobby-24x7",
        ["/api/v1/visits/{id}/approve"] = "/api/v1/visits/1/approve",
        ["/api/v1/visits/{id}/reject"] = "/api/v1/visits/1/reject",
        ["/api/v1/visits/{id}/withdraw"] = "/api/v1/visits/1/withdraw",
        ["/api/v1/visits/{id}/check-in"] = "/api/v1/visits/1/check-in",
        ["/api/v1/visits/{id}/check-out"] = "/api/v1/visits/1/check-out",
        ["/api/v1/visits/badges/{card}/check-out"] = "/api/v1/visits/badges/" + VisitDesk.Badge1 + "/check-out",
        ["/api/v1/watchlist/{id}"] = "/api/v1/watchlist/1",
        ["/api/v1/badge-pool/{card}"] = "/api/v1/badge-pool/" + VisitDesk.Badge1,
        ["/api/v1/people/{personId}/fingerprints"] = "/api/v1/people/p-lromano/fingerprints",
        ["/api/v1/fingerprints/{templateId}"] = "/api/v1/fingerprints/fpt-0000000000000000",
        ["/api/v1/devices/{kind}/{id}/seq-reset"] = "/api/v1/devices/readers/rdr-lobby-in/seq-reset",
    };

    [Fact]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "NIST-AU-12")]
    public void EveryStateChangingRoute_IsClassified()
    {
        var mapped = service.StateChangingRoutes();
        var classified = Routes.Select(r => r.Key).ToHashSet(StringComparer.Ordinal);

        var unclassified = mapped.Where(r => !classified.Contains(r)).Order(StringComparer.Ordinal).ToList();
        var gone = classified.Where(r => !mapped.Contains(r)).Order(StringComparer.Ordinal).ToList();

        Assert.True(mapped.Count > 20, "the host's endpoint data source named too few routes: " + string.Join(", ", mapped));
        Assert.True(unclassified.Count == 0,
            "state-changing routes with no row in StateChangingRoutesTests.Routes (say which roles may call each, and the entry-log row it writes):\n"
            + string.Join('\n', unclassified));
        Assert.True(gone.Count == 0, "classified routes the service no longer maps:\n" + string.Join('\n', gone));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    [Trait("control", "NIST-AU-2")]
    [Trait("control", "PCI-10.2")]
    public async Task EveryStateChangingRoute_RefusesNoToken401_AndEveryOtherRole403_EachWithASecurityRow_AndChangesNothing()
    {
        var wrong = new List<string>();
        foreach (var route in service.StateChangingRoutes().Select(key => Routes.Single(r => r.Key == key)))
        {
            var path = SamplePaths.GetValueOrDefault(route.Pattern, route.Pattern);

            // No credential at all.
            var (status, rows) = await service.SendAsync(null, route.Method, path);
            var expectedReason = route.SignedByHr ? "hr.missing_signature" : AuthReasons.MissingToken;
            if (status != HttpStatusCode.Unauthorized || !rows.Any(r => r.Kind == LogKinds.Security && r.Reason == expectedReason && Names(r, route.Method, path)))
            {
                wrong.Add($"{route.Key} without a token: {(int)status}, rows {Describe(rows)}");
            }

            if (rows.Any(r => r.Kind != LogKinds.Security))
            {
                wrong.Add($"{route.Key} without a token changed something: {Describe(rows)}");
            }

            foreach (var role in Enum.GetValues<OperatorRole>().Where(r => !route.Roles.Contains(r)))
            {
                var (refused, refusal) = await service.SendAsync(service.Token(role), route.Method, path);
                var expected = route.SignedByHr ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden;
                var reason = route.SignedByHr ? "hr.missing_signature" : AuthReasons.Forbidden;
                var actor = route.SignedByHr ? "hr-feed" : Service.OperatorOf(role);
                if (refused != expected || !refusal.Any(r => r.Kind == LogKinds.Security && r.Reason == reason && r.Actor == actor && Names(r, route.Method, path)))
                {
                    wrong.Add($"{route.Key} as {ApiTokens.RoleCode(role)}: {(int)refused}, rows {Describe(refusal)}");
                }

                if (refusal.Any(r => r.Kind != LogKinds.Security))
                {
                    wrong.Add($"{route.Key} as {ApiTokens.RoleCode(role)} changed something: {Describe(refusal)}");
                }
            }
        }

        Assert.True(wrong.Count == 0, "routes whose refusals are not as classified:\n" + string.Join('\n', wrong));
    }

    [Fact]
    [Trait("control", "NIST-AU-2")]
    [Trait("control", "NIST-AU-12")]
    [Trait("control", "PCI-10.2")]
    public async Task EveryStateChangingRoute_Succeeding_WritesARowNamingTheOperatorAndTheTime()
    {
        var day = new VisitDay(service);
        await day.RunAsync();

        var missing = service.StateChangingRoutes().Where(key => !day.Checked.Contains(key)).Order(StringComparer.Ordinal).ToList();
        Assert.True(day.Wrong.Count == 0, "successful changes without a row naming who and when:\n" + string.Join('\n', day.Wrong));
        Assert.True(missing.Count == 0, "routes the day never called successfully (add a call to VisitDay):\n" + string.Join('\n', missing));
    }

    private static bool Names(LogEntry row, string method, string path) =>
        row.Detail is { } detail && detail.Contains($"\"method\":\"{method}\"", StringComparison.Ordinal) && detail.Contains(path, StringComparison.Ordinal);

    internal static string Describe(IEnumerable<LogEntry> rows) =>
        "[" + string.Join(", ", rows.Select(r => $"{r.Kind}/{r.Reason} by {r.Actor ?? "-"} at {r.At}")) + "]";

    /// <summary>Successful calls of every route, in the order a day would make them, each checked for its row.</summary>
    private sealed class VisitDay(Service service)
    {
        private const string NewPerson = "p-sweep-1";
        private const string NewCard = "04AA0000000001";
        private const string Badge3 = "04BADE000000A3";

        public HashSet<string> Checked { get; } = [];

        public List<string> Wrong { get; } = [];

        public async Task RunAsync()
        {
            var admin = service.Token(OperatorRole.Admin);
            await CallAsync(admin, "PUT", "/api/v1/access-levels/{id}", "/api/v1/access-levels/sweep-level",
                new { name = "Sweep", zones = new[] { "demo-campus" }, schedule = "business-hours" });
            await CallAsync(admin, "DELETE", "/api/v1/access-levels/{id}", "/api/v1/access-levels/sweep-level");
            await CallAsync(admin, "PUT", "/api/v1/people/{id}", $"/api/v1/people/{NewPerson}", new { name = "Sweep Person", kind = "employee" });
            await CallAsync(admin, "PUT", "/api/v1/people/{id}/access-levels", $"/api/v1/people/{NewPerson}/access-levels", new[] { "lobby-24x7" });
            await CallAsync(admin, "PUT", "/api/v1/credentials/{card}", $"/api/v1/credentials/{NewCard}", new { technology = "desfire-ev3", personId = NewPerson });
            await CallAsync(admin, "POST", "/api/v1/credentials/{card}/status", $"/api/v1/credentials/{NewCard}/status", new { status = "suspended" });
            await CallAsync(admin, "POST", "/api/v1/credentials/{card}/reissue", $"/api/v1/credentials/{NewCard}/reissue",
                new { technology = "desfire-ev3", personId = NewPerson, reason = "sweep" });

            var enrolled = await CallAsync(service.Token(OperatorRole.Enrollment), "POST", "/api/v1/people/{personId}/fingerprints", $"/api/v1/people/{NewPerson}/fingerprints",
                new { finger = "left-index", station = "enroll-desk-1", format = SyntheticFingers.Format, template = Convert.ToBase64String(SyntheticFingers.EnrollmentTemplateData(NewPerson, "left-index")) });
            var template = enrolled?.GetProperty("templateId").GetString();
            await CallAsync(service.Token(OperatorRole.Enrollment), "DELETE", "/api/v1/fingerprints/{templateId}", $"/api/v1/fingerprints/{template}?reason=sweep");
            // A rotation (operations.md section 9): a new key appended to the key file, then the rekey.
            await File.AppendAllTextAsync(Path.Combine(service.Edge.Directory, "fingerprint.keys"),
                $"\nk-sweep {Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))}\n");
            await CallAsync(admin, "POST", "/api/v1/fingerprints/rekey", "/api/v1/fingerprints/rekey");
            await CallAsync(admin, "POST", "/api/v1/people/{id}/status", $"/api/v1/people/{NewPerson}/status", new { status = "terminated" });

            await CallAsync(admin, "PUT", "/api/v1/badge-pool/{card}", $"/api/v1/badge-pool/{VisitDesk.Badge1}", new { site = "demo", technology = "desfire-ev3" });
            await CallAsync(admin, "PUT", "/api/v1/badge-pool/{card}", $"/api/v1/badge-pool/{VisitDesk.Badge2}", new { site = "demo", technology = "desfire-ev3" });
            await CallAsync(admin, "PUT", "/api/v1/badge-pool/{card}", $"/api/v1/badge-pool/{Badge3}", new { site = "demo", technology = "desfire-ev3" });
            await CallAsync(admin, "DELETE", "/api/v1/badge-pool/{card}", $"/api/v1/badge-pool/{Badge3}");

            var security = service.Token(OperatorRole.Security);
            var listed = await CallAsync(security, "POST", "/api/v1/watchlist", "/api/v1/watchlist", new { kind = "organization", value = "Sweep Intruders Ltd" });
            await CallAsync(security, "DELETE", "/api/v1/watchlist/{id}", $"/api/v1/watchlist/{listed?.GetProperty("id").GetInt64()}");

            var host = service.Token(OperatorRole.Host);
            var approver = service.Token(OperatorRole.Approver);
            var desk = service.Token(OperatorRole.Frontdesk);
            var twoVisitors = VisitDesk.Request(visitors:
            [
                new { name = "José María Pérez-García", organization = "Kältetechnik Rhein-Main GmbH" },
                new { name = "Anna Schmidt", organization = "Kältetechnik Rhein-Main GmbH" },
            ]);
            var visit = (await CallAsync(host, "POST", "/api/v1/visits", "/api/v1/visits", twoVisitors))?.GetProperty("id").GetInt64();
            var rejected = (await CallAsync(host, "POST", "/api/v1/visits", "/api/v1/visits", VisitDesk.Request()))?.GetProperty("id").GetInt64();
            var withdrawn = (await CallAsync(host, "POST", "/api/v1/visits", "/api/v1/visits", VisitDesk.Request()))?.GetProperty("id").GetInt64();
            // Segregation of duties: every decision step, asked by the host through a second account of an allowed role, is refused and recorded.
            await SelfDecisionAsync("POST /api/v1/visits/{id}/approve", $"/api/v1/visits/{visit}/approve");
            await SelfDecisionAsync("POST /api/v1/visits/{id}/reject", $"/api/v1/visits/{visit}/reject");
            await CallAsync(approver, "POST", "/api/v1/visits/{id}/approve", $"/api/v1/visits/{visit}/approve", new { note = "sweep" });
            await CallAsync(approver, "POST", "/api/v1/visits/{id}/reject", $"/api/v1/visits/{rejected}/reject", new { note = "sweep" });
            await CallAsync(approver, "POST", "/api/v1/visits/{id}/approve", $"/api/v1/visits/{withdrawn}/approve");
            await CallAsync(approver, "POST", "/api/v1/visits/{id}/withdraw", $"/api/v1/visits/{withdrawn}/withdraw");
            await CallAsync(desk, "POST", "/api/v1/visits/{id}/check-in", $"/api/v1/visits/{visit}/check-in", VisitDesk.CheckIn(badge: VisitDesk.Badge1));
            await CallAsync(desk, "POST", "/api/v1/visits/{id}/check-in", $"/api/v1/visits/{visit}/check-in",
                VisitDesk.CheckIn(visitor: 2, name: "SCHMIDT ANNA", number: "C02Y11U58", badge: VisitDesk.Badge2));
            await CallAsync(desk, "POST", "/api/v1/visits/{id}/check-out", $"/api/v1/visits/{visit}/check-out", new { visitor = 1 });
            await CallAsync(desk, "POST", "/api/v1/visits/badges/{card}/check-out", $"/api/v1/visits/badges/{VisitDesk.Badge2}/check-out");

            await CallAsync(admin, "POST", "/api/v1/devices/{kind}/{id}/seq-reset", "/api/v1/devices/readers/rdr-lobby-in/seq-reset");
            await service.ReleaseByFireAlarmAsync();
            await CallAsync(service.Token(OperatorRole.Security), "POST", "/api/v1/fire/reset", "/api/v1/fire/reset?force=true");

            await HrAsync();

            // The retention purge removes visits that ended more than a year ago: a year later, the day's visits.
            service.Clock.Advance(Duration.FromDays(400));
            await CallAsync(admin, "POST", "/api/v1/visits/purge", "/api/v1/visits/purge");
        }

        /// <summary>
        /// Calls a route as the operator of <paramref name="token"/>, one second after the previous call, and checks that
        /// it succeeded and that the rows it wrote include its classified row, naming that operator, at that second.
        /// </summary>
        private async Task<JsonElement?> CallAsync(string token, string method, string pattern, string path, object? body = null)
        {
            var key = $"{method} {pattern}";
            var rule = Routes.Single(r => r.Key == key);
            service.Clock.Advance(Duration.FromSeconds(1));
            var now = service.Clock.GetCurrentInstant();
            var (status, rows, text) = await service.SendAsync(token, method, path, body);
            if ((int)status is < 200 or > 299)
            {
                Wrong.Add($"{key}: {(int)status} {text}");
                return null;
            }

            Check(key, rule, service.OperatorOfToken(token), now, rows);
            return text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone();
        }

        /// <summary>The host of the day's visits (p-jweber), holding an approver token too, decides on their own visit.</summary>
        private async Task SelfDecisionAsync(string key, string path)
        {
            var rule = Routes.Single(r => r.Key == key);
            var (status, rows, text) = await service.SendAsync(service.SecondAccountOfTheHost, rule.Method, path, new { note = "my own" });
            var refused = rule.Writes + ".refused";
            if (status != HttpStatusCode.Forbidden || !text.Contains("\"code\":\"segregation_of_duties\"", StringComparison.Ordinal)
                || !rows.Any(r => r.Kind == LogKinds.Security && r.Reason == refused && r.Actor == Service.HostsApprover))
            {
                Wrong.Add($"{key} by the visit's own host: {(int)status} {text}, rows {Describe(rows)}");
            }

            if (rows.Any(r => r.Kind != LogKinds.Security))
            {
                Wrong.Add($"{key} by the visit's own host changed something: {Describe(rows)}");
            }
        }

        private async Task HrAsync()
        {
            const string key = "POST /api/v1/hr/events";
            service.Clock.Advance(Duration.FromSeconds(1));
            var now = service.Clock.GetCurrentInstant();
            var before = service.LastSeq();
            using var hr = new HrFeedClient(service.Edge);
            using var response = await hr.PostSignedAsync(HrFeedClient.Body(HrFeedClient.Transfer("sweep-transfer-1", "p-aschulz", "lobby-24x7")));
            var text = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.OK || !text.Contains("applied", StringComparison.Ordinal))
            {
                Wrong.Add($"{key}: {(int)response.StatusCode} {text}");
                return;
            }

            Check(key, Routes.Single(r => r.Key == key), "hr-feed", now, service.RowsAfter(before));
        }

        private void Check(string key, RouteRule rule, string actor, Instant now, IReadOnlyList<LogEntry> rows)
        {
            Checked.Add(key);
            if (!rows.Any(r => r.Reason == rule.Writes && r.Actor == actor && r.At == now))
            {
                Wrong.Add($"{key} by {actor} at {now}: no '{rule.Writes}' row naming them then; rows {Describe(rows)}");
            }

            // Whatever else the change wrote (a termination's cards, a check-in's badge) names the same operator.
            var unnamed = rows.Where(r => r.Kind is LogKinds.Admin or LogKinds.Safety && r.Actor != actor).ToList();
            if (unnamed.Count > 0)
            {
                Wrong.Add($"{key} by {actor}: rows naming someone else {Describe(unnamed)}");
            }
        }
    }

    /// <summary>The running service on the demo site, with an operator token of every role (each naming its own person).</summary>
    public sealed class Service : IAsyncLifetime
    {
        private readonly Dictionary<OperatorRole, string> tokens = [];
        private HttpClient http = null!;
        private EdgeHarness? edge;
        private long cursor;

        public EdgeHarness Edge => edge!;

        public NodaTime.Testing.FakeClock Clock => Edge.Clock;

        /// <summary>The operator of the role's token: the host and the approver are the demo's Jonas Weber and Martina Koch.</summary>
        public static string OperatorOf(OperatorRole role) => "sweep-" + ApiTokens.RoleCode(role);

        /// <summary>An approver account of the host's own person (p-jweber), as a second account of one person would be.</summary>
        public const string HostsApprover = "sweep-approver-jweber";

        public string SecondAccountOfTheHost { get; private set; } = "";

        public string Token(OperatorRole role) => tokens[role];

        public string OperatorOfToken(string token) => OperatorOf(tokens.Single(t => t.Value == token).Key);

        public async Task InitializeAsync()
        {
            // Many refused requests from one address in a few seconds: not an attack, so no lockout or rate limit in the way.
            edge = await EdgeHarness.StartAsync(configure: s => s with
            {
                Http = s.Http with { FailuresBeforeLockout = 100_000, RequestsPerWindow = 100_000 },
            });
            var created = new ApiTokens(Edge.Edge.Database, Clock);
            foreach (var role in Enum.GetValues<OperatorRole>())
            {
                var person = role switch
                {
                    OperatorRole.Host => "p-jweber",
                    _ => "p-sweep-" + ApiTokens.RoleCode(role),
                };
                TestPeople.Add(Edge.Edge.Database, person);
                tokens[role] = created.CreateToken(OperatorOf(role), role, "test", person);
                Edge.TreatAsSecret("an operator token", tokens[role]);
            }

            SecondAccountOfTheHost = created.CreateToken(HostsApprover, OperatorRole.Approver, "test", "p-jweber");
            Edge.TreatAsSecret("an operator token", SecondAccountOfTheHost);
            http = new HttpClient { BaseAddress = Edge.Host.HttpAddress };
            cursor = LastSeq();
        }

        public async Task DisposeAsync()
        {
            http.Dispose();
            if (edge is not null)
            {
                await edge.DisposeAsync();
            }
        }

        /// <summary>"METHOD /pattern" of every POST, PUT, PATCH and DELETE endpoint of the host's endpoint data source.</summary>
        public HashSet<string> StateChangingRoutes() =>
            Routes().Where(key => !key.StartsWith("GET ", StringComparison.Ordinal) && !key.StartsWith("HEAD ", StringComparison.Ordinal))
                .ToHashSet(StringComparer.Ordinal);

        /// <summary>"METHOD /pattern" of every endpoint of the host's endpoint data source (<c>*</c> for one of any method).</summary>
        public HashSet<string> Routes() =>
            Edge.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
                .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"])
                    .Select(m => $"{m} /{e.RoutePattern.RawText!.TrimStart('/')}"))
                .ToHashSet(StringComparer.Ordinal);

        public async Task<(HttpStatusCode Status, IReadOnlyList<LogEntry> Rows)> SendAsync(string? token, string method, string path)
        {
            var (status, rows, _) = await SendAsync(token, method, path, new { });
            return (status, rows);
        }

        /// <summary>Sends a request and returns its answer and the rows written while it ran.</summary>
        public async Task<(HttpStatusCode Status, IReadOnlyList<LogEntry> Rows, string Text)> SendAsync(string? token, string method, string path, object? body)
        {
            var before = LastSeq();
            using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/'));
            if (token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (body is not null)
            {
                request.Content = JsonContent.Create(body, options: AdminJson.Options);
            }

            using var response = await http.SendAsync(request).WaitAsync(EdgeHarness.Timeout);
            var text = await response.Content.ReadAsStringAsync();
            return (response.StatusCode, RowsAfter(before), text);
        }

        public long LastSeq()
        {
            while (Edge.Rows(new LogFilter { AfterSeq = cursor, Limit = EntryLogQuery.MaxLimit }) is { Count: > 0 } rows)
            {
                cursor = rows[^1].Seq;
            }

            return cursor;
        }

        public IReadOnlyList<LogEntry> RowsAfter(long seq) => Edge.Rows(new LogFilter { AfterSeq = seq, Limit = EntryLogQuery.MaxLimit });

        /// <summary>The demo's fire panel sends an alarm; returns once the release is in the log.</summary>
        public async Task ReleaseByFireAlarmAsync()
        {
            var panel = await Edge.RawClientAsync("fire-panel-a");
            var alarm = WireFormat.Write(new FireEvent("sweep-fire-1", 1, Clock.GetCurrentInstant(), FireEventType.Alarm, null));
            await panel.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Edge.Edge.Topics.FireEvents("fire-panel-a"))
                .WithPayload(alarm).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await Edge.RowAsync(r => r.Reason == "fire_release");
        }
    }
}

using System.Globalization;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Sites;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Visitors;

/// <summary>
/// The HTTP/JSON visitor API under <c>/api/v1</c>: visits, check-in and check-out, who is on site, overdue badges, the
/// visitor log, the watch list and the badge pool.
/// </summary>
/// <remarks>
/// <para>Every endpoint needs a bearer token (<see cref="ApiTokens"/>) of one of the roles it lists; a refusal is a
/// <c>security</c> row, as for the admin API. Roles: <c>host</c> requests; <c>approver</c> approves, rejects and
/// withdraws; <c>frontdesk</c> checks in and out; <c>security</c> keeps the watch list; <c>admin</c> keeps the badge pool
/// and runs the retention purge; <c>auditor</c> reads.</para>
/// <para>A rule's refusal is <c>422</c> (segregation of duties: <c>403</c>) with a problem body whose <c>code</c> is one
/// of <see cref="VisitRefusals"/>.</para>
/// <para>A token limited to one site (<c>--site</c>) acts only on that site's visits (any other: <c>403</c>
/// <c>not_approver_for_site</c> and a <c>security</c> row), and its listings and reads show only that site: a listing
/// asked for another site is refused the same way, not answered with an empty list. What spans every site (the watch
/// list's changes, the retention purge) is refused to it the same way.</para>
/// </remarks>
public static class VisitorApi
{
    private const string Prefix = AdminApi.Prefix;

    /// <summary>
    /// Registers visitor management. Needs what <see cref="AdminApi.AddAdmin"/> registers (call it first), plus
    /// <see cref="Storage.Database"/>, <see cref="LiveConfiguration"/> and <see cref="IClock"/>.
    /// </summary>
    /// <param name="dataDirectory">Where the PII key file lives (a relative <see cref="VisitorOptions.PiiKeyFile"/> is under it).</param>
    public static IServiceCollection AddVisitors(this IServiceCollection services, VisitorOptions options, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("Invalid visitor settings: " + string.Join(" ", errors));
        }

        var keyFile = Path.IsPathRooted(options.PiiKeyFile) ? options.PiiKeyFile : Path.Combine(dataDirectory, options.PiiKeyFile);
        services.TryAddSingleton(options);
        services.TryAddSingleton(_ => PiiKey.Load(keyFile));
        services.TryAddSingleton<VisitorStore>();
        services.TryAddSingleton(sp => new VisitorService(
            sp.GetRequiredService<VisitorStore>(),
            sp.GetRequiredService<AdminService>(),
            sp.GetRequiredService<LiveConfiguration>(),
            sp.GetRequiredService<EntryLogQuery>(),
            sp.GetRequiredService<DocumentNumberHasher>(),
            options,
            sp.GetRequiredService<EntryLogAppender>().Append,
            sp.GetRequiredService<IClock>(),
            sp.GetRequiredService<ILogger<VisitorService>>(),
            // Resolved when a purge runs: the termination finds this service (its visits step) when it is made.
            (who, person, reference) => sp.GetRequiredService<Hr.Termination>().OfPurgedVisitorAsync(who, person, reference)));
        return services;
    }

    /// <summary>Maps the visitor endpoints under <c>/api/v1</c>.</summary>
    public static IEndpointRouteBuilder MapVisitorApi(this IEndpointRouteBuilder app)
    {
        RouteGroupBuilder Group(params OperatorRole[] roles) => app.MapGroup(Prefix).AddEndpointFilter(new AdminApi.OperatorFilter(roles));

        var readers = Group(OperatorRole.Host, OperatorRole.Approver, OperatorRole.Frontdesk, OperatorRole.Security, OperatorRole.Auditor);
        // Every GET route names the query parameters it takes; any other is refused, naming it (QueryParameters).
        readers.MapGet("/visits", ListVisits).WithQueryParameters("date", "site", "status");
        readers.MapGet("/visits/{id}", GetVisit).WithQueryParameters();

        Group(OperatorRole.Host).MapPost("/visits", RequestVisit).WithQueryParameters();

        var approver = Group(OperatorRole.Approver);
        approver.MapPost("/visits/{id}/approve", (string id, HttpContext http, [FromServices] VisitorService s) =>
            Decide(http, s.ApproveAsync, id)).WithQueryParameters();
        approver.MapPost("/visits/{id}/reject", (string id, HttpContext http, [FromServices] VisitorService s) =>
            Decide(http, s.RejectAsync, id)).WithQueryParameters();
        approver.MapPost("/visits/{id}/withdraw", (string id, HttpContext http, [FromServices] VisitorService s) =>
            Decide(http, s.WithdrawAsync, id)).WithQueryParameters();

        var desk = Group(OperatorRole.Frontdesk);
        desk.MapPost("/visits/{id}/check-in", CheckIn).WithQueryParameters();
        desk.MapPost("/visits/{id}/check-out", CheckOut).WithQueryParameters();
        desk.MapPost("/visits/badges/{card}/check-out", ReturnBadge).WithQueryParameters();

        var watchers = Group(OperatorRole.Frontdesk, OperatorRole.Security, OperatorRole.Auditor);
        watchers.MapGet("/visits/on-site", (HttpContext http, [FromServices] VisitorService s) =>
            SiteListingAsync(http, VisitActions.OnSite, site => Json(s.OnSite(site)))).WithQueryParameters("site");
        watchers.MapGet("/visits/overdue-badges", (HttpContext http, [FromServices] VisitorService s) =>
            SiteListingAsync(http, VisitActions.OverdueBadges, site => Json(s.OverdueBadges(site)))).WithQueryParameters("site");

        Group(OperatorRole.Auditor, OperatorRole.Security).MapGet("/visits/log", VisitorLog).WithQueryParameters("from", "to", "site", "after", "limit");

        // The watch list is checked at every site's front desk: a site-limited token reads it but does not change it
        // (VisitorService refuses the change, whoever calls it).
        var security = Group(OperatorRole.Security);
        security.MapGet("/watchlist", ([FromServices] VisitorService s) => Json(s.Watchlist())).WithQueryParameters();
        security.MapPost("/watchlist", AddToWatchlist).WithQueryParameters();
        security.MapDelete("/watchlist/{id}", async (string id, HttpContext http, [FromServices] VisitorService s) =>
            RouteId(id) is { } entry ? ToHttp(await s.RemoveFromWatchlistAsync(Identity(http), entry, http.RequestAborted)) : InvalidRouteId()).WithQueryParameters();

        Group(OperatorRole.Admin, OperatorRole.Frontdesk).MapGet("/badge-pool", (HttpContext http, [FromServices] VisitorService s) =>
            SiteListingAsync(http, VisitActions.BadgePoolList, site => Json(s.Badges(site)))).WithQueryParameters("site");
        var admin = Group(OperatorRole.Admin);
        admin.MapPut("/badge-pool/{card}", PutBadge).WithQueryParameters();
        admin.MapDelete("/badge-pool/{card}", async (string card, HttpContext http, [FromServices] VisitorService s) =>
            ToHttp(await s.RemoveBadgeAsync(Identity(http), card, http.RequestAborted))).WithQueryParameters();
        admin.MapPost("/visits/purge", async (HttpContext http, [FromServices] VisitorService s) =>
            ToHttp(await s.PurgeAsync(AdminActor.Of(Identity(http)), http.RequestAborted))).WithQueryParameters(); // every site at once: VisitorService refuses a site-limited token
        return app;
    }

    private static async Task<IResult> RequestVisit(HttpContext http, [FromServices] VisitorService visitors)
    {
        var (body, error) = await ReadBodyAsync<VisitRequestInput>(http);
        if (error is not null)
        {
            return error;
        }

        var result = await visitors.RequestAsync(Identity(http), body!, http.RequestAborted);
        return result.IsOk ? Results.Json(result.Value, AdminJson.Options, statusCode: StatusCodes.Status201Created) : ToHttp(result);
    }

    private static Task<IResult> ListVisits(HttpContext http, [FromServices] VisitorService visitors)
    {
        var request = http.Request;
        var errors = new List<FieldError>();
        var site = AskedSite(request.Query, errors);
        var status = request.Query["status"].FirstOrDefault();
        if (status is not null and not ("requested" or "approved" or "rejected" or "withdrawn"))
        {
            errors.Add(new FieldError("status", "must be requested, approved, rejected or withdrawn"));
        }

        LocalDate? date = null;
        if (request.Query["date"].FirstOrDefault() is { } text)
        {
            var parsed = LocalDatePattern.Iso.Parse(text);
            if (!parsed.Success)
            {
                errors.Add(new FieldError("date", "must be a date yyyy-MM-dd"));
            }
            else if (!VisitWindow.IsVisitDay(parsed.Value))
            {
                errors.Add(new FieldError("date", "must be a day after -9998-01-01 and before 9999-12-31"));
            }

            date = parsed.Success ? parsed.Value : null;
        }

        return errors.Count > 0 ? Task.FromResult(InvalidQuery(errors)) : ScopedAsync(http, VisitActions.List, site, s => Json(visitors.List(date, s, status, Identity(http))));
    }

    /// <summary>A visit the token may not read (another site's; for a host, another host's) is not found, as if it were not there.</summary>
    private static IResult GetVisit(string id, HttpContext http, [FromServices] VisitorService visitors) =>
        RouteId(id) is not { } visitId ? InvalidRouteId()
        : visitors.Get(visitId, Identity(http)) is { } visit
            ? Json(visit)
            : AdminApi.Problem(StatusCodes.Status404NotFound, "Not found", $"No visit {visitId}.");

    private static async Task<IResult> Decide(
        HttpContext http,
        Func<OperatorIdentity, long, DecisionInput?, CancellationToken, Task<VisitResult<VisitView>>> decide,
        string id)
    {
        if (RouteId(id) is not { } visitId)
        {
            return InvalidRouteId();
        }

        DecisionInput? body = null;
        if (http.Request.ContentLength is > 0 || http.Request.Headers.TransferEncoding.Count > 0)
        {
            var (read, error) = await ReadBodyAsync<DecisionInput>(http);
            if (error is not null)
            {
                return error;
            }

            body = read;
        }

        return ToHttp(await decide(Identity(http), visitId, body, http.RequestAborted));
    }

    private static async Task<IResult> CheckIn(string id, HttpContext http, [FromServices] VisitorService visitors)
    {
        if (RouteId(id) is not { } visitId)
        {
            return InvalidRouteId();
        }

        var (body, error) = await ReadBodyAsync<CheckInInput>(http);
        return error ?? ToHttp(await visitors.CheckInAsync(Identity(http), visitId, body!, http.RequestAborted));
    }

    private static async Task<IResult> CheckOut(string id, HttpContext http, [FromServices] VisitorService visitors)
    {
        if (RouteId(id) is not { } visitId)
        {
            return InvalidRouteId();
        }

        var (body, error) = await ReadBodyAsync<CheckOutInput>(http);
        return error ?? ToHttp(await visitors.CheckOutAsync(Identity(http), visitId, body!.Visitor, http.RequestAborted));
    }

    private static async Task<IResult> ReturnBadge(string card, HttpContext http, [FromServices] VisitorService visitors) =>
        ToHttp(await visitors.ReturnBadgeAsync(Identity(http), card, http.RequestAborted));

    private static async Task<IResult> AddToWatchlist(HttpContext http, [FromServices] VisitorService visitors)
    {
        var (body, error) = await ReadBodyAsync<WatchlistInput>(http);
        if (error is not null)
        {
            return error;
        }

        var result = await visitors.AddToWatchlistAsync(Identity(http), body!, http.RequestAborted);
        return result.IsOk ? Results.Json(result.Value, AdminJson.Options, statusCode: StatusCodes.Status201Created) : ToHttp(result);
    }

    private static async Task<IResult> PutBadge(string card, HttpContext http, [FromServices] VisitorService visitors)
    {
        var (body, error) = await ReadBodyAsync<PooledBadgeInput>(http);
        return error ?? ToHttp(await visitors.AddBadgeAsync(Identity(http), card, body!, http.RequestAborted));
    }

    /// <summary>
    /// The visitor log of a range. A site-limited token reads its site's; asking for another site is refused
    /// (<see cref="VisitActions.Log"/>): an empty page would tell an auditor no visitor came there.
    /// </summary>
    private static Task<IResult> VisitorLog(HttpContext http, [FromServices] VisitorService visitors)
    {
        var request = http.Request;
        var errors = new List<FieldError>();
        var from = LogQueryParameters.ParseInstant("from", request.Query["from"].FirstOrDefault(), errors);
        var to = LogQueryParameters.ParseInstant("to", request.Query["to"].FirstOrDefault(), errors);
        LogQueryParameters.CheckRange(from, to, errors);
        var limit = 1000;
        if (request.Query["limit"].FirstOrDefault() is { } l
            && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 10_000))
        {
            errors.Add(new FieldError("limit", "must be an integer from 1 to 10000"));
        }

        VisitorLogCursor? after = null;
        if (request.Query["after"].FirstOrDefault() is { } cursor && (after = VisitorLogCursor.Parse(cursor)) is null)
        {
            errors.Add(new FieldError("after", "must be the next cursor of the previous page"));
        }

        if (from is null && !errors.Any(e => e.Field == "from"))
        {
            errors.Add(new FieldError("from", "is required (an RFC 3339 instant such as 2026-12-01T00:00:00Z)"));
        }

        if (to is null && !errors.Any(e => e.Field == "to"))
        {
            errors.Add(new FieldError("to", "is required (an RFC 3339 instant)"));
        }

        var asked = AskedSite(request.Query, errors);
        return errors.Count > 0
            ? Task.FromResult(InvalidQuery(errors))
            : ScopedAsync(http, VisitActions.Log, asked, site => Json(visitors.VisitorLog(from!.Value, to!.Value, site, limit, after)));
    }

    // ---- plumbing ----------------------------------------------------------------------------------

    private static OperatorIdentity Identity(HttpContext http) => AdminApi.Identity(http);

    /// <summary>
    /// The <c>{id}</c> of a route, or null when it is not an id (digits that fit a long). The routes take it unconstrained
    /// (not <c>{id:long}</c>): a failed route constraint is a bare 404, where every other bad input is a problem naming it.
    /// </summary>
    private static long? RouteId(string text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : null;

    private static IResult InvalidRouteId() => InvalidBody("id", "must be an id: a whole number from 0 to 9223372036854775807");

    /// <summary>
    /// A listing narrowed to the token's site (<c>--site</c>): a site-limited token sees only its own site, and asking
    /// for another site is refused (<paramref name="action"/><c>.refused</c>, as <c>/log</c>): an empty list would tell
    /// a front desk or a security officer that nobody is there. Any other token sees the site asked for, or all.
    /// </summary>
    private static async Task<IResult> ScopedAsync(HttpContext http, string action, string? asked, Func<string?, IResult> list)
    {
        var who = Identity(http);
        return who.Site is not null && asked is not null && asked != who.Site
            ? await SiteLimit.RefuseAsync(http, who, action, asked)
            : list(who.Site ?? asked);
    }

    /// <summary>A listing whose only parameter is <c>site</c> (<see cref="ScopedAsync"/>; any other is refused before, <see cref="QueryParameters"/>).</summary>
    private static Task<IResult> SiteListingAsync(HttpContext http, string action, Func<string?, IResult> list)
    {
        var errors = new List<FieldError>();
        var asked = AskedSite(http.Request.Query, errors);
        return errors.Count > 0 ? Task.FromResult(InvalidQuery(errors)) : ScopedAsync(http, action, asked, list);
    }

    /// <summary>The site a listing is asked for (<c>site=</c>), or null; an id, as in the entry log's query, since a refusal's row names it.</summary>
    private static string? AskedSite(IQueryCollection query, List<FieldError> errors) =>
        LogQueryParameters.ParseId("site", query["site"].FirstOrDefault(), errors);

    private static async Task<(T? Body, IResult? Error)> ReadBodyAsync<T>(HttpContext http)
        where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, AdminJson.RequestOptions, http.RequestAborted);
            return body is null ? (null, InvalidBody("body", "is required")) : (body, null);
        }
        catch (JsonException ex)
        {
            var error = AdminJson.ErrorOf(ex);
            return (null, InvalidBody(error.Field, error.Message));
        }
    }

    private static IResult InvalidBody(string field, string message) =>
        AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError(field, message)]);

    private static IResult InvalidQuery(List<FieldError> errors) => AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid query", null, errors);

    private static IResult Json<T>(T value) => Results.Json(value, AdminJson.Options);

    private static IResult ToHttp<T>(VisitResult<T> result) => result.Outcome switch
    {
        VisitOutcome.Ok => Json(result.Value),
        VisitOutcome.NotFound => AdminApi.Problem(StatusCodes.Status404NotFound, "Not found", result.Message),
        VisitOutcome.Invalid => AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", result.Message, result.Errors),
        VisitOutcome.Refused => Refusal(StatusCodes.Status422UnprocessableEntity, "Refused", result),
        VisitOutcome.Forbidden => Refusal(StatusCodes.Status403Forbidden, "Forbidden", result),
        VisitOutcome.Conflict => AdminApi.Problem(StatusCodes.Status409Conflict, "Conflict", result.Message),
        _ => AdminApi.Problem(StatusCodes.Status503ServiceUnavailable, "Unavailable", result.Message),
    };

    private static IResult Refusal<T>(int status, string title, VisitResult<T> result) => AdminApi.Refusal(status, title, result.Message, result.Code!);
}

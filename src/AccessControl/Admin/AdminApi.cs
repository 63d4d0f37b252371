using System.Text.Json;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.HttpSecurity;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Admin;

/// <summary>
/// Appends a row to the entry log and completes when it is durable. A named holder for the function so that it can
/// be registered once and shared by <see cref="AdminService"/> (admin rows) and the API's authentication (security rows).
/// </summary>
public sealed record EntryLogAppender(Func<LogEntry, CancellationToken, Task<LogEntry>> Append);

/// <summary>
/// The HTTP/JSON admin API under <c>/api/v1</c>: people, credentials, access levels, the operator tokens (read only) and the entry log.
/// </summary>
/// <remarks>
/// Every endpoint but <c>/health</c> (Health/HealthApi.cs) needs <c>Authorization: Bearer &lt;token&gt;</c> (see <see cref="ApiTokens"/>).
/// Auditors read; only admins write. A site-limited token (<see cref="SiteLimit"/>) may not use the cardholder endpoints
/// nor <c>/log/verify</c>, and reads only its site's rows from <c>/log</c>. A token works only while the person it names
/// is active (<see cref="ApiTokens.Check"/>). A missing or unknown token (401), a token refused for its person
/// (<see cref="TokenRefusals"/>: 401 for one that names nobody, else 403) and a wrong role (403) are recorded as
/// <c>security</c> rows in the entry log, without the token. Changes go through <see cref="AdminService"/>, which
/// records each one as an <c>admin</c> row. Errors are <c>application/problem+json</c> bodies whose <c>errors</c>
/// name the offending field or query parameter.
/// </remarks>
public static class AdminApi
{
    public const string Prefix = "/api/v1";

    private const int MaxPageSize = 1000;

    /// <summary>The parameters of a paged listing (<see cref="PageParameters"/>).</summary>
    private static readonly string[] PageParameterNames = ["after", "limit"];

    /// <summary>
    /// Registers what the admin API needs. The host must also register <see cref="Storage.Database"/>,
    /// <see cref="LiveConfiguration"/> and <see cref="IClock"/>, and either <see cref="EventPipeline"/> or
    /// <paramref name="appendLog"/> (the durable append of the entry log; tests pass an <see cref="EntryLogWriter"/>).
    /// At start-up, load the cardholders: <c>configuration.UpdateCardholders(_ =&gt; store.LoadAll())</c>.
    /// </summary>
    public static IServiceCollection AddAdmin(
        this IServiceCollection services,
        Func<IServiceProvider, Func<LogEntry, CancellationToken, Task<LogEntry>>>? appendLog = null)
    {
        appendLog ??= sp => sp.GetRequiredService<EventPipeline>().AppendAsync;
        services.TryAddSingleton<CardholderStore>();
        services.TryAddSingleton<ApiTokens>();
        services.TryAddSingleton<EntryLogQuery>();
        // GET /log/verify goes through the service's own verifications (EdgeService.LogWatch, registered by the host): one
        // walk at a time on a low-priority thread, findings raised as log_integrity alarms. A host without a pipeline
        // (the admin API's tests) has nothing to raise them through: its findings are in the answer and the health state.
        services.TryAddSingleton(sp => new LogWatch(
            new LogVerifier(sp.GetRequiredService<Storage.Database>()), on: false, sp.GetRequiredService<IClock>(), sp.GetRequiredService<ILogger<LogWatch>>(),
            sp.GetService<EventPipeline>() is { } pipeline ? pipeline.RaiseAsync : (_, _) => Task.CompletedTask));
        services.TryAddSingleton(sp => new EntryLogAppender(appendLog(sp)));
        services.TryAddSingleton(sp => new AdminService(
            sp.GetRequiredService<CardholderStore>(),
            sp.GetRequiredService<LiveConfiguration>(),
            sp.GetRequiredService<EntryLogAppender>().Append,
            sp.GetRequiredService<IClock>(),
            sp.GetRequiredService<ILogger<AdminService>>()));

        // A termination takes away cards, fingerprint templates and visits too, whoever makes it (the HR feed registers
        // the same): resolved when first used, so the fingerprint and visitor services of the host are found if it has them.
        services.TryAddSingleton(sp => new Hr.Termination(
            sp.GetRequiredService<AdminService>(),
            sp.GetService<Fingerprints.FingerprintService>(),
            sp.GetService<Visitors.VisitorService>(),
            sp.GetRequiredService<ApiTokens>(),
            sp.GetRequiredService<LiveConfiguration>(),
            sp.GetRequiredService<EntryLogQuery>(),
            sp.GetRequiredService<EntryLogAppender>().Append,
            sp.GetRequiredService<IClock>(),
            sp.GetRequiredService<ILogger<Hr.Termination>>()));
        return services;
    }

    /// <summary>Maps the admin API's endpoints under <see cref="Prefix"/>.</summary>
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        // Cardholders are global (a person's levels may name zones of any site): a site-limited token neither reads nor changes them.
        // AdminService refuses such a change itself, whoever asks; the filter also refuses the reads, and refuses a change
        // before its body is read, with a row naming the method and path.
        var cardholders = new SiteLimit.EverySiteOnly(EverySiteActions.Cardholders);
        var read = app.MapGroup(Prefix).AddEndpointFilter(new OperatorFilter(OperatorRole.Auditor, OperatorRole.Admin)).AddEndpointFilter(cardholders);
        var write = app.MapGroup(Prefix).AddEndpointFilter(new OperatorFilter(OperatorRole.Admin)).AddEndpointFilter(cardholders);
        var log = app.MapGroup(Prefix).AddEndpointFilter(new OperatorFilter(OperatorRole.Auditor, OperatorRole.Admin));

        // Every GET route names the query parameters it takes; any other is refused, naming it (QueryParameters).
        read.MapGet("/people", ListPeople).WithQueryParameters(PageParameterNames);
        read.MapGet("/people/{id}", GetPerson).WithQueryParameters();
        write.MapPut("/people/{id}", PutPerson).WithQueryParameters();
        write.MapPost("/people/{id}/status", PostPersonStatus).WithQueryParameters();
        write.MapPut("/people/{id}/access-levels", PutPersonAccessLevels).WithQueryParameters();

        read.MapGet("/credentials/{card}", GetCredential).WithQueryParameters();
        write.MapPut("/credentials/{card}", PutCredential).WithQueryParameters();
        write.MapPost("/credentials/{card}/status", PostCredentialStatus).WithQueryParameters();
        write.MapPost("/credentials/{card}/reissue", PostCredentialReissue).WithQueryParameters();

        read.MapGet("/access-levels", ListAccessLevels).WithQueryParameters(PageParameterNames);
        read.MapGet("/access-levels/{id}", GetAccessLevel).WithQueryParameters();
        write.MapPut("/access-levels/{id}", PutAccessLevel).WithQueryParameters();
        write.MapDelete("/access-levels/{id}", DeleteAccessLevel).WithQueryParameters();

        // Who holds access, for a review: every site's operators, so not for a site-limited token.
        log.MapGet("/tokens", ListTokens).AddEndpointFilter(new SiteLimit.EverySiteOnly(EverySiteActions.Tokens)).WithQueryParameters(PageParameterNames);

        log.MapGet("/log", QueryLog).WithQueryParameters([.. LogQueryParameters.Names]);
        log.MapGet("/log/verify", VerifyLog).AddEndpointFilter(new SiteLimit.EverySiteOnly(EverySiteActions.LogVerify)) // it walks, and may quote, every site's rows
            .WithQueryParameters();
        return app;
    }

    // ---- people ------------------------------------------------------------------------------------

    private static IResult ListPeople(HttpRequest request, [FromServices] LiveConfiguration configuration)
    {
        var (after, limit, errors) = PageParameters(request.Query);
        if (errors.Count > 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid query", null, errors);
        }

        var page = configuration.Cardholders.People.Values
            .Where(p => after is null || string.CompareOrdinal(p.Id.Value, after) > 0)
            .OrderBy(p => p.Id.Value, StringComparer.Ordinal)
            .Take(limit)
            .Select(PersonView.From)
            .ToList();
        return Json(new Page<PersonView>(page, page.Count == limit ? page[^1].Id : null));
    }

    private static IResult GetPerson(string id, [FromServices] LiveConfiguration configuration)
    {
        var cardholders = configuration.Cardholders;
        if (!WireFormat.IsValidId(id))
        {
            return InvalidId("id");
        }

        if (!cardholders.People.TryGetValue(new PersonId(id), out var person))
        {
            return Problem(StatusCodes.Status404NotFound, "Not found", $"No person '{id}'.");
        }

        var credentials = cardholders.CredentialsOf(person.Id).OrderBy(c => c.CardUid, StringComparer.Ordinal).Select(CredentialView.From).ToList();
        return Json(PersonView.From(person) with { Credentials = credentials });
    }

    /// <summary>A PUT that terminates someone is a termination like any other (<see cref="Hr.Termination.UpsertByOperatorAsync"/>).</summary>
    private static async Task<IResult> PutPerson(string id, HttpContext http, [FromServices] Hr.Termination termination)
    {
        var (body, error) = await ReadBodyAsync<PersonInput>(http);
        return error ?? ToHttp(await termination.UpsertByOperatorAsync(Actor(http), id, body!, http.RequestAborted), PersonView.From);
    }

    /// <summary>A termination is the whole of <see cref="Hr.Termination"/> (cards, templates, visits, tokens), as the HR feed's is.</summary>
    private static async Task<IResult> PostPersonStatus(string id, HttpContext http, [FromServices] AdminService admin, [FromServices] Hr.Termination termination)
    {
        var (body, error) = await ReadBodyAsync<StatusInput>(http);
        if (error is not null)
        {
            return error;
        }

        var result = Hr.Termination.Terminates(body!.Status)
            ? await termination.ByOperatorAsync(Actor(http), id)
            : await admin.SetPersonStatusAsync(Actor(http), id, body.Status, http.RequestAborted);
        return ToHttp(result, PersonView.From);
    }

    private static async Task<IResult> PutPersonAccessLevels(string id, HttpContext http, [FromServices] AdminService admin)
    {
        var (body, error) = await ReadBodyAsync<List<string?>>(http, "accessLevels");
        return error ?? ToHttp(await admin.SetPersonAccessLevelsAsync(Actor(http), id, body!, http.RequestAborted), PersonView.From);
    }

    // ---- credentials -------------------------------------------------------------------------------

    private static IResult GetCredential(string card, [FromServices] LiveConfiguration configuration)
    {
        var cardUid = CardUid.Normalize(card);
        if (cardUid is null)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError("card", "must be 2 to 32 hexadecimal digits")]);
        }

        return configuration.Cardholders.Credentials.TryGetValue(cardUid, out var credential)
            ? Json(CredentialView.From(credential))
            : Problem(StatusCodes.Status404NotFound, "Not found", $"No credential '{cardUid}'.");
    }

    private static async Task<IResult> PutCredential(string card, HttpContext http, [FromServices] AdminService admin)
    {
        var (body, error) = await ReadBodyAsync<CredentialInput>(http);
        return error ?? ToHttp(await admin.UpsertCredentialAsync(Actor(http), card, body!, http.RequestAborted), CredentialView.From);
    }

    private static async Task<IResult> PostCredentialStatus(string card, HttpContext http, [FromServices] AdminService admin)
    {
        var (body, error) = await ReadBodyAsync<StatusInput>(http);
        return error ?? ToHttp(await admin.SetCredentialStatusAsync(Actor(http), card, body!.Status, http.RequestAborted), CredentialView.From);
    }

    private static async Task<IResult> PostCredentialReissue(string card, HttpContext http, [FromServices] AdminService admin)
    {
        var (body, error) = await ReadBodyAsync<CredentialReissueInput>(http);
        return error ?? ToHttp(await admin.ReissueCredentialAsync(Actor(http), card, body!.Binding, body.Reason, http.RequestAborted), CredentialView.From);
    }

    // ---- access levels -----------------------------------------------------------------------------

    private static IResult ListAccessLevels(HttpRequest request, [FromServices] LiveConfiguration configuration)
    {
        var (after, limit, errors) = PageParameters(request.Query);
        if (errors.Count > 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid query", null, errors);
        }

        var page = configuration.Cardholders.AccessLevels.Values
            .Where(l => after is null || string.CompareOrdinal(l.Id.Value, after) > 0)
            .OrderBy(l => l.Id.Value, StringComparer.Ordinal)
            .Take(limit)
            .Select(AccessLevelView.From)
            .ToList();
        return Json(new Page<AccessLevelView>(page, page.Count == limit ? page[^1].Id : null));
    }

    private static IResult GetAccessLevel(string id, [FromServices] LiveConfiguration configuration)
    {
        if (!WireFormat.IsValidId(id))
        {
            return InvalidId("id");
        }

        return configuration.Cardholders.AccessLevels.TryGetValue(new AccessLevelId(id), out var level)
            ? Json(AccessLevelView.From(level))
            : Problem(StatusCodes.Status404NotFound, "Not found", $"No access level '{id}'.");
    }

    private static async Task<IResult> PutAccessLevel(string id, HttpContext http, [FromServices] AdminService admin)
    {
        var (body, error) = await ReadBodyAsync<AccessLevelInput>(http);
        return error ?? ToHttp(await admin.UpsertAccessLevelAsync(Actor(http), id, body!, http.RequestAborted), AccessLevelView.From);
    }

    private static async Task<IResult> DeleteAccessLevel(string id, HttpContext http, [FromServices] AdminService admin)
    {
        var result = await admin.DeleteAccessLevelAsync(Actor(http), id, http.RequestAborted);
        return result.IsOk ? Results.NoContent() : ToHttp(result, AccessLevelView.From);
    }

    // ---- operator tokens ---------------------------------------------------------------------------

    /// <summary>The operator tokens (<see cref="ApiTokens.List"/>), revoked ones too, in the order they were made; never a token or its hash.</summary>
    private static IResult ListTokens(HttpRequest request, [FromServices] ApiTokens tokens)
    {
        var (after, limit, errors) = PageParameters(request.Query);
        if (errors.Count > 0)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid query", null, errors);
        }

        var page = tokens.List(after, limit);
        return Json(new Page<OperatorToken>(page, page.Count == limit ? page[^1].Id : null));
    }

    // ---- log ---------------------------------------------------------------------------------------

    /// <summary>
    /// The rows matching the query. A site-limited token reads only rows of its site, and rows with no site (admin
    /// changes of cardholders, refusals, service rows) are not among them. Asking for another site is refused
    /// (<see cref="LogQueryActions.Query"/>): an empty page would tell an auditor nothing happened there. A query that
    /// reaches into what the retention purge deleted says so (<see cref="LogPage.Purged"/>). So is a <c>door</c> or
    /// <c>reader</c> the site file places at another site: narrowed to the token's site, it would answer an empty page
    /// for the same question.
    /// </summary>
    private static async Task<IResult> QueryLog(HttpContext http, [FromServices] EntryLogQuery query, [FromServices] LiveConfiguration configuration)
    {
        var (filter, errors) = LogQueryParameters.Parse(
            http.Request.Query.Select(q => new KeyValuePair<string, IReadOnlyList<string>>(q.Key, [.. q.Value.Select(v => v ?? "")])));
        if (filter is null)
        {
            return Problem(StatusCodes.Status400BadRequest, "Invalid query", null, errors);
        }

        var who = Identity(http);
        var limit = who.Site;
        if (limit is not null && filter.SiteId is not null && filter.SiteId != limit)
        {
            return await SiteLimit.RefuseAsync(http, who, LogQueryActions.Query, filter.SiteId);
        }

        if (limit is not null && OtherSiteDevice(configuration.Topology, filter, limit) is { } other)
        {
            return await SiteLimit.RefuseAsync(http, who, LogQueryActions.Query, other.Site, other.Named);
        }

        var (rows, purged) = query.Answer(limit is null ? filter : filter with { SiteId = limit });
        var next = rows.Count == filter.Limit ? rows[^1].Seq.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        return Json(new LogPage(Visitors.VisitorService.SeesDocuments(who.Role) ? rows : [.. rows.Select(WithoutDocument)], next, purged));
    }

    /// <summary>
    /// A row as a role that does not see identity documents reads it (an admin: GDPR art. 5(1)(c), as <c>GET /visits</c>
    /// leaves them out): a check-in's <c>document</c> (type, issuing country, last characters, expiry) taken out of its
    /// detail, the rest as written. The stored row is untouched; an auditor, and <c>log verify</c>, read it whole.
    /// </summary>
    private static LogEntry WithoutDocument(LogEntry row)
    {
        if (row.Detail is not { } detail || !detail.Contains("\"document\":", StringComparison.Ordinal))
        {
            return row;
        }

        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(detail) is System.Text.Json.Nodes.JsonObject json && json.Remove("document"))
            {
                return row with { Detail = json.ToJsonString(AdminJson.Options) };
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON the service wrote: shown as it is, as the log query shows any such row.
        }

        return row;
    }

    /// <summary>
    /// The site of the door or reader of <paramref name="filter"/> when the site file places it at a site other than
    /// <paramref name="limit"/>, with what the query named (for the refusal's row); null when neither is. A door or
    /// reader the site file does not know (removed since) is not refused: the token's site may have its rows.
    /// </summary>
    private static (string Site, object Named)? OtherSiteDevice(SiteTopology topology, LogFilter filter, string limit)
    {
        if (filter.DoorId is { } door && topology.SiteOf(new DoorId(door)) is { } doorSite && doorSite.Value != limit)
        {
            return (doorSite.Value, new { door });
        }

        if (filter.ReaderId is { } reader && topology.SiteOf(new ReaderId(reader)) is { } readerSite && readerSite.Value != limit)
        {
            return (readerSite.Value, new { reader });
        }

        return null;
    }

    /// <summary>Walks the chain and checks the checkpoints (docs/log-integrity.md); a broken log is a 200 with <c>ok: false</c>.</summary>
    /// <summary>
    /// The whole log verified, as <c>accesscontrol log verify</c> does: through the service's verifications, so that a
    /// walk of a large log runs at the lowest priority (never on a request's thread, beside the swipes), and callers
    /// asking at once share one walk instead of each starting their own (<see cref="LogWatch.VerifyAsync"/>).
    /// </summary>
    private static async Task<IResult> VerifyLog([FromServices] LogWatch watch, HttpContext http)
    {
        var run = await watch.VerifyAsync(http.RequestAborted);
        return run.Verification is { } verified
            ? Json(verified)
            : Problem(StatusCodes.Status500InternalServerError, "The entry log could not be verified",
                $"The verification stopped on {run.Failure}; the service's log says why. Run accesscontrol log verify.");
    }

    // ---- plumbing ----------------------------------------------------------------------------------

    private static AdminActor Actor(HttpContext http) => AdminActor.Of(Identity(http));

    /// <summary>The page asked for; other parameters, and these given twice, are refused before (<see cref="PageParameterNames"/>).</summary>
    private static (string? After, int Limit, List<FieldError> Errors) PageParameters(IQueryCollection query)
    {
        var errors = new List<FieldError>();
        string? after = query.TryGetValue("after", out var a) ? a.ToString() : null;
        if (after is not null && !WireFormat.IsValidId(after))
        {
            errors.Add(new FieldError("after", "must be an id (the next cursor of the previous page)"));
        }

        var limit = 100;
        if (query.TryGetValue("limit", out var l)
            && (!int.TryParse(l.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPageSize))
        {
            errors.Add(new FieldError("limit", $"must be an integer from 1 to {MaxPageSize}"));
        }

        return (after, limit, errors);
    }

    /// <summary>Reads a JSON body; a malformed one is a 400 naming the JSON path that failed (<c>validFrom</c>, <c>zones[2]</c>).</summary>
    private static async Task<(T? Body, IResult? Error)> ReadBodyAsync<T>(HttpContext http, string root = "body")
        where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(http.Request.Body, AdminJson.RequestOptions, http.RequestAborted);
            return body is null
                ? (null, Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError(root, "is required")]))
                : (body, null);
        }
        catch (JsonException ex)
        {
            return (null, Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [AdminJson.ErrorOf(ex, root)]));
        }
    }

    private static IResult ToHttp<T, TView>(AdminResult<T> result, Func<T, TView> view) => result.Outcome switch
    {
        AdminOutcome.Ok => Json(view(result.Value!)),
        AdminOutcome.NotFound => Problem(StatusCodes.Status404NotFound, "Not found", result.Message),
        AdminOutcome.Invalid => Problem(StatusCodes.Status400BadRequest, "Invalid request", result.Message, result.Errors),
        AdminOutcome.Conflict => Problem(StatusCodes.Status409Conflict, "Conflict", result.Message),
        AdminOutcome.NotForThisSite => Refusal(StatusCodes.Status403Forbidden, "Forbidden", result.Message, SiteLimit.Code),
        AdminOutcome.SegregationOfDuties => Refusal(StatusCodes.Status403Forbidden, "Forbidden", result.Message, AdminService.SegregationOfDuties),
        _ => Problem(StatusCodes.Status503ServiceUnavailable, "Unavailable", result.Message),
    };

    private static IResult InvalidId(string field) =>
        Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError(field, "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")]);

    private static IResult Json<T>(T value) => Results.Json(value, AdminJson.Options);

    internal static IResult Problem(int status, string title, string? detail, IReadOnlyList<FieldError>? errors = null) =>
        Results.Json(
            new ApiProblem("about:blank", title, status, detail, errors is { Count: > 0 } ? errors : null),
            AdminJson.Options,
            "application/problem+json",
            status);

    /// <summary>An RFC 9457 problem body, with the invalid fields when there are any.</summary>
    public sealed record ApiProblem(string Type, string Title, int Status, string? Detail, IReadOnlyList<FieldError>? Errors);

    /// <summary>A refusal by a rule: a problem body with the rule's closed code (<see cref="Visitors.VisitRefusals"/>, <see cref="SiteLimit.Code"/>).</summary>
    internal static IResult Refusal(int status, string title, string? detail, string code) =>
        Results.Json(new RefusalProblem("about:blank", title, status, detail, code), AdminJson.Options, "application/problem+json", status);

    /// <summary>An RFC 9457 problem body with the refusal's closed code.</summary>
    public sealed record RefusalProblem(string Type, string Title, int Status, string? Detail, string Code);

    /// <summary>
    /// Appends the <c>security</c> row of a refused request. The request is refused either way, so a failed append is
    /// not thrown: losing the record of it is logged as an error, worth an operator's attention.
    /// </summary>
    internal static async Task RecordRefusalAsync(Func<LogEntry, CancellationToken, Task<LogEntry>> append, LogEntry row, ILogger logger)
    {
        try
        {
            await append(row, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "A refused request ({Reason}) could not be recorded in the entry log.", row.Reason);
        }
    }

    /// <summary>The operator the <see cref="OperatorFilter"/> authenticated for this request.</summary>
    internal static OperatorIdentity Identity(HttpContext http) =>
        http.Items[typeof(OperatorIdentity)] as OperatorIdentity
        ?? throw new InvalidOperationException("An API endpoint ran without an authenticated operator.");

    /// <summary>
    /// Authenticates the bearer token and checks that its role is one of <paramref name="allowed"/>; refusals are
    /// recorded as <c>security</c> rows. The token never leaves this method: not in the log row, not in ILogger output.
    /// The identity is left in <c>HttpContext.Items[typeof(OperatorIdentity)]</c> for the endpoint.
    /// </summary>
    internal sealed class OperatorFilter(params OperatorRole[] allowed) : IEndpointFilter
    {
        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var http = context.HttpContext;
            var header = http.Request.Headers.Authorization;
            var check = TokenCheck.Unknown;
            string refusal;
            if (header.Count == 0)
            {
                refusal = AuthReasons.MissingToken;
            }
            else
            {
                var text = header.Count == 1 ? header[0] : null;
                var token = text is not null && text.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? text["Bearer ".Length..].Trim() : null;
                check = http.RequestServices.GetRequiredService<ApiTokens>().Check(token);
                refusal = AuthReasons.InvalidToken;
            }

            // A known token refused for its person: not a failed sign-in (nothing was guessed, and counting it would lock
            // out everyone else behind the same address), nor a successful one.
            if (check is { Holder: { } holder, Refusal: { } refused })
            {
                await RecordAsync(http, AuthReasons.TokenRefused(refused), holder);
                return Refuse(http, holder, refused);
            }

            var identity = check.Identity;
            if (identity is null)
            {
                await RecordAsync(http, refusal, null);
                await HttpSecurity.HttpSecurityExtensions.RecordFailedSignInAsync(http);
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return Problem(StatusCodes.Status401Unauthorized, "Unauthorized", "A valid bearer token is required.");
            }

            HttpSecurity.HttpSecurityExtensions.RecordSignIn(http);
            if (!allowed.Contains(identity.Role))
            {
                await RecordAsync(http, AuthReasons.Forbidden, identity);
                return Problem(StatusCodes.Status403Forbidden, "Forbidden", $"The role '{ApiTokens.RoleCode(identity.Role)}' may not do this.");
            }

            http.Items[typeof(OperatorIdentity)] = identity;
            RequestOrigin.Set(identity.Operator, http.Connection.RemoteIpAddress?.ToString());
            return await next(context);
        }

        /// <summary>The answer to a token refused for its person: what happened and what to do, with the refusal's code.</summary>
        private static IResult Refuse(HttpContext http, OperatorIdentity holder, string refused)
        {
            if (refused == TokenRefusals.WithoutPerson)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                return Refusal(StatusCodes.Status401Unauthorized, "Unauthorized",
                    $"This token names no person, so no termination could revoke it: such tokens are refused. Create a new one that names the person behind it (accesscontrol token create ... --person ID), then revoke this one (accesscontrol token list shows its id; accesscontrol token revoke --id ID).",
                    refused);
            }

            var why = refused switch
            {
                TokenRefusals.PersonSuspended => "is suspended: their tokens are refused until they are reinstated",
                TokenRefusals.PersonTerminated => "is terminated: their tokens no longer work",
                _ => "is not a known person: the token no longer works",
            };
            return Refusal(StatusCodes.Status403Forbidden, "Forbidden", $"The person behind this token, {holder.PersonId}, {why}.", refused);
        }

        private static async Task RecordAsync(HttpContext http, string reason, OperatorIdentity? identity)
        {
            var services = http.RequestServices;
            var entry = new LogEntry
            {
                At = services.GetRequiredService<IClock>().GetCurrentInstant(),
                Kind = LogKinds.Security,
                Actor = identity?.Operator,
                Reason = reason,
                Detail = AdminJson.Serialize(new
                {
                    method = http.Request.Method,
                    path = Truncate(http.Request.Path.Value ?? ""),
                    remote = http.Connection.RemoteIpAddress?.ToString(),
                    role = identity is null ? null : ApiTokens.RoleCode(identity.Role),
                    person = identity?.PersonId,
                }),
            };
            await RecordRefusalAsync(services.GetRequiredService<EntryLogAppender>().Append, entry, services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdminApi)));
        }

        private static string Truncate(string text) => text.Length <= 256 ? text : text[..256] + "...";
    }
}

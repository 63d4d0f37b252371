using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Sites;
using AccessControl.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Fingerprints;

/// <summary>
/// The HTTP/JSON fingerprint API under <c>/api/v1</c>: enroll, list and revoke a person's templates, rekey, reconcile.
/// </summary>
/// <remarks>
/// <para>Roles: <c>enrollment</c> (least privilege: enroll, list, revoke) and <c>admin</c> may change templates;
/// <c>auditor</c> reads the lists and the reconciliation; only <c>admin</c> rekeys. The enrolling operator is the
/// token's operator; a token naming the person being enrolled is refused with <c>403</c> code <c>self_enrollment</c>
/// (NIST AC-5). Refusals are <c>422</c>, conflicts <c>409</c>, with a problem body whose <c>code</c> is one of
/// <see cref="FingerprintRefusals"/>.</para>
/// <para>No response ever carries a template: lists are metadata. A malformed body is answered without echoing it.</para>
/// </remarks>
public static class FingerprintApi
{
    private const string Prefix = AdminApi.Prefix;

    /// <summary>
    /// Registers the fingerprint store (unless the host already registered a <see cref="FingerprintService"/>, as
    /// <c>EdgeService</c> does). Needs what <see cref="AdminApi.AddAdmin"/> registers, plus <see cref="Database"/>,
    /// <see cref="LiveConfiguration"/> and <see cref="IClock"/>. Call <see cref="FingerprintService.Load"/> at start-up.
    /// </summary>
    public static IServiceCollection AddFingerprints(this IServiceCollection services, FingerprintOptions options, FingerprintKeyring keyring, Func<FingerprintKeyring>? reloadKeys = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(keyring);
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => new FingerprintStore(sp.GetRequiredService<Database>()));
        services.TryAddSingleton(sp => new FingerprintTemplates(sp.GetRequiredService<FingerprintStore>(), keyring, sp.GetRequiredService<ILogger<FingerprintTemplates>>()));
        services.TryAddSingleton(sp => new FingerprintService(
            sp.GetRequiredService<FingerprintStore>(),
            sp.GetRequiredService<FingerprintTemplates>(),
            sp.GetRequiredService<LiveConfiguration>(),
            sp.GetRequiredService<EntryLogAppender>().Append,
            options,
            reloadKeys,
            sp.GetRequiredService<IClock>(),
            sp.GetRequiredService<ILogger<FingerprintService>>()));
        return services;
    }

    /// <summary>Maps the fingerprint endpoints under <c>/api/v1</c>.</summary>
    public static IEndpointRouteBuilder MapFingerprintApi(this IEndpointRouteBuilder app)
    {
        RouteGroupBuilder Group(params OperatorRole[] roles) => app.MapGroup(Prefix).AddEndpointFilter(new AdminApi.OperatorFilter(roles));

        var enrollers = Group(OperatorRole.Enrollment, OperatorRole.Admin);
        enrollers.MapPost("/people/{personId}/fingerprints", Enroll).WithQueryParameters();
        enrollers.MapDelete("/fingerprints/{templateId}", Revoke).WithQueryParameters("reason");

        // Every GET route names the query parameters it takes: none here; any is refused, naming it (QueryParameters).
        Group(OperatorRole.Enrollment, OperatorRole.Admin, OperatorRole.Auditor).MapGet("/people/{personId}/fingerprints", List).WithQueryParameters();

        // Both span every site: the reconciliation names every person with a template or a two-factor zone, the rekey
        // re-encrypts every template (FingerprintService refuses a site-limited token itself, whoever asks).
        Group(OperatorRole.Admin, OperatorRole.Auditor).MapGet("/fingerprints/reconciliation", ([FromServices] FingerprintService s) => Json(s.Reconcile()))
            .AddEndpointFilter(new SiteLimit.EverySiteOnly(EverySiteActions.FingerprintReconciliation)).WithQueryParameters();
        Group(OperatorRole.Admin).MapPost("/fingerprints/rekey", async (HttpContext http, [FromServices] FingerprintService s) =>
            ToHttp(await s.RekeyAsync(AdminActor.Of(Identity(http)), http.RequestAborted), v => v)).WithQueryParameters();
        return app;
    }

    private static async Task<IResult> Enroll(string personId, HttpContext http, [FromServices] FingerprintService fingerprints)
    {
        EnrollmentInput? body;
        try
        {
            body = await JsonSerializer.DeserializeAsync<EnrollmentInput>(http.Request.Body, AdminJson.RequestOptions, http.RequestAborted);
        }
        catch (JsonException ex)
        {
            var error = AdminJson.ErrorOf(ex);
            return Invalid(error.Field, error.Message);
        }

        if (body is null)
        {
            return Invalid("body", "is required");
        }

        var template = DecodeTemplate(body.Template);
        if (template is null)
        {
            return Invalid("template", $"is required: base64 of 1 to {FingerprintTemplate.MaxBytes} bytes");
        }

        var result = await fingerprints.EnrollAsync(Identity(http), personId, body.Finger ?? "", body.Station ?? "", body.Format ?? "", template,
            body.Replace ?? false, http.RequestAborted);
        return result.IsOk
            ? Results.Json(FingerprintView.From(result.Value!), AdminJson.Options, statusCode: StatusCodes.Status201Created)
            : ToHttp(result, FingerprintView.From);
    }

    private static IResult List(string personId, [FromServices] FingerprintService fingerprints) =>
        ToHttp(fingerprints.List(personId), records => records.Select(FingerprintView.From).ToList());

    /// <summary>The reason is the query's <c>reason</c> (any other parameter, or it twice, is refused before: <see cref="QueryParameters"/>).</summary>
    private static async Task<IResult> Revoke(string templateId, HttpContext http, [FromServices] FingerprintService fingerprints) =>
        ToHttp(await fingerprints.RevokeAsync(Identity(http).Operator, templateId, http.Request.Query["reason"].FirstOrDefault(), http.RequestAborted), FingerprintView.From);

    private static byte[]? DecodeTemplate(string? base64)
    {
        if (string.IsNullOrEmpty(base64) || base64.Length > (FingerprintTemplate.MaxBytes + 2) / 3 * 4)
        {
            return null;
        }

        var buffer = new byte[FingerprintTemplate.MaxBytes];
        return Convert.TryFromBase64String(base64, buffer, out var written) && written > 0 ? buffer[..written] : null;
    }

    private static OperatorIdentity Identity(HttpContext http) =>
        http.Items[typeof(OperatorIdentity)] as OperatorIdentity
        ?? throw new InvalidOperationException("A fingerprint endpoint ran without an authenticated operator.");

    private static IResult Invalid(string field, string message) =>
        AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError(field, message)]);

    private static IResult Json<T>(T value) => Results.Json(value, AdminJson.Options);

    private static IResult ToHttp<T, TView>(FingerprintResult<T> result, Func<T, TView> view) => result.Outcome switch
    {
        FingerprintOutcome.Ok => Json(view(result.Value!)),
        FingerprintOutcome.NotFound => AdminApi.Problem(StatusCodes.Status404NotFound, "Not found", result.Message),
        FingerprintOutcome.Invalid => AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", result.Message, result.Errors),
        FingerprintOutcome.Refused => Refusal(StatusCodes.Status422UnprocessableEntity, "Refused", result),
        FingerprintOutcome.Forbidden => Refusal(StatusCodes.Status403Forbidden, "Forbidden", result),
        FingerprintOutcome.Conflict => Refusal(StatusCodes.Status409Conflict, "Conflict", result),
        _ => AdminApi.Problem(StatusCodes.Status503ServiceUnavailable, "Unavailable", result.Message),
    };

    private static IResult Refusal<T>(int status, string title, FingerprintResult<T> result) => AdminApi.Refusal(status, title, result.Message, result.Code!);
}

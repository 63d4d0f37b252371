using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Events;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.LifeSafety;

/// <summary>
/// <c>GET /api/v1/fire</c> (the release state) and <c>POST /api/v1/fire/reset[?force=true]</c> (roles admin or security):
/// the only way a fire release ends. A reset is refused with 409 while a panel has not sent <c>clear</c> since its last
/// alarm, unless forced (logged as forced), and the refusal is recorded (a <c>security</c> row <c>fire.reset.refused</c>,
/// code <see cref="NotClearedCode"/>); otherwise it writes a <c>fire_reset</c> row naming the operator and then relocks.
/// A token limited to one site sees and resets only that site's release (its <c>fire_reset</c> row says so, with the
/// number of other sites left released); when only other sites are released it is refused (403
/// <c>not_approver_for_site</c>, a <c>security</c> row <c>fire.reset.refused</c>).
/// </summary>
public static class FireApi
{
    /// <summary>Maps the endpoints under <see cref="AdminApi.Prefix"/>; needs <see cref="EventPipeline"/> registered.</summary>
    public static IEndpointRouteBuilder MapFireApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(AdminApi.Prefix).AddEndpointFilter(new AdminApi.OperatorFilter(OperatorRole.Admin, OperatorRole.Security));
        group.MapGet("/fire", (HttpContext http, [FromServices] EventPipeline pipeline) =>
            Results.Json(Status(pipeline.Fire.Scope(AdminApi.Identity(http).Site)), AdminJson.Options)).WithQueryParameters();
        group.MapPost("/fire/reset", ResetAsync).WithQueryParameters("force");
        return app;
    }

    /// <summary>The state as the API shows it.</summary>
    public sealed record FireStatus(bool Released, IReadOnlyList<FireSiteStatus> Sites, IReadOnlyList<string> PanelsInAlarm);

    /// <summary>One released site.</summary>
    public sealed record FireSiteStatus(string SiteId, string Panel, string Since, IReadOnlyList<string> Doors, bool Cleared, IReadOnlyList<string> PanelsInAlarm);

    private static FireStatus Status(FireState state) => new(
        state.IsReleased,
        [.. state.Sites.Values.OrderBy(s => s.SiteId, StringComparer.Ordinal).Select(s =>
            new FireSiteStatus(s.SiteId, s.Panel, Protocol.WireFormat.FormatInstant(s.Since), s.Doors, s.Cleared, [.. s.PanelsInAlarm]))],
        [.. state.PanelsInAlarm.Values.SelectMany(p => p).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]);

    private static async Task<IResult> ResetAsync(HttpContext http, [FromServices] EventPipeline pipeline)
    {
        var force = false;
        if (http.Request.Query.TryGetValue("force", out var text))
        {
            if (text.ToString() is not ("true" or "false"))
            {
                return AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError("force", "must be true or false")]);
            }

            force = text.ToString() == "true";
        }

        var identity = AdminApi.Identity(http);
        try
        {
            var result = await pipeline.ResetFireAsync(identity.Operator, force, identity.Site, http.RequestAborted);
            return result.Outcome switch
            {
                FireResetOutcome.OtherSitesOnly => await SiteLimit.RefuseAsync(http, identity, FireActions.Reset, null, new { released = string.Join(',', result.Sites), forced = force }),
                FireResetOutcome.NotCleared => await NotClearedAsync(http, identity, result),
                FireResetOutcome.NotReleased => AdminApi.Problem(StatusCodes.Status409Conflict, "Not released", "No door is released by a fire alarm."),
                _ => Results.Json(new { relocked = result.Relocked, forced = force, sites = result.Sites }, AdminJson.Options),
            };
        }
        catch (EntryLogUnavailableException)
        {
            return AdminApi.Problem(StatusCodes.Status503ServiceUnavailable, "Unavailable", "The entry log could not be written; nothing was relocked.");
        }
        catch (PipelineItemFailedException)
        {
            return AdminApi.Problem(StatusCodes.Status500InternalServerError, "Internal error", "The service failed to handle the reset (see its log); nothing was relocked.");
        }
    }

    /// <summary>The code in the <c>fire.reset.refused</c> row of a reset refused because a panel has not cleared.</summary>
    public const string NotClearedCode = "fire_not_cleared";

    /// <summary>
    /// Records a reset refused because a panel has not sent <c>clear</c> (a <c>security</c> row <c>fire.reset.refused</c>,
    /// code <see cref="NotClearedCode"/>): an attempt to relock the doors of a building still in alarm is what an auditor
    /// and the fire officer look for, not only the 409 the operator saw. The row names the operator, the site (when the
    /// refusal is one site's) and the panels in alarm. The answer is the 409 whatever the row's fate.
    /// </summary>
    private static async Task<IResult> NotClearedAsync(HttpContext http, OperatorIdentity who, FireResetResult result)
    {
        var services = http.RequestServices;
        var row = new LogEntry
        {
            At = services.GetRequiredService<IClock>().GetCurrentInstant(),
            Kind = LogKinds.Security,
            Actor = who.Operator,
            Reason = LogReasons.Refused(FireActions.Reset),
            SiteId = result.Sites.Length == 1 ? result.Sites[0] : null,
            Detail = JsonSerializer.Serialize(new
            {
                code = NotClearedCode,
                role = ApiTokens.RoleCode(who.Role),
                person = who.PersonId,
                tokenSite = who.Site,
                sites = string.Join(',', result.Sites),
                panelsInAlarm = string.Join(',', result.PanelsInAlarm),
            }, AdminJson.Options),
        };
        await AdminApi.RecordRefusalAsync(services.GetRequiredService<EntryLogAppender>().Append, row, services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(FireApi)));
        return AdminApi.Problem(StatusCodes.Status409Conflict, "Fire alarm not cleared",
            $"Panel(s) {string.Join(", ", result.PanelsInAlarm)} have not sent clear since their alarm; nothing was relocked. Reset the panel first; force=true (accesscontrol fire reset --force) only when the panel is known to be faulty.");
    }
}

using System.Globalization;
using AccessControl.Admin;
using AccessControl.Protocol;
using AccessControl.Sites;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace AccessControl.Events;

/// <summary>
/// <c>POST /api/v1/devices/{readers|doors}/{id}/seq-reset[?baseline=N]</c> (admin only): lets a device whose
/// <c>seq</c> really restarted (firmware wiped) back in after replay protection refuses it. Audited by a
/// <c>device_seq_reset</c> admin row naming the operator, the new baseline and the previous one. A token limited to one
/// site resets only that site's devices (another site's, or a device the topology does not know: 403
/// <c>not_approver_for_site</c> and a <c>security</c> row <c>device_seq_reset.refused</c>).
/// </summary>
public static class DeviceSeqApi
{
    /// <summary>Maps the endpoint under <see cref="AdminApi.Prefix"/>; needs <see cref="EventPipeline"/> registered.</summary>
    public static IEndpointRouteBuilder MapDeviceSeqApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(AdminApi.Prefix).AddEndpointFilter(new AdminApi.OperatorFilter(OperatorRole.Admin))
            .MapPost("/devices/{kind}/{id}/seq-reset", ResetAsync).WithQueryParameters("baseline");
        return app;
    }

    private static async Task<IResult> ResetAsync(string kind, string id, HttpContext http, [FromServices] EventPipeline pipeline, [FromServices] LiveConfiguration configuration)
    {
        if (kind is not ("readers" or "doors"))
        {
            return AdminApi.Problem(StatusCodes.Status404NotFound, "Not found", "Devices are readers or doors.");
        }

        if (!WireFormat.IsValidId(id))
        {
            return AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError("id", "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")]);
        }

        long? baseline = null;
        if (http.Request.Query.TryGetValue("baseline", out var text))
        {
            if (!long.TryParse(text.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", null, [new FieldError("baseline", "must be a non-negative integer")]);
            }

            baseline = value;
        }

        var identity = AdminApi.Identity(http);
        var topology = configuration.Topology;
        var site = (kind == "readers" ? topology.SiteOf(new ReaderId(id)) : topology.SiteOf(new DoorId(id)))?.Value;
        if (identity.Site is not null && (site is null || !identity.ActsFor(site)))
        {
            return await SiteLimit.RefuseAsync(http, identity, DeviceSeqBaselines.ResetReason, site, new { source = kind + "/" + id, baseline });
        }

        try
        {
            var row = await pipeline.ResetDeviceSeqAsync(kind + "/" + id, baseline, identity.Operator, site, http.RequestAborted);
            return Results.Json(row, AdminJson.Options);
        }
        catch (EntryLogUnavailableException)
        {
            return AdminApi.Problem(StatusCodes.Status503ServiceUnavailable, "Unavailable", "The entry log could not be written; the reset is not recorded.");
        }
        catch (PipelineItemFailedException)
        {
            return AdminApi.Problem(StatusCodes.Status500InternalServerError, "Internal error", "The service failed to handle the reset (see its log); the baseline is unchanged.");
        }
    }
}

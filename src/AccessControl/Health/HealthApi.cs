using AccessControl.Admin;
using AccessControl.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace AccessControl.Health;

/// <summary>
/// The edge's health, for a monitor to poll (docs/operations.md, "Health"):
/// <list type="bullet">
/// <item><c>GET /api/v1/health</c>, without a token (a load balancer or an uptime probe has none): the status alone,
/// <c>ok</c> or <c>degraded</c> with 200, <c>failing</c> with 503. It says nothing else to whoever asks.</item>
/// <item><c>GET /api/v1/health/checks</c> (auditor, security or admin): every check with its status and a sentence.
/// No personal data, no secret, no path.</item>
/// </list>
/// </summary>
public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet(AdminApi.Prefix + "/health", ([FromServices] EdgeService edge) =>
        {
            var report = EdgeHealth.Evaluate(HealthProbe.Read(edge));
            return Results.Json(new { status = Name(report.Status) }, AdminJson.Options, statusCode: StatusCode(report.Status));
        }).WithQueryParameters(); // as every GET route: a probe that adds one (a cache buster) is told so, not answered
        app.MapGroup(AdminApi.Prefix).AddEndpointFilter(new AdminApi.OperatorFilter(OperatorRole.Auditor, OperatorRole.Security, OperatorRole.Admin))
            .MapGet("/health/checks", ([FromServices] EdgeService edge) =>
            {
                var report = EdgeHealth.Evaluate(HealthProbe.Read(edge));
                return Results.Json(Describe(report), AdminJson.Options, statusCode: StatusCode(report.Status));
            }).WithQueryParameters();
        return app;
    }

    /// <summary>The JSON shape of a report.</summary>
    public static object Describe(HealthReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new
        {
            status = Name(report.Status),
            checks = report.Checks.Select(c => new { name = c.Name, status = Name(c.Status), detail = c.Detail }),
        };
    }

    public static string Name(HealthStatus status) => status switch
    {
        HealthStatus.Ok => "ok",
        HealthStatus.Degraded => "degraded",
        _ => "failing",
    };

    private static int StatusCode(HealthStatus status) => status == HealthStatus.Failing ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
}

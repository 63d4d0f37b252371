using AccessControl.Admin;
using AccessControl.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace AccessControl.Broker;

/// <summary>
/// <c>GET /api/v1/broker</c> (auditor, security or admin): how the service meets its broker right now, for a monitor to
/// poll instead of reading the log. <c>link</c> is <c>in-process</c> (inside the embedded broker) or <c>client</c>;
/// <c>connected</c> says whether device messages reach the service; <c>publishesSeparately</c> (client link only)
/// whether answers go over the publish-only connection <c>ac-service-out</c>, false while it is down or refused
/// (left out for the in-process link).
/// Holds no secret and no personal data.
/// </summary>
public static class BrokerStatusApi
{
    public static IEndpointRouteBuilder MapBrokerStatusApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(AdminApi.Prefix).AddEndpointFilter(new AdminApi.OperatorFilter(OperatorRole.Auditor, OperatorRole.Security, OperatorRole.Admin))
            .MapGet("/broker", ([FromServices] EdgeService edge) => Results.Json(Describe(edge), AdminJson.Options)).WithQueryParameters();
        return app;
    }

    /// <summary>The JSON shape of the status.</summary>
    public static object Describe(EdgeService edge) => new
    {
        mode = edge.Broker is null ? "external" : "embedded",
        host = edge.BrokerHost,
        port = edge.BrokerPort,
        link = edge.Connection switch
        {
            InProcessLink => "in-process",
            ServiceConnection => "client",
            _ => "not started",
        },
        connected = edge.Connection?.IsConnected ?? false,
        publishesSeparately = (edge.Connection as ServiceConnection)?.PublishesSeparately,
    };
}

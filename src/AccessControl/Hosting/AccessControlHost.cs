using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AccessControl.Hosting;

/// <summary>
/// The service as a process: an <see cref="EdgeService"/> plus the HTTP admin API on Kestrel, started and stopped together.
/// </summary>
public sealed class AccessControlHost : IAsyncDisposable
{
    private readonly WebApplication app;

    private AccessControlHost(WebApplication app, EdgeService edge)
    {
        this.app = app;
        Edge = edge;
    }

    public EdgeService Edge { get; }

    /// <summary>The base address the HTTP API listens on (the real port when configured with port 0).</summary>
    public Uri HttpAddress => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public static AccessControlHost Create(ServiceSettings settings, NodaTime.IClock clock, TimeProvider time, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logging is null)
        {
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        }
        else
        {
            logging(builder.Logging);
        }

        builder.WebHost.UseUrls(settings.HttpUrl);
        builder.Services.AddSingleton(clock);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(settings);
        var app = builder.Build();
        var edge = EdgeService.Create(settings, clock, time, app.Services.GetRequiredService<ILoggerFactory>());
        app.MapGet("/api/v1/health", () => Results.Ok(new
        {
            status = edge.Connection?.IsConnected == true ? "ok" : "degraded",
            broker = edge.Connection?.IsConnected == true ? "connected" : "disconnected",
            publishFailures = edge.Pipeline.PublishFailures,
        }));
        return new AccessControlHost(app, edge);
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await Edge.StartAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await Edge.DisposeAsync();
        await app.DisposeAsync();
    }
}

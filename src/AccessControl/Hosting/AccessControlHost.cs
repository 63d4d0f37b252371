using AccessControl.Events;
using AccessControl.Admin;
using AccessControl.Fingerprints;
using AccessControl.Hr;
using AccessControl.HttpSecurity;
using AccessControl.Visitors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
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
    private readonly ILoggerFactory loggers;

    private AccessControlHost(WebApplication app, EdgeService edge, ILoggerFactory loggers)
    {
        this.app = app;
        Edge = edge;
        this.loggers = loggers;
    }

    public EdgeService Edge { get; }

    /// <summary>The HTTP host's services (the visitor service, for one).</summary>
    public IServiceProvider Services => app.Services;

    /// <summary>The HTTP routes the admin API answers, known from <see cref="Create"/> on (the docs are checked against them).</summary>
    internal IEnumerable<string> RoutePatterns =>
        ((Microsoft.AspNetCore.Routing.IEndpointRouteBuilder)app).DataSources.SelectMany(source => source.Endpoints)
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>().Select(endpoint => "/" + endpoint.RoutePattern.RawText!.TrimStart('/'));

    /// <summary>The base address the HTTP API listens on (the real port when configured with port 0).</summary>
    public Uri HttpAddress => new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public static AccessControlHost Create(ServiceSettings settings, NodaTime.IClock clock, TimeProvider time, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        // Settings first (EdgeService.Create checks them again): the probe below binds the admin API's address, and one
        // the settings refuse (plain HTTP off loopback, or not this machine's) is not to be bound, not even for a moment.
        if (settings.Validate() is { Count: > 0 } errors)
        {
            throw new SettingsException("Invalid settings: " + string.Join(" ", errors));
        }

        HttpAddressProbe.ThrowIfTaken(settings.HttpUrl);   // then: nothing opened or written for a start that cannot listen

        // The service's settings are the only configuration: ASP.NET Core's defaults would also read the working
        // directory's appsettings.json and every environment variable, where a Kestrel section opens endpoints of its own
        // (plain HTTP, any interface) in place of HttpUrl, and ASPNETCORE_ENVIRONMENT=Development shows exception pages.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection(); // where UseUrls below writes its one setting
        builder.Logging.ClearProviders();
        if (logging is null)
        {
            // ASP.NET Core writes four information lines for every request (request starting, endpoint executing and
            // executed, request finished): at a security console polling /health and /alarms that is most of the journal,
            // and the service's own lines (refusals, alarms) drown in it. Its warnings and errors still show; every
            // refusal is in the entry log as a security row anyway.
            builder.Logging.AddServiceConsole(time).AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        }
        else
        {
            logging(builder.Logging);
        }

        builder.WebHost.UseUrls(settings.HttpUrl);

        // Not Kestrel's 30 MB: every JSON body is small, and is refused 413 before it is parsed (UseHttpSecurity). The
        // one larger limit, the HR feed's 1 MiB (BodySizeLimit), is set by routing for that endpoint alone.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = settings.Http.MaxRequestBodyBytes);
        var loggers = LoggerFactory.Create(l =>
        {
            if (logging is null)
            {
                l.AddServiceConsole(time);
            }
            else
            {
                logging(l);
            }
        });

        // A start that fails leaves nothing open (as EdgeService.Create does for its own parts): the console logger's
        // thread, the service and the web host would otherwise stay with every attempt of a host that catches and retries.
        EdgeService? edge = null;
        WebApplication? app = null;
        try
        {
            edge = EdgeService.Create(settings, clock, time, loggers);
            builder.Services.AddSingleton(clock);
            builder.Services.AddSingleton(time);
            builder.Services.AddSingleton(settings);
            builder.Services.AddSingleton(edge.Database);
            builder.Services.AddSingleton(edge.Configuration);
            builder.Services.AddSingleton(edge);
            builder.Services.AddSingleton(edge.Pipeline);
            builder.Services.AddSingleton(edge.Log);
            builder.Services.AddSingleton(edge.LogWatch);
            builder.Services.AddSingleton(edge.Cardholders);
            builder.Services.AddSingleton(edge.Admin);
            builder.Services.AddAdmin();

            // Fingerprint templates (issue 4): enrollment, revocation, rekey, reconciliation; the edge owns the store.
            builder.Services.AddSingleton(edge.Fingerprints);

            // Visitor management (issue 3): requests, approvals, front desk, badge pool, watch list.
            // From the service's settings, not the web builder's configuration: that reads the working directory's appsettings.json.
            builder.Services.AddVisitors(settings.Visitors, settings.DataDirectory);

            // HR feed (issue 5): signed terminations and transfers; future-dated ones applied by a periodic job.
            builder.Services.AddHrFeed(settings.DataDirectory);

            // Security headers, request rate limit and failed sign-in lockout on every endpoint (issue 5).
            builder.Services.AddHttpSecurity(settings.Http);

            app = builder.Build();
            app.UseHttpSecurity();
            app.MapAdminApi();
            app.MapVisitorApi();
            app.MapFingerprintApi();
            app.MapHrFeedApi();
            app.MapDeviceSeqApi();
            app.MapPipelineMetricsApi();
            Broker.BrokerStatusApi.MapBrokerStatusApi(app);
            Health.HealthApi.MapHealthApi(app);
            LifeSafety.FireApi.MapFireApi(app);
            edge.Termination = app.Services.GetRequiredService<Termination>();
            var visitors = app.Services.GetRequiredService<AccessControl.Visitors.VisitorService>();
            edge.AddSupervision(visitors.CheckOverdueBadgesAsync);
            visitors.RestoreDesignatedEscorts();
            visitors.RefreshDoorRules();
            edge.AddPeriodic("visitor-retention", TimeSpan.FromDays(1), async ct => await visitors.PurgeAsync(AdminActor.EverySite(Visitors.VisitorService.RetentionJob), ct));
            _ = app.Services.GetRequiredService<HrFeedSigner>(); // the key file is created on first start, for the HR system to be given
            var hr = app.Services.GetRequiredService<HrFeedService>();
            hr.RestoreScheduled();
            edge.ApplyDueHrEvents = async () => await hr.ApplyDueAsync();
            edge.AddPeriodic("hr-due-events", HrFeedService.DueCheckInterval, async ct => await hr.ApplyDueAsync(ct));
            return new AccessControlHost(app, edge, loggers);
        }
        catch
        {
            // In reverse order of making; nothing was started yet (StartAsync starts both).
            app?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            edge?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            loggers.Dispose();
            throw;
        }
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
        loggers.Dispose(); // last: the service logs until it is disposed
    }
}

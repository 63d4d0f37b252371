using System.Threading.RateLimiting;
using AccessControl.Admin;
using AccessControl.EntryLog;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.HttpSecurity;

/// <summary>
/// What every HTTP response of the service carries and what every client is held to: security headers, a request
/// rate limit per client address, and a lockout after repeated failed sign-ins (PCI DSS 8.3.4, NIST AC-7). Refusals
/// are <c>security</c> rows in the entry log (one per lockout, not one per refused request).
/// </summary>
public static class HttpSecurityExtensions
{
    /// <summary>Headers set on every response. The API serves JSON only: nothing may frame, sniff, cache or embed it.</summary>
    public static IReadOnlyDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["X-Content-Type-Options"] = "nosniff",
        ["X-Frame-Options"] = "DENY",
        ["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ["Referrer-Policy"] = "no-referrer",
        ["Cross-Origin-Resource-Policy"] = "same-origin",
        ["Cross-Origin-Opener-Policy"] = "same-origin",
        ["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), usb=()",
        ["Cache-Control"] = "no-store",
    };

    public static IServiceCollection AddHttpSecurity(this IServiceCollection services, HttpSecurityOptions options)
    {
        services.AddSingleton(options);
        services.AddSingleton(new SignInThrottle(options));
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                RateLimitPartition.GetFixedWindowLimiter(ClientKey(http), _ => new FixedWindowRateLimiterOptions
                {
                    PermitLimit = options.RequestsPerWindow,
                    Window = options.RequestWindow,
                    QueueLimit = 0,
                }));
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var http = context.HttpContext;
                http.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.RequestWindow.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Results.Json(new AdminApi.ApiProblem("about:blank", "Too Many Requests", 429,
                    $"More than {options.RequestsPerWindow} requests in {options.RequestWindow.TotalSeconds:0} s from this address.", null),
                    AdminJson.Options, "application/problem+json", 429).ExecuteAsync(http);
            };
        });
        return services;
    }

    /// <summary>
    /// Security headers on every response, then the lockout check, then the body size limit, then the rate limiter.
    /// Call before mapping endpoints.
    /// </summary>
    public static WebApplication UseHttpSecurity(this WebApplication app)
    {
        app.Use(async (http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                foreach (var (name, value) in Headers)
                {
                    http.Response.Headers[name] = value;
                }

                return Task.CompletedTask;
            });

            var services = http.RequestServices;
            var now = services.GetRequiredService<IClock>().GetCurrentInstant();
            if (!IsHealth(http) && services.GetRequiredService<SignInThrottle>().IsLockedOut(ClientKey(http), now, out var until))
            {
                var seconds = Math.Max(1, (int)Math.Ceiling((until - now).TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Results.Json(new AdminApi.ApiProblem("about:blank", "Too Many Requests", 429,
                    "Too many failed sign-ins from this address; try again later.", null), AdminJson.Options, "application/problem+json", 429).ExecuteAsync(http);
                return;
            }

            // Kestrel's limit (MaxRequestBodyBytes, or the endpoint's BodySizeLimit, applied by routing) refuses a
            // body while it is read; this answers it in the API's shape, and at once when Content-Length says so.
            var limit = http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
            if (http.Request.ContentLength is { } length && length > limit)
            {
                // Not a byte of the body is read (before, up to 30 MB were read and discarded first): the answer goes
                // out at once and the connection is closed after it, Kestrel reading no more of a body over its limit.
                // A client that waits for 100 Continue never sends the body; one that sends all of it before reading
                // an answer (HttpClient without Expect: 100-continue) sees the connection reset instead.
                await BodyTooLarge(http, limit);
                return;
            }

            try
            {
                await next(http);
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge && !http.Response.HasStarted)
            {
                // A chunked body cut off at the limit: what follows it is never read, and the connection is closed.
                await BodyTooLarge(http, limit);
            }
        });
        app.UseRateLimiter();
        return app;
    }

    /// <summary>413 in the API's problem shape.</summary>
    internal static IResult BodyTooLarge(long? limit) =>
        AdminApi.Problem(StatusCodes.Status413PayloadTooLarge, "Payload too large", $"At most {limit} bytes.");

    /// <summary>The 413, on a connection that ends with it: the rest of the body is never read.</summary>
    private static Task BodyTooLarge(HttpContext http, long? limit)
    {
        http.Response.Headers.Connection = "close";
        return BodyTooLarge(limit).ExecuteAsync(http);
    }

    /// <summary>
    /// Counts a failed sign-in of the request's client; the failure that starts a lockout is recorded as an
    /// <c>auth.lockout</c> security row (the failures themselves are recorded by the caller).
    /// </summary>
    internal static async Task RecordFailedSignInAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var throttle = services.GetService<SignInThrottle>();
        if (throttle is null)
        {
            return;
        }

        var now = services.GetRequiredService<IClock>().GetCurrentInstant();
        if (throttle.RecordFailure(ClientKey(http), now) is not { } until)
        {
            return;
        }

        var options = services.GetRequiredService<HttpSecurityOptions>();
        try
        {
            await services.GetRequiredService<EntryLogAppender>().Append(new LogEntry
            {
                At = now,
                Kind = LogKinds.Security,
                Reason = AuthReasons.Lockout,
                Detail = AdminJson.Serialize(new
                {
                    remote = ClientKey(http),
                    failures = options.FailuresBeforeLockout,
                    windowMinutes = options.FailureWindow.TotalMinutes,
                    until = Protocol.WireFormat.FormatInstant(until),
                }),
            }, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HttpSecurityExtensions))
                .LogError(ex, "A sign-in lockout of {Remote} could not be recorded in the entry log.", ClientKey(http));
        }
    }

    /// <summary>A successful sign-in clears the client's failure count.</summary>
    internal static void RecordSignIn(HttpContext http) => http.RequestServices.GetService<SignInThrottle>()?.RecordSuccess(ClientKey(http));

    /// <summary>The client's address: the key of both limits (behind a reverse proxy, configure forwarded headers first).</summary>
    public static string ClientKey(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    // Exactly the token-free status: /health/checks takes a token, so a lockout must cover it like every other endpoint.
    private static bool IsHealth(HttpContext http) => string.Equals(http.Request.Path.Value?.TrimEnd('/'), AdminApi.Prefix + "/health", StringComparison.Ordinal);
}

using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Fingerprints;
using AccessControl.Sites;
using AccessControl.Visitors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Hr;

/// <summary>
/// <c>POST /api/v1/hr/events</c>: the HR system's terminations and transfers, authenticated by a signature of the raw
/// body (<see cref="HrFeedSigner"/>), not by an operator token: the sender is a machine holding the HR feed key.
/// </summary>
/// <remarks>
/// A missing or wrong signature, or a timestamp more than <see cref="MaxClockSkew"/> from the service clock, is a 401
/// recorded as a <c>security</c> row (<see cref="HrFeedRefusals"/>)
/// and nothing is read further. A signed body that is not a batch is a 400. A signed batch is answered 200 with one
/// result per event (<see cref="HrOutcomes"/>): the HR system reads outcomes per event, not the status code.
/// </remarks>
public static class HrFeedApi
{
    public const string Path = AdminApi.Prefix + "/hr/events";
    public const string SignatureHeader = "X-AC-Signature";
    public const string TimestampHeader = "X-AC-Timestamp";
    public const int MaxBodyBytes = 1024 * 1024;

    /// <summary>How far a request's timestamp may be from the service clock (replay window).</summary>
    public static readonly Duration MaxClockSkew = Duration.FromMinutes(5);

    /// <summary>
    /// Registers the HR feed: its key (see <see cref="HrFeedKey"/>, in <paramref name="dataDirectory"/>), store and service.
    /// Needs what <see cref="AdminApi.AddAdmin"/> and <see cref="VisitorApi.AddVisitors"/> register, and the
    /// <see cref="FingerprintService"/>.
    /// </summary>
    public static IServiceCollection AddHrFeed(this IServiceCollection services, string dataDirectory)
    {
        var keyFile = System.IO.Path.Combine(dataDirectory, HrFeedKey.FileName);
        services.TryAddSingleton(_ => HrFeedKey.Load(keyFile));
        services.TryAddSingleton<HrEventStore>();
        services.TryAddSingleton(sp => new HrFeedService(
            sp.GetRequiredService<HrEventStore>(),
            sp.GetRequiredService<AdminService>(),
            sp.GetRequiredService<Termination>(),
            sp.GetRequiredService<LiveConfiguration>(),
            sp.GetRequiredService<EntryLogAppender>().Append,
            sp.GetRequiredService<EntryLogQuery>(),
            sp.GetService<EventPipeline>() is { } pipeline ? pipeline.RaiseAsync : (_, _) => Task.CompletedTask,
            sp.GetRequiredService<IClock>(),
            sp.GetRequiredService<ILogger<HrFeedService>>()));
        return services;
    }

    public static IEndpointRouteBuilder MapHrFeedApi(this IEndpointRouteBuilder app)
    {
        app.MapPost(Path, (Delegate)ReceiveAsync).WithMetadata(new HttpSecurity.BodySizeLimit(MaxBodyBytes));
        return app;
    }

    private static async Task<IResult> ReceiveAsync(HttpContext http)
    {
        var services = http.RequestServices;
        var body = await ReadBodyAsync(http.Request.Body, http.RequestAborted);
        if (body is null)
        {
            return HttpSecurity.HttpSecurityExtensions.BodyTooLarge(MaxBodyBytes);
        }

        var timestamp = http.Request.Headers[TimestampHeader].ToString();
        var signature = http.Request.Headers[SignatureHeader].ToString();
        var refusal = Check(services.GetRequiredService<HrFeedSigner>(), services.GetRequiredService<IClock>().GetCurrentInstant(), timestamp, signature, body);
        if (refusal is not null)
        {
            await RecordRefusalAsync(http, refusal);
            await HttpSecurity.HttpSecurityExtensions.RecordFailedSignInAsync(http);
            return AdminApi.Problem(StatusCodes.Status401Unauthorized, "Unauthorized",
                $"A valid {SignatureHeader} (sha256=HMAC of the timestamp, a newline and the body) and an {TimestampHeader} within {MaxClockSkew.TotalMinutes} minutes of the service clock are required.");
        }

        RequestOrigin.Set(HrFeedService.Actor, http.Connection.RemoteIpAddress?.ToString());

        // It takes no query parameter, as no route does one it does not name; checked here, after the signature, which
        // authenticates it (an endpoint filter would answer an unsigned request before its 401 and security row).
        if (QueryParameters.Refusal(http.Request) is { } invalidQuery)
        {
            return invalidQuery;
        }

        HrEventBatchInput? batch;
        try
        {
            batch = JsonSerializer.Deserialize<HrEventBatchInput>(body, AdminJson.Options);
        }
        catch (JsonException ex)
        {
            return AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", null,
                [AdminJson.ErrorOf(ex)]);
        }

        if (batch?.Events is not { Count: > 0 and <= HrFeedService.MaxEventsPerBatch } events)
        {
            return AdminApi.Problem(StatusCodes.Status400BadRequest, "Invalid request", null,
                [new FieldError("events", $"must list 1 to {HrFeedService.MaxEventsPerBatch} events")]);
        }

        var results = await services.GetRequiredService<HrFeedService>().SubmitAsync(events, http.RequestAborted);
        return Results.Json(new HrBatchResult(results), AdminJson.Options);
    }

    /// <summary>Null when the request is authentic and fresh, else the refusal code.</summary>
    internal static string? Check(HrFeedSigner signer, Instant now, string timestamp, string signature, byte[] body)
    {
        if (timestamp.Length == 0 || signature.Length == 0)
        {
            return HrFeedRefusals.MissingSignature;
        }

        if (!signer.Verify(timestamp, body, signature))
        {
            return HrFeedRefusals.InvalidSignature;
        }

        // Checked after the MAC, so an attacker cannot learn anything from which of the two failed.
        return HrFeedService.ParseInstant(timestamp) is { } at && Duration.Max(at - now, now - at) <= MaxClockSkew ? null : HrFeedRefusals.StaleTimestamp;
    }

    private static async Task<byte[]?> ReadBodyAsync(Stream body, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static async Task RecordRefusalAsync(HttpContext http, string reason)
    {
        var services = http.RequestServices;
        var entry = new LogEntry
        {
            At = services.GetRequiredService<IClock>().GetCurrentInstant(),
            Kind = LogKinds.Security,
            Actor = HrFeedService.Actor,
            Reason = reason,
            Detail = AdminJson.Serialize(new
            {
                method = http.Request.Method,
                path = Path,
                remote = http.Connection.RemoteIpAddress?.ToString(),
            }),
        };
        try
        {
            await services.GetRequiredService<EntryLogAppender>().Append(entry, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HrFeedApi)).LogError(ex, "A refused HR feed request ({Reason}) could not be recorded in the entry log.", reason);
        }
    }
}

/// <summary>Why a request to the HR feed was refused before it was read: the reason of its <c>security</c> row.</summary>
public static class HrFeedRefusals
{
    public const string MissingSignature = "hr.missing_signature";
    public const string InvalidSignature = "hr.invalid_signature";

    /// <summary>The timestamp is more than <see cref="HrFeedApi.MaxClockSkew"/> from the service clock.</summary>
    public const string StaleTimestamp = "hr.stale_timestamp";
}

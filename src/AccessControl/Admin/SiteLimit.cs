using System.Text.Json;
using System.Text.Json.Nodes;
using AccessControl.EntryLog;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Admin;

/// <summary>
/// A token limited to one site (<c>accesscontrol token create ... --site SITE</c>) acts for that site only. Every
/// refusal of such a token, whatever the endpoint and the role, looks the same: 403 with code <see cref="Code"/> and a
/// <c>security</c> row <c>&lt;action&gt;.refused</c> (<see cref="Row"/>). What such a token may do is listed in
/// docs/operations.md ("What a site-limited token can do").
/// </summary>
public static class SiteLimit
{
    /// <summary>The refusal's code. The name is historical (approvers were limited first): every role gets it.</summary>
    public const string Code = "not_approver_for_site";

    /// <summary>The refusal's detail for the client.</summary>
    public static string Message(OperatorIdentity who)
    {
        ArgumentNullException.ThrowIfNull(who);
        return $"This token acts for site {who.Site} only.";
    }

    /// <summary>
    /// The <c>security</c> row of a refusal: the token's operator as actor, <paramref name="site"/> the site the action
    /// was aimed at (null when it names none or several: then only an unlimited token reads the row), and in detail the
    /// code, the token's role, person and site, then the fields of <paramref name="named"/> (what the request named).
    /// </summary>
    public static LogEntry Row(OperatorIdentity who, string action, Instant at, string? site, object? named = null)
    {
        ArgumentNullException.ThrowIfNull(who);
        var detail = new JsonObject
        {
            ["code"] = Code,
            ["role"] = ApiTokens.RoleCode(who.Role),
            ["person"] = who.PersonId,
            ["tokenSite"] = who.Site,
        };
        if (named is not null && JsonSerializer.SerializeToNode(named, AdminJson.Options) is JsonObject fields)
        {
            foreach (var (name, value) in fields.ToList())
            {
                fields.Remove(name);
                detail[name] = value;
            }
        }

        return new LogEntry
        {
            At = at,
            Kind = LogKinds.Security,
            Actor = who.Operator,
            Reason = LogReasons.Refused(action),
            SiteId = site,
            Detail = detail.ToJsonString(AdminJson.Options),
        };
    }

    /// <summary>
    /// Refuses an HTTP request of a token that does not act for the site it aims at: records the <see cref="Row"/>
    /// (a failed append is logged, the request is refused either way) and answers 403 <see cref="Code"/>.
    /// </summary>
    public static async Task<IResult> RefuseAsync(HttpContext http, OperatorIdentity who, string action, string? site, object? named = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        var services = http.RequestServices;
        var row = Row(who, action, services.GetRequiredService<IClock>().GetCurrentInstant(), site, named);
        await AdminApi.RecordRefusalAsync(services.GetRequiredService<EntryLogAppender>().Append, row,
            services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SiteLimit)));
        return Forbidden(who);
    }

    /// <summary>
    /// An endpoint filter, after <see cref="AdminApi.OperatorFilter"/>, that refuses every site-limited token: for what
    /// spans all sites at once (cardholders, the whole log's verification, the list of tokens, the fingerprint
    /// reconciliation; the visitor service refuses the retention purge and the watch list's changes itself, the fingerprint
    /// service the rekey). The refusal's row is
    /// <c>&lt;action&gt;.refused</c> with no site, naming the method and path.
    /// </summary>
    internal sealed class EverySiteOnly(string action) : IEndpointFilter
    {
        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var http = context.HttpContext;
            return AdminApi.Identity(http) is { Site: not null } limited
                ? await RefuseAsync(http, limited, action, null, new { method = http.Request.Method, path = http.Request.Path.Value })
                : await next(context);
        }
    }

    /// <summary>403 with code <see cref="Code"/>, in the problem shape of every refusal with a code.</summary>
    public static IResult Forbidden(OperatorIdentity who) => AdminApi.Refusal(StatusCodes.Status403Forbidden, "Forbidden", Message(who), Code);
}

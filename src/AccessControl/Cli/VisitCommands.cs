using System.Text.Json;
using System.Text.Json.Nodes;
using AccessControl.Admin;
using AccessControl.Visitors;
using NodaTime;
using NodaTime.Text;
using Request = AccessControl.Cli.ApiRequest;

namespace AccessControl.Cli;

/// <summary>
/// <c>visit ...</c> commands: thin clients of the visitor API (<c>Visitors/VisitorApi.cs</c>), so a change made from
/// the command line is checked, applied and audited exactly like one made by any other client.
/// </summary>
/// <remarks>
/// The server is <c>--url</c> or <c>AC_URL</c>; the token only <c>AC_TOKEN</c>. The identity document number is read
/// from standard input, never from an option, so it is not left in shell history or the process list.
/// </remarks>
public static class VisitCommands
{
    public const string Usage = """
        usage (server from --url or AC_URL, token from AC_TOKEN):
          visit request --site S --date YYYY-MM-DD --start HH:mm --end HH:mm --zones Z1,Z2 --purpose TEXT
                        --visitor "NAME|ORGANIZATION" [--visitor ...] [--escorts P1,P2] [--host PERSON]
          visit show ID | visit list [--date YYYY-MM-DD] [--site S] [--status requested|approved|rejected|withdrawn] [--json]
                        (list: a table, times on the site's clock with offset and zone; --json: the service's answer)
          visit approve|reject|withdraw ID [--note TEXT]
          visit check-in ID --visitor N --name "NAME AS ON DOCUMENT" --doc-type passport|id_card|driving_licence|residence_permit
                        --doc-country ISO3 --doc-expiry YYYY-MM-DD [--badge CARD]     (the document number is read from standard input)
          visit check-out ID --visitor N | visit return CARD
          visit on-site [--site S] [--json] | visit overdue [--site S] [--json]
                        (tables like list's: on-site, who is here, the muster list; overdue, badges still out after the window)
          visit log --from INSTANT --to INSTANT [--site S] [--after NEXT] [--limit N]
          visit purge
          visit watchlist list | visit watchlist add --kind person|organization --value TEXT [--note TEXT] | visit watchlist remove ID
          visit badges [--site S] | visit badge add CARD --site S --technology T | visit badge remove CARD
        """;

    /// <summary>Flags (options without a value).</summary>
    public static IReadOnlyCollection<string> Flags { get; } = ["json"];

    /// <param name="args">The words after <c>visit</c>, parsed with <see cref="Flags"/>.</param>
    /// <param name="input">Where the document number of <c>check-in</c> is read from (standard input).</param>
    public static async Task<int> RunAsync(
        CliArgs args,
        TextReader input,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler = null,
        CancellationToken cancellationToken = default)
    {
        var built = await BuildAsync(args, input);
        return built.Item1 is not { } request || args.Has("json")
            ? await ApiClient.SendOrExplainAsync(built, Usage, args, output, error, environment, handler, cancellationToken)
            : args.Positionals[0] switch
            {
                "list" => await TableAsync<VisitView>(request, ListColumns, args, output, error, environment, handler, cancellationToken),
                "on-site" => await TableAsync<OnSiteView>(request, OnSiteColumns, args, output, error, environment, handler, cancellationToken),
                "overdue" => await TableAsync<OverdueBadgeView>(request, OverdueColumns, args, output, error, environment, handler, cancellationToken),
                _ => await ApiClient.SendOrExplainAsync(built, Usage, args, output, error, environment, handler, cancellationToken),
            };
    }

    /// <summary>How the tables show a time: on the site's clock, to the minute, with the offset (which 02:30 of a fall-back night).</summary>
    private static readonly OffsetDateTimePattern TablePattern = OffsetDateTimePattern.CreateWithInvariantCulture("uuuu'-'MM'-'dd HH':'mm o<+HH:mm>");

    /// <summary>
    /// The day list as the desk reads it: each window on its site's wall clock, with the offset (which 02:30 of a fall-back
    /// night) and the zone.
    /// </summary>
    private static readonly Column<VisitView>[] ListColumns =
    [
        new("ID", v => Number(v.Id)),
        new("SITE", v => v.Site),
        new("STATUS", v => v.Status),
        new("STARTS", v => Local(v.Window.StartsLocal, v.Window.StartsAt)),
        new("ENDS", v => Local(v.Window.EndsLocal, v.Window.EndsAt)),
        new("ZONE", v => Zone(v.Window.TimeZone)),
        new("VISITORS", v => Number(v.Visitors.Count)),
        new("HOST", v => v.Host),
    ];

    /// <summary>
    /// Who is on site (the muster list in an evacuation): what the service's answer shows of each visitor, never more
    /// (it carries no document), the times on the site's clock.
    /// </summary>
    private static readonly Column<OnSiteView>[] OnSiteColumns =
    [
        new("VISIT", v => Number(v.Visit)),
        new("VISITOR", v => Number(v.Visitor)),
        new("NAME", v => v.Name),
        new("ORGANIZATION", v => v.Organization),
        new("HOST", v => v.Host),
        new("BADGE", v => v.Badge ?? "-"),
        new("CHECKED IN", v => Local(v.CheckedInLocal, v.CheckedInAt)),
        new("ENDS", v => Local(v.WindowEndsLocal, v.WindowEndsAt)),
        new("ZONE", v => Zone(v.TimeZone)),
        new("LAST SEEN", v => v.LastSeen is { } seen ? Local(seen.AtLocal, seen.At) : "-"),
        new("WHERE", v => v.LastSeen is { } seen ? seen.Door ?? seen.Zone ?? seen.Reader ?? "-" : "-"),
    ];

    /// <summary>Badges still out after their window ended, the times on the site's clock.</summary>
    private static readonly Column<OverdueBadgeView>[] OverdueColumns =
    [
        new("BADGE", v => v.Badge),
        new("VISIT", v => Number(v.Visit)),
        new("VISITOR", v => Number(v.Visitor)),
        new("NAME", v => v.Name),
        new("ORGANIZATION", v => v.Organization),
        new("HOST", v => v.Host),
        new("ENDED", v => Local(v.WindowEndedLocal, v.WindowEndedAt)),
        new("ZONE", v => Zone(v.TimeZone)),
        new("ALARM", v => v.AlarmRaisedAt is { } at ? Local(v.AlarmRaisedLocal, at) : "-"),
    ];

    private sealed record Column<T>(string Header, Func<T, string> Cell);

    /// <summary>
    /// Sends <paramref name="request"/> and prints the service's answer, a list of <typeparamref name="T"/>, as a table
    /// for the desk (<see cref="TextTable"/> escapes control and bidi characters); errors as any command prints them.
    /// </summary>
    private static async Task<int> TableAsync<T>(
        Request request,
        IReadOnlyList<Column<T>> columns,
        CliArgs args,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler,
        CancellationToken cancellationToken)
    {
        using var json = new StringWriter();
        var code = await ApiClient.SendAsync(request, args, json, error, environment, handler, cancellationToken);
        if (code == ExitCodes.Ok)
        {
            var rows = JsonSerializer.Deserialize<T[]>(json.ToString(), AdminJson.Options) ?? [];
            List<string[]> table = [[.. columns.Select(c => c.Header)], .. rows.Select(row => columns.Select(c => c.Cell(row)).ToArray())];
            TextTable.Write(table, output);
        }

        return code;
    }

    /// <summary>A time on the site's clock with its offset; in UTC (+00:00) for a site the service no longer has loaded.</summary>
    private static string Local(OffsetDateTime? local, Instant instant) => TablePattern.Format(local ?? instant.WithOffset(Offset.Zero));

    private static string Zone(string? timeZone) => timeZone ?? "UTC (site not loaded)";

    private static string Number(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<(Request?, string?)> BuildAsync(CliArgs a, TextReader input)
    {
        var p = a.Positionals;
        var verb = p.Count > 0 ? p[0] : "";
        switch (verb)
        {
            case "request":
                if (Check(a, 1, ["url", "site", "date", "start", "end", "zones", "purpose", "visitor", "escorts", "host"], repeatable: ["visitor"]) is { } pr)
                {
                    return (null, pr);
                }

                var visitors = new JsonArray();
                foreach (var v in a.Options.GetValueOrDefault("visitor") ?? [])
                {
                    var bar = v.IndexOf('|', StringComparison.Ordinal);
                    if (bar < 0)
                    {
                        return (null, $"--visitor '{v}': expected \"NAME|ORGANIZATION\"");
                    }

                    visitors.Add(new JsonObject { ["name"] = v[..bar].Trim(), ["organization"] = v[(bar + 1)..].Trim() });
                }

                var body = new JsonObject
                {
                    ["site"] = a.Get("site"),
                    ["date"] = a.Get("date"),
                    ["start"] = a.Get("start"),
                    ["end"] = a.Get("end"),
                    ["purpose"] = a.Get("purpose"),
                    ["zones"] = List(a.Get("zones") ?? ""),
                    ["visitors"] = visitors,
                    ["escorts"] = List(a.Get("escorts") ?? ""),
                };
                if (a.Get("host") is { } host)
                {
                    body["host"] = host;
                }

                return (new Request(HttpMethod.Post, "/visits", body), null);
            case "show":
                return Check(a, 2, ["url"]) is { } ps ? (null, ps) : (new Request(HttpMethod.Get, "/visits/" + Segment(a, 1)), null);
            case "list":
                return Check(a, 1, ["url", "date", "site", "status", "json"]) is { } pl ? (null, pl) : (new Request(HttpMethod.Get, "/visits" + Query(a, "date", "site", "status")), null);
            case "approve" or "reject" or "withdraw":
                return Check(a, 2, ["url", "note"]) is { } pd
                    ? (null, pd)
                    : (new Request(HttpMethod.Post, $"/visits/{Segment(a, 1)}/{verb}", new JsonObject { ["note"] = a.Get("note") }), null);
            case "check-in":
                if (Check(a, 2, ["url", "visitor", "name", "doc-type", "doc-country", "doc-expiry", "badge"]) is { } pc)
                {
                    return (null, pc);
                }

                if (!int.TryParse(a.Get("visitor"), out var number))
                {
                    return (null, "--visitor N (the visitor's number in the visit) is required");
                }

                var documentNumber = (await input.ReadLineAsync())?.Trim();
                if (string.IsNullOrEmpty(documentNumber))
                {
                    return (null, "the document number is read from standard input (one line); none was given");
                }

                var checkIn = new JsonObject
                {
                    ["visitor"] = number,
                    ["name"] = a.Get("name"),
                    ["document"] = new JsonObject
                    {
                        ["type"] = a.Get("doc-type"),
                        ["country"] = a.Get("doc-country"),
                        ["number"] = documentNumber,
                        ["expiry"] = a.Get("doc-expiry"),
                    },
                };
                if (a.Get("badge") is { } badge)
                {
                    checkIn["badge"] = badge;
                }

                return (new Request(HttpMethod.Post, $"/visits/{Segment(a, 1)}/check-in", checkIn), null);
            case "check-out":
                if (Check(a, 2, ["url", "visitor"]) is { } po)
                {
                    return (null, po);
                }

                return int.TryParse(a.Get("visitor"), out var leaving)
                    ? (new Request(HttpMethod.Post, $"/visits/{Segment(a, 1)}/check-out", new JsonObject { ["visitor"] = leaving }), null)
                    : (null, "--visitor N (the visitor's number in the visit) is required");
            case "return":
                return Check(a, 2, ["url"]) is { } pt ? (null, pt) : (new Request(HttpMethod.Post, $"/visits/badges/{Segment(a, 1)}/check-out"), null);
            case "on-site":
                return Check(a, 1, ["url", "site", "json"]) is { } pn ? (null, pn) : (new Request(HttpMethod.Get, "/visits/on-site" + Query(a, "site")), null);
            case "overdue":
                return Check(a, 1, ["url", "site", "json"]) is { } pv ? (null, pv) : (new Request(HttpMethod.Get, "/visits/overdue-badges" + Query(a, "site")), null);
            case "log":
                return Check(a, 1, ["url", "from", "to", "site", "after", "limit"]) is { } pg
                    ? (null, pg)
                    : (new Request(HttpMethod.Get, "/visits/log" + Query(a, "from", "to", "site", "after", "limit")), null);
            case "purge":
                return Check(a, 1, ["url"]) is { } pp ? (null, pp) : (new Request(HttpMethod.Post, "/visits/purge"), null);
            case "watchlist":
                return Watchlist(a);
            case "badges":
                return Check(a, 1, ["url", "site"]) is { } pb ? (null, pb) : (new Request(HttpMethod.Get, "/badge-pool" + Query(a, "site")), null);
            case "badge":
                return Badge(a);
            default:
                return (null, "expected visit request|show|list|approve|reject|withdraw|check-in|check-out|return|on-site|overdue|log|purge|watchlist|badges|badge");
        }
    }

    private static (Request?, string?) Watchlist(CliArgs a)
    {
        var sub = a.Positionals.Count > 1 ? a.Positionals[1] : "";
        return sub switch
        {
            "list" => Check(a, 2, ["url"]) is { } p ? (null, p) : (new Request(HttpMethod.Get, "/watchlist"), null),
            "add" => Check(a, 2, ["url", "kind", "value", "note"]) is { } p
                ? (null, p)
                : (new Request(HttpMethod.Post, "/watchlist", new JsonObject { ["kind"] = a.Get("kind"), ["value"] = a.Get("value"), ["note"] = a.Get("note") }), null),
            "remove" => Check(a, 3, ["url"]) is { } p ? (null, p) : (new Request(HttpMethod.Delete, "/watchlist/" + Segment(a, 2)), null),
            _ => (null, "expected visit watchlist list|add|remove"),
        };
    }

    private static (Request?, string?) Badge(CliArgs a)
    {
        var sub = a.Positionals.Count > 1 ? a.Positionals[1] : "";
        return sub switch
        {
            "add" => Check(a, 3, ["url", "site", "technology"]) is { } p
                ? (null, p)
                : (new Request(HttpMethod.Put, "/badge-pool/" + Segment(a, 2), new JsonObject { ["site"] = a.Get("site"), ["technology"] = a.Get("technology") }), null),
            "remove" => Check(a, 3, ["url"]) is { } p ? (null, p) : (new Request(HttpMethod.Delete, "/badge-pool/" + Segment(a, 2)), null),
            _ => (null, "expected visit badge add|remove"),
        };
    }

    private static string? Check(CliArgs a, int positionals, string[] options, string[]? repeatable = null)
    {
        if (a.Positionals.Count != positionals)
        {
            return $"'{string.Join(' ', a.Positionals)}': expected {positionals - 1} argument(s) after '{a.Positionals[0]}'";
        }

        foreach (var (name, values) in a.Options)
        {
            if (!options.Contains(name))
            {
                return $"unknown option --{name} (known: {string.Join(", ", options.Select(o => "--" + o))})";
            }

            if (values.Count > 1 && !(repeatable ?? []).Contains(name))
            {
                return $"--{name} is given more than once";
            }
        }

        return null;
    }

    private static string Segment(CliArgs a, int index) => Uri.EscapeDataString(a.Positionals[index]);

    private static string Query(CliArgs a, params string[] names)
    {
        var parts = names.Where(n => a.Get(n) is not null).Select(n => n + "=" + Uri.EscapeDataString(a.Get(n)!)).ToList();
        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }

    private static JsonArray List(string commaSeparated) =>
        [.. commaSeparated.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => (JsonNode?)JsonValue.Create(s))];
}

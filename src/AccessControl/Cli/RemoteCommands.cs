using System.Text.Json.Nodes;
using AccessControl.Admin;
using Request = AccessControl.Cli.ApiRequest;

namespace AccessControl.Cli;

/// <summary>
/// <c>person</c>, <c>credential</c> and <c>level</c> commands: thin clients of the admin HTTP API, so that a change made
/// from the command line is validated, applied and audited exactly like one made by any other client.
/// </summary>
/// <remarks>
/// The server is <c>--url</c> (or the environment variable <c>AC_URL</c>); the token is read only from <c>AC_TOKEN</c>,
/// never from an option, so it does not end up in shell history or the process list. See <see cref="Usage"/>.
/// </remarks>
public static class RemoteCommands
{
    public const string UrlVariable = "AC_URL";
    public const string TokenVariable = "AC_TOKEN";

    /// <summary>Usage text of the commands.</summary>
    public const string Usage = """
        usage (server from --url or AC_URL, token from AC_TOKEN):
          person add|set ID --name NAME --kind employee|contractor|visitor [--status S] [--levels L1,L2]
          person status ID active|suspended|terminated
          person levels ID L1,L2            ("" for none)
          person show ID | person list [--after ID] [--limit N]
          credential add|set CARD --person ID --technology T [--from T] [--until T] [--status S]
          credential status CARD active|suspended|revoked
          credential reissue CARD --person ID --technology T --reason TEXT [--from T] [--until T]
          credential revoke|suspend|activate CARD
          credential show CARD
          level add|set ID --name NAME --zones Z1,Z2 --schedule S
          level delete ID | level show ID | level list [--after ID] [--limit N]
        """;

    /// <summary>The first words this class handles.</summary>
    public static IReadOnlyCollection<string> Nouns { get; } = ["person", "credential", "level"];

    /// <param name="noun"><c>person</c>, <c>credential</c> or <c>level</c>; <paramref name="args"/> holds the rest of the command line.</param>
    /// <param name="environment">Reads an environment variable (the composition root passes <see cref="Environment.GetEnvironmentVariable(string)"/>).</param>
    /// <param name="handler">The HTTP handler to use; null for a default one.</param>
    public static async Task<int> RunAsync(
        string noun,
        CliArgs args,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler = null,
        CancellationToken cancellationToken = default)
    {
        var built = noun switch
        {
            "person" => Person(args),
            "credential" => Credential(args),
            "level" => Level(args),
            _ => (null, $"unknown command '{noun}'"),
        };
        return await ApiClient.SendOrExplainAsync(built, Usage, args, output, error, environment, handler, cancellationToken);
    }


    private static (Request?, string?) Person(CliArgs a)
    {
        var verb = a.Positionals.Count > 0 ? a.Positionals[0] : "";
        switch (verb)
        {
            case "add" or "set":
                if (Check(a, 2, ["url", "name", "kind", "status", "levels"]) is { } p)
                {
                    return (null, p);
                }

                var body = new JsonObject { ["name"] = a.Get("name"), ["kind"] = a.Get("kind") };
                AddIfGiven(body, "status", a.Get("status"));
                if (a.Get("levels") is { } levels)
                {
                    body["accessLevels"] = List(levels);
                }

                return (new Request(HttpMethod.Put, "/people/" + Segment(a, 1), body), null);
            case "status":
                return Check(a, 3, ["url"]) is { } ps
                    ? (null, ps)
                    : (new Request(HttpMethod.Post, $"/people/{Segment(a, 1)}/status", new JsonObject { ["status"] = a.Positionals[2] }), null);
            case "levels":
                return Check(a, 3, ["url"]) is { } pl
                    ? (null, pl)
                    : (new Request(HttpMethod.Put, $"/people/{Segment(a, 1)}/access-levels", List(a.Positionals[2])), null);
            case "show":
                return Check(a, 2, ["url"]) is { } pg ? (null, pg) : (new Request(HttpMethod.Get, "/people/" + Segment(a, 1)), null);
            case "list":
                return Check(a, 1, ["url", "after", "limit"]) is { } pq ? (null, pq) : (new Request(HttpMethod.Get, "/people" + PageQuery(a)), null);
            default:
                return (null, "expected person add|set|status|levels|show|list");
        }
    }

    private static (Request?, string?) Credential(CliArgs a)
    {
        var verb = a.Positionals.Count > 0 ? a.Positionals[0] : "";
        switch (verb)
        {
            case "add" or "set":
                if (Check(a, 2, ["url", "person", "technology", "from", "until", "status"]) is { } p)
                {
                    return (null, p);
                }

                var body = new JsonObject { ["personId"] = a.Get("person"), ["technology"] = a.Get("technology") };
                AddIfGiven(body, "validFrom", a.Get("from"));
                AddIfGiven(body, "validUntil", a.Get("until"));
                AddIfGiven(body, "status", a.Get("status"));
                return (new Request(HttpMethod.Put, "/credentials/" + Segment(a, 1), body), null);
            case "reissue":
                if (Check(a, 2, ["url", "person", "technology", "from", "until", "reason"]) is { } pi)
                {
                    return (null, pi);
                }

                var reissue = new JsonObject { ["personId"] = a.Get("person"), ["technology"] = a.Get("technology"), ["reason"] = a.Get("reason") };
                AddIfGiven(reissue, "validFrom", a.Get("from"));
                AddIfGiven(reissue, "validUntil", a.Get("until"));
                return (new Request(HttpMethod.Post, $"/credentials/{Segment(a, 1)}/reissue", reissue), null);
            case "status":
                return Check(a, 3, ["url"]) is { } ps
                    ? (null, ps)
                    : (new Request(HttpMethod.Post, $"/credentials/{Segment(a, 1)}/status", new JsonObject { ["status"] = a.Positionals[2] }), null);
            case "revoke" or "suspend" or "activate":
                var status = verb switch { "revoke" => "revoked", "suspend" => "suspended", _ => "active" };
                return Check(a, 2, ["url"]) is { } pr
                    ? (null, pr)
                    : (new Request(HttpMethod.Post, $"/credentials/{Segment(a, 1)}/status", new JsonObject { ["status"] = status }), null);
            case "show":
                return Check(a, 2, ["url"]) is { } pg ? (null, pg) : (new Request(HttpMethod.Get, "/credentials/" + Segment(a, 1)), null);
            default:
                return (null, "expected credential add|set|reissue|status|revoke|suspend|activate|show");
        }
    }

    private static (Request?, string?) Level(CliArgs a)
    {
        var verb = a.Positionals.Count > 0 ? a.Positionals[0] : "";
        switch (verb)
        {
            case "add" or "set":
                if (Check(a, 2, ["url", "name", "zones", "schedule"]) is { } p)
                {
                    return (null, p);
                }

                var body = new JsonObject { ["name"] = a.Get("name"), ["schedule"] = a.Get("schedule") };
                if (a.Get("zones") is { } zones)
                {
                    body["zones"] = List(zones);
                }

                return (new Request(HttpMethod.Put, "/access-levels/" + Segment(a, 1), body), null);
            case "delete":
                return Check(a, 2, ["url"]) is { } pd ? (null, pd) : (new Request(HttpMethod.Delete, "/access-levels/" + Segment(a, 1)), null);
            case "show":
                return Check(a, 2, ["url"]) is { } pg ? (null, pg) : (new Request(HttpMethod.Get, "/access-levels/" + Segment(a, 1)), null);
            case "list":
                return Check(a, 1, ["url", "after", "limit"]) is { } pq ? (null, pq) : (new Request(HttpMethod.Get, "/access-levels" + PageQuery(a)), null);
            default:
                return (null, "expected level add|set|delete|show|list");
        }
    }

    private static string? Check(CliArgs a, int positionals, string[] options)
    {
        if (a.Positionals.Count != positionals)
        {
            return $"'{string.Join(' ', a.Positionals)}': expected {positionals - 1} argument(s) after '{a.Positionals[0]}'";
        }

        return a.CheckOptions(options);
    }

    private static string Segment(CliArgs a, int index) => Uri.EscapeDataString(a.Positionals[index]);

    private static string PageQuery(CliArgs a)
    {
        var parts = new List<string>();
        if (a.Get("after") is { } after)
        {
            parts.Add("after=" + Uri.EscapeDataString(after));
        }

        if (a.Get("limit") is { } limit)
        {
            parts.Add("limit=" + Uri.EscapeDataString(limit));
        }

        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }

    private static JsonArray List(string commaSeparated) =>
        [.. commaSeparated.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => (JsonNode?)JsonValue.Create(s))];

    private static void AddIfGiven(JsonObject body, string name, string? value)
    {
        if (value is not null)
        {
            body[name] = value;
        }
    }
}

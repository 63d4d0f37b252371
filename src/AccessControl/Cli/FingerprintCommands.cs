using System.Text.Json;
using System.Text.Json.Nodes;
using AccessControl.Display;
using AccessControl.Fingerprints;
using Request = AccessControl.Cli.ApiRequest;

namespace AccessControl.Cli;

/// <summary>
/// <c>fingerprints ...</c> commands: thin clients of the fingerprint API (<c>Fingerprints/FingerprintApi.cs</c>), so an
/// enrollment made from the command line is checked, audited and encrypted exactly like any other.
/// </summary>
/// <remarks>
/// The server is <c>--url</c> or <c>AC_URL</c>; the token only <c>AC_TOKEN</c>. A template is best given as a file
/// (<c>--template-file</c>): <c>--template BASE64</c> leaves it in shell history and the process list.
/// </remarks>
public static class FingerprintCommands
{
    public const string Usage = """
        usage (server from --url or AC_URL, token from AC_TOKEN):
          fingerprints enroll --person P --finger F --station S (--template-file FILE | --template BASE64) [--format FMT] [--replace]
                              F: right-thumb right-index right-middle right-ring right-little left-thumb ... left-little
                              FMT: the template format, default iso-19794-2
          fingerprints list --person P
          fingerprints revoke --template T --reason R
          fingerprints rekey                 re-encrypt every template under the current key (after adding a key line)
          fingerprints reconcile [--json]    orphaned templates, people without templates for two-factor zones, unused templates
        """;

    public const string DefaultFormat = "iso-19794-2";

    /// <summary>Options that take no value.</summary>
    public static IReadOnlyCollection<string> Flags { get; } = ["replace", "json"];

    /// <param name="args">The words after <c>fingerprints</c>, parsed with <see cref="Flags"/>.</param>
    public static async Task<int> RunAsync(
        CliArgs args,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler = null,
        CancellationToken cancellationToken = default)
    {
        var (request, problem) = await BuildAsync(args, cancellationToken);
        if (request is null)
        {
            await error.WriteLineAsync("error: " + problem);
            await error.WriteLineAsync(Usage);
            return ExitCodes.Usage;
        }

        if (args.Positionals[0] != "reconcile" || args.Has("json"))
        {
            return await ApiClient.SendAsync(request, args, output, error, environment, handler, cancellationToken);
        }

        using var json = new StringWriter();
        var code = await ApiClient.SendAsync(request, args, json, error, environment, handler, cancellationToken);
        if (code == ExitCodes.Ok)
        {
            await WriteReconciliationAsync(output, json.ToString());
        }

        return code;
    }

    private static async Task<(Request?, string?)> BuildAsync(CliArgs a, CancellationToken cancellationToken)
    {
        var verb = a.Positionals.Count > 0 ? a.Positionals[0] : "";
        switch (verb)
        {
            case "enroll":
                if (Check(a, ["url", "person", "finger", "station", "template-file", "template", "format", "replace"]) is { } pe)
                {
                    return (null, pe);
                }

                if (Missing(a, "person", "finger", "station") is { } missing)
                {
                    return (null, missing);
                }

                if (a.Has("template-file") == a.Has("template"))
                {
                    return (null, "give the template with exactly one of --template-file FILE or --template BASE64");
                }

                string template;
                if (a.Get("template-file") is { } file)
                {
                    if (!File.Exists(file))
                    {
                        return (null, $"--template-file: no file '{file}'");
                    }

                    var bytes = await File.ReadAllBytesAsync(file, cancellationToken);
                    if (bytes.Length is 0 or > FingerprintTemplate.MaxBytes)
                    {
                        return (null, $"--template-file: a template is 1 to {FingerprintTemplate.MaxBytes} bytes; '{file}' has {bytes.Length}");
                    }

                    template = Convert.ToBase64String(bytes);
                }
                else
                {
                    template = a.Get("template")!;
                }

                var body = new JsonObject
                {
                    ["finger"] = a.Get("finger"),
                    ["station"] = a.Get("station"),
                    ["format"] = a.Get("format") ?? DefaultFormat,
                    ["template"] = template,
                    ["replace"] = a.Has("replace"),
                };
                return (new Request(HttpMethod.Post, $"/people/{Uri.EscapeDataString(a.Get("person")!)}/fingerprints", body), null);
            case "list":
                return (Check(a, ["url", "person"]) ?? Missing(a, "person")) is { } pl
                    ? (null, pl)
                    : (new Request(HttpMethod.Get, $"/people/{Uri.EscapeDataString(a.Get("person")!)}/fingerprints"), null);
            case "revoke":
                return (Check(a, ["url", "template", "reason"]) ?? Missing(a, "template", "reason")) is { } pr
                    ? (null, pr)
                    : (new Request(HttpMethod.Delete, $"/fingerprints/{Uri.EscapeDataString(a.Get("template")!)}?reason={Uri.EscapeDataString(a.Get("reason")!)}"), null);
            case "rekey":
                return Check(a, ["url"]) is { } pk ? (null, pk) : (new Request(HttpMethod.Post, "/fingerprints/rekey"), null);
            case "reconcile":
                return Check(a, ["url", "json"]) is { } pc ? (null, pc) : (new Request(HttpMethod.Get, "/fingerprints/reconciliation"), null);
            default:
                return (null, "expected fingerprints enroll|list|revoke|rekey|reconcile");
        }
    }

    /// <summary>The reconciliation as three short sections a reviewer can read; <c>--json</c> gives the full answer.</summary>
    /// <remarks>Each value through <see cref="TerminalText"/>: a name given at enrollment arrives JSON-escaped, and is an ESC or a newline again once parsed.</remarks>
    private static async Task WriteReconciliationAsync(TextWriter output, string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        string S(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? TerminalText.Show(v.GetString()!) : "";

        await output.WriteLineAsync($"Fingerprint reconciliation at {S(root, "at")}");
        var orphans = root.GetProperty("orphans");
        await output.WriteLineAsync($"Orphaned templates (person left, unknown, or without a valid credential): {orphans.GetArrayLength()}");
        foreach (var o in orphans.EnumerateArray())
        {
            var t = o.GetProperty("template");
            await output.WriteLineAsync($"  {S(t, "templateId")}  {S(t, "personId")}  {S(t, "finger")}  {S(o, "reason")}");
        }

        var people = root.GetProperty("notEnrolled");
        await output.WriteLineAsync($"People with access to a two-factor zone but no template: {people.GetArrayLength()}");
        foreach (var p in people.EnumerateArray())
        {
            var zones = TerminalText.Show(string.Join(",", p.GetProperty("twoFactorZones").EnumerateArray().Select(z => z.GetString())));
            await output.WriteLineAsync($"  {S(p, "personId")}  {S(p, "name")}  zones {zones}");
        }

        var unused = root.GetProperty("unused");
        await output.WriteLineAsync($"Templates unused since {S(root, "unusedSince")}: {unused.GetArrayLength()}");
        foreach (var u in unused.EnumerateArray())
        {
            var t = u.GetProperty("template");
            var never = u.TryGetProperty("neverMatched", out var n) && n.GetBoolean() ? " (never matched)" : "";
            await output.WriteLineAsync($"  {S(t, "templateId")}  {S(t, "personId")}  {S(t, "finger")}  last used {S(u, "lastUsedAt")}{never}");
        }
    }

    private static string? Check(CliArgs a, string[] options)
    {
        if (a.Positionals.Count != 1)
        {
            return $"'{string.Join(' ', a.Positionals)}': 'fingerprints {a.Positionals[0]}' takes options only";
        }

        return a.CheckOptions(options);
    }

    private static string? Missing(CliArgs a, params string[] required)
    {
        var missing = required.Where(r => string.IsNullOrWhiteSpace(a.Get(r))).ToList();
        return missing.Count == 0 ? null : "missing " + string.Join(", ", missing.Select(m => $"--{m}"));
    }
}

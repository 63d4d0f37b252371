using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using AccessControl.Admin;
using AccessControl.Display;

namespace AccessControl.Cli;

/// <summary>One call of the HTTP API, as a CLI command builds it.</summary>
internal sealed record ApiRequest(HttpMethod Method, string Path, JsonNode? Body = null);

/// <summary>
/// Sends a CLI command's request to the running service: the address from <c>--url</c> or <c>AC_URL</c>, the token only
/// from <c>AC_TOKEN</c> (never an option, so it stays out of shell history and the process list). Prints the JSON
/// answer, or the problem with its field errors and refusal code.
/// </summary>
internal static class ApiClient
{
    private static readonly JsonWriterOptions ReadableJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true, NewLine = "\n" };

    /// <summary>
    /// Sends what a command built, or, when its words did not make a request, prints why and the command's usage.
    /// </summary>
    public static async Task<int> SendOrExplainAsync(
        (ApiRequest? Request, string? Problem) built,
        string usage,
        CliArgs args,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler,
        CancellationToken cancellationToken)
    {
        if (built.Request is not { } request)
        {
            await error.WriteLineAsync("error: " + built.Problem);
            await error.WriteLineAsync(usage);
            return ExitCodes.Usage;
        }

        return await SendAsync(request, args, output, error, environment, handler, cancellationToken);
    }

    public static async Task<int> SendAsync(
        ApiRequest request,
        CliArgs args,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler,
        CancellationToken cancellationToken)
    {
        var url = args.Get("url") ?? environment(RemoteCommands.UrlVariable);
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            await error.WriteLineAsync($"error: give the service's address with --url or {RemoteCommands.UrlVariable} (http://host:port)");
            return ExitCodes.Usage;
        }

        if (baseUri.Scheme == Uri.UriSchemeHttp && !baseUri.IsLoopback)
        {
            // The token goes with every request, and a check-in's body holds the visitor's document number.
            await error.WriteLineAsync($"error: {url} is plain HTTP to another machine: your token would cross the network in clear. " +
                "Use the https:// address of the service's TLS proxy, or run the command on the edge itself (http://127.0.0.1:PORT).");
            return ExitCodes.Usage;
        }

        var token = environment(RemoteCommands.TokenVariable);
        if (string.IsNullOrWhiteSpace(token))
        {
            await error.WriteLineAsync($"error: set {RemoteCommands.TokenVariable} to your API token");
            return ExitCodes.Usage;
        }

        using var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        using var message = new HttpRequestMessage(request.Method, new Uri(baseUri, AdminApi.Prefix + request.Path));
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (request.Body is not null)
        {
            message.Content = new StringContent(request.Body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(message, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"error: cannot reach {baseUri}: {ex.Message}");
            return ExitCodes.Failed;
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                if (text.Length > 0)
                {
                    await output.WriteLineAsync(Readable(text));
                }

                return ExitCodes.Ok;
            }

            await WriteProblemAsync(error, (int)response.StatusCode, text);
            return ExitCodes.Failed;
        }
    }

    /// <summary>
    /// The service's JSON answer as a person reads it: indented, letters as letters ("José", not the service's
    /// <c>Jos\u00E9</c>). Controls, bidi and other invisible characters stay JSON escapes (the relaxed encoder escapes
    /// them all: Cc, Cf, Zl, Zp), so the terminal shows <c>\u202E</c> instead of acting on it. Each line goes through
    /// <see cref="TerminalText"/> all the same, and an answer that is not JSON (anything else at that address) is shown
    /// through it as it is.
    /// </summary>
    private static string Readable(string text)
    {
        string json;
        try
        {
            using var document = JsonDocument.Parse(text);
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, ReadableJson))
            {
                document.WriteTo(writer);
            }

            json = Encoding.UTF8.GetString(buffer.ToArray());
        }
        catch (JsonException)
        {
            return TerminalText.Show(text);
        }

        return string.Join('\n', json.Split('\n').Select(TerminalText.Show));
    }

    private static async Task WriteProblemAsync(TextWriter error, int status, string text)
    {
        JsonElement? problem = null;
        try
        {
            problem = text.Length == 0 ? null : JsonSerializer.Deserialize<JsonElement>(text);
        }
        catch (JsonException)
        {
            // Not a problem body (a proxy's error page): show the status alone.
        }

        // Shown through TerminalText: a title, detail or field error may quote what someone typed (and JSON's \u001b
        // arrives here as the ESC itself), and whatever answers at the address is not necessarily the service.
        string? Text(string name) => problem is { ValueKind: JsonValueKind.Object } p && p.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var code = Text("code");
        await error.WriteLineAsync(TerminalText.Show($"error: {status} {Text("title")}{(code is null ? "" : $" [{code}]")}{(Text("detail") is { } d ? ": " + d : "")}"));
        if (problem is { ValueKind: JsonValueKind.Object } body && body.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in errors.EnumerateArray())
            {
                await error.WriteLineAsync(TerminalText.Show($"  {e.GetProperty("field").GetString()}: {e.GetProperty("message").GetString()}"));
            }
        }
    }
}

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Display;
using AccessControl.Hr;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Cli;

/// <summary>
/// <c>accesscontrol hr import --file F</c>: sends an HR CSV file (<see cref="HrCsv"/>) to the service's HR feed, signed
/// with the HR feed key, and prints one line per event with its outcome.
/// </summary>
/// <remarks>
/// The server is <c>--url</c> or <c>AC_URL</c>. The key is <c>AC_HR_KEY</c> when set, else <c>--key-file</c>, else
/// <c>hr-feed.key</c> in <c>--data</c> (default <c>data</c>, the service's data folder). No operator token is used:
/// the signature is the authentication. A file with any bad line is not sent (every bad line is listed).
/// </remarks>
public static class HrCommands
{
    public const string Usage = """
        usage (server from --url or AC_URL; key from AC_HR_KEY, --key-file or the data folder):
          hr import --file FILE.csv [--key-file hr-feed.key | --data DIR]
             FILE.csv: eventId,type,personId,effectiveAt,accessLevels
                       type termination|transfer; effectiveAt RFC 3339 or empty (now); accessLevels L1;L2 (transfers)
        """;

    private const int BatchSize = 500;

    /// <param name="clock">Gives the request's timestamp (the service refuses one more than 5 minutes off its clock).</param>
    public static async Task<int> RunAsync(
        CliArgs args,
        IClock clock,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler = null,
        CancellationToken cancellationToken = default)
    {
        var optionProblem = args.CheckOptions(["file", "url", "key-file", "data"]);
        if (args.Positionals is not ["import"] || optionProblem is not null || args.Get("file") is null)
        {
            await error.WriteLineAsync("error: " + (optionProblem ?? "expected 'import --file FILE.csv'"));
            await error.WriteLineAsync(Usage);
            return ExitCodes.Usage;
        }

        var url = args.Get("url") ?? environment(RemoteCommands.UrlVariable);
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
        {
            await error.WriteLineAsync($"error: give the service's address with --url or {RemoteCommands.UrlVariable} (http://host:port)");
            return ExitCodes.Usage;
        }

        var file = args.Get("file")!;
        string text;
        HrFeedSigner signer;
        try
        {
            text = await File.ReadAllTextAsync(file, cancellationToken);
            signer = HrFeedKey.Read(args.Get("key-file") ?? Path.Combine(args.Get("data") ?? "data", HrFeedKey.FileName), environment);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return ExitCodes.Failed;
        }

        var (events, errors) = HrCsv.Parse(text);
        if (errors.Count > 0)
        {
            await error.WriteLineAsync($"error: {file} has {errors.Count} bad line(s); nothing was sent:");
            foreach (var e in errors)
            {
                await error.WriteLineAsync("  " + TerminalText.Show(e)); // it quotes the file's values
            }

            return ExitCodes.Failed;
        }

        using var client = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        var failed = 0;
        foreach (var batch in events.Chunk(BatchSize))
        {
            var body = JsonSerializer.SerializeToUtf8Bytes(new HrEventBatchInput([.. batch.Select(e => e.Event)]), AdminJson.Options);
            var timestamp = InstantPattern.General.Format(clock.GetCurrentInstant());
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUri, HrFeedApi.Path)) { Content = new ByteArrayContent(body) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            message.Headers.Add(HrFeedApi.TimestampHeader, timestamp);
            message.Headers.Add(HrFeedApi.SignatureHeader, signer.Sign(timestamp, body));
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
                var answer = await response.Content.ReadAsStringAsync(cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    await error.WriteLineAsync($"error: {(int)response.StatusCode} {TerminalText.Show(answer)}");
                    return ExitCodes.Failed;
                }

                var results = JsonSerializer.Deserialize<HrBatchResult>(answer, AdminJson.Options)?.Results ?? [];
                for (var i = 0; i < batch.Length; i++)
                {
                    var result = i < results.Count ? results[i] : null;
                    var outcome = result?.Outcome ?? "missing";
                    var line = new StringBuilder($"line {batch[i].Line}: {batch[i].Event.EventId} {batch[i].Event.Type} {batch[i].Event.PersonId}: {outcome}");
                    if (result?.Message is { } m)
                    {
                        line.Append(" (").Append(m).Append(')');
                    }

                    foreach (var e in result?.Errors ?? [])
                    {
                        line.Append("; ").Append(e.Field).Append(": ").Append(e.Message);
                    }

                    // The file's values and the service's messages, through TerminalText: either may hold an ESC or a newline.
                    if (HrOutcomes.IsSuccess(outcome))
                    {
                        await output.WriteLineAsync(TerminalText.Show(line.ToString()));
                    }
                    else
                    {
                        failed++;
                        await error.WriteLineAsync(TerminalText.Show(line.ToString()));
                    }
                }
            }
        }

        return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }
}

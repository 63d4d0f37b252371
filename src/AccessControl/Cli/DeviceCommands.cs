using Request = AccessControl.Cli.ApiRequest;

namespace AccessControl.Cli;

/// <summary>
/// <c>device reset-seq ...</c>: a thin client of <c>Events/DeviceSeqApi.cs</c>, for a reader or door controller whose
/// firmware lost its seq counter and is now refused as a suspected replay (see docs/operations.md).
/// </summary>
public static class DeviceCommands
{
    public const string Usage = """
        usage (server from --url or AC_URL, token from AC_TOKEN):
          device reset-seq (--reader ID | --door ID) [--baseline N]
                 the device's next event must carry a seq above N (any seq when --baseline is left out); audited
        """;

    /// <param name="args">The words after <c>device</c>.</param>
    public static async Task<int> RunAsync(
        CliArgs args,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        HttpMessageHandler? handler = null,
        CancellationToken cancellationToken = default)
    {
        var built = Build(args);
        return await ApiClient.SendOrExplainAsync(built, Usage, args, output, error, environment, handler, cancellationToken);
    }

    private static (Request?, string?) Build(CliArgs a)
    {
        if (a.Positionals.Count != 1 || a.Positionals[0] != "reset-seq")
        {
            return (null, "expected device reset-seq");
        }

        if (a.CheckOptions(["url", "reader", "door", "baseline"]) is { } unknown)
        {
            return (null, unknown);
        }

        if (a.Has("reader") == a.Has("door"))
        {
            return (null, "name exactly one device with --reader ID or --door ID");
        }

        var (kind, id) = a.Get("reader") is { } reader ? ("readers", reader) : ("doors", a.Get("door")!);
        var query = "";
        if (a.Get("baseline") is { } baseline)
        {
            if (!long.TryParse(baseline, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
            {
                return (null, "--baseline must be a non-negative integer");
            }

            query = "?baseline=" + baseline;
        }

        return (new Request(HttpMethod.Post, $"/devices/{kind}/{Uri.EscapeDataString(id)}/seq-reset{query}"), null);
    }
}

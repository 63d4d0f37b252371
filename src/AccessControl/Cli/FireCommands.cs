using Request = AccessControl.Cli.ApiRequest;

namespace AccessControl.Cli;

/// <summary>
/// <c>fire status</c> and <c>fire reset [--force]</c>: a thin client of <c>LifeSafety/FireApi.cs</c>, the operator's
/// end of a fire release (see docs/operations.md, "Fire alarm and door release").
/// </summary>
public static class FireCommands
{
    public const string Usage = """
        usage (server from --url or AC_URL, token from AC_TOKEN):
          fire status          which doors a fire alarm holds released, since when, and whether the panel cleared
          fire reset [--force] relock the released doors (refused while the panel has not sent clear, unless --force)
        """;

    /// <summary>Flags (options without a value).</summary>
    public static IReadOnlyCollection<string> Flags { get; } = ["force"];

    /// <param name="args">The words after <c>fire</c>.</param>
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
        if (a.CheckOptions(["url", "force"]) is { } unknown)
        {
            return (null, unknown);
        }

        return a.Positionals switch
        {
            ["status"] when !a.Has("force") => (new Request(HttpMethod.Get, "/fire"), null),
            ["reset"] => (new Request(HttpMethod.Post, a.Has("force") ? "/fire/reset?force=true" : "/fire/reset"), null),
            _ => (null, "expected fire status or fire reset [--force]"),
        };
    }
}

using AccessControl.EntryLog;
using NodaTime;

namespace AccessControl.Cli;

/// <summary>
/// Routes the admin commands (<c>log</c>, <c>token</c>, <c>hr</c>, <c>person</c>, <c>credential</c>, <c>level</c>, <c>visit</c>, <c>fingerprints</c>, <c>device</c>, <c>fire</c>) for the
/// program's dispatcher, which only has to pass the command line and the process's clock, streams and environment.
/// </summary>
public static class AdminCommands
{
    /// <summary>The first words handled here.</summary>
    public static IReadOnlyCollection<string> Names { get; } = ["log", "token", "visit", "fingerprints", "hr", "device", "fire", .. RemoteCommands.Nouns];

    /// <summary>
    /// Runs the command named by <c>args[0]</c> and returns its exit code, or null when it is not one of <see cref="Names"/>.
    /// </summary>
    /// <param name="environment">Reads an environment variable (<c>AC_URL</c>, <c>AC_TOKEN</c>).</param>
    /// <param name="account">The OS account the process runs as (<see cref="OsAccount.Current"/>): recorded in every row a
    /// command writes to the log itself (<c>token</c>, <c>log purge</c>) beside the name typed with <c>--by</c> or <c>--actor</c>,
    /// and the actor when none is typed.</param>
    /// <param name="input">Standard input (the document number of <c>visit check-in</c>); null for <see cref="Console.In"/>.</param>
    public static async Task<int?> RunAsync(
        IReadOnlyList<string> args,
        IClock clock,
        TextWriter output,
        TextWriter error,
        Func<string, string?> environment,
        OsAccount account,
        CancellationToken cancellationToken = default,
        TextReader? input = null)
    {
        if (args.Count == 0 || !Names.Contains(args[0]))
        {
            return null;
        }

        if (args[0] == "device" && (args.Count < 2 || args[1] != "reset-seq"))
        {
            return null;   // 'device secret' is a local command of the service program
        }

        var noun = args[0];
        var (parsed, problem) = CliArgs.Parse(args.Skip(1), noun switch { "log" => LogCommand.Flags, "token" => TokenCommand.Flags, "fingerprints" => FingerprintCommands.Flags, "fire" => FireCommands.Flags, "visit" => VisitCommands.Flags, _ => null });
        if (parsed is null)
        {
            await error.WriteLineAsync("error: " + problem);
            return ExitCodes.Usage;
        }

        return noun switch
        {
            "log" when parsed.Positionals is ["verify", ..] => LogIntegrityCommands.Verify(parsed, output, error),
            "log" when parsed.Positionals is ["purge", ..] => LogIntegrityCommands.Purge(parsed, clock, account, output, error),
            "log" => LogCommand.Run(parsed, output, error),
            "token" => TokenCommand.Run(parsed, clock, account, output, error),
            "visit" => await VisitCommands.RunAsync(parsed, input ?? Console.In, output, error, environment, null, cancellationToken),
            "fingerprints" => await FingerprintCommands.RunAsync(parsed, output, error, environment, null, cancellationToken),
            "hr" => await HrCommands.RunAsync(parsed, clock, output, error, environment, null, cancellationToken),
            "device" => await DeviceCommands.RunAsync(parsed, output, error, environment, null, cancellationToken),
            "fire" => await FireCommands.RunAsync(parsed, output, error, environment, null, cancellationToken),
            _ => await RemoteCommands.RunAsync(noun, parsed, output, error, environment, null, cancellationToken),
        };
    }
}

namespace AccessControl.Lab.Bench;

/// <summary>What a bench run needs from the machine, checked before anything is run.</summary>
public static class BenchPreflight
{
    public const string NoMosquitto = "mosquitto could not be started (not installed? tests/run.sh installs it; or run the bench with --broker embedded)";

    /// <summary>
    /// Why the run cannot be made, asked before anything is run: Mosquitto is asked for (<paramref name="kinds"/>) and no
    /// <c>mosquitto</c> is on <paramref name="path"/> (the process's PATH when null). Without it, <c>--broker both</c> on a
    /// machine without Mosquitto ran its embedded half for minutes and then failed with no table. Null when it can.
    /// </summary>
    public static string? Missing(IEnumerable<string> kinds, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        if (!kinds.Contains("mosquitto"))
        {
            return null;
        }

        var folders = (path ?? Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        return folders.Any(folder => File.Exists(Path.Combine(folder, "mosquitto"))) ? null : NoMosquitto.Replace("could not be started", "is not on the PATH", StringComparison.Ordinal);
    }
}

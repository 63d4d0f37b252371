namespace AccessControl.Cli;

/// <summary>Exit codes of the CLI commands.</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Ok = 0;

    /// <summary>The command ran but failed (server refused, file missing, ...).</summary>
    public const int Failed = 1;

    /// <summary>A usage error (unknown option, missing argument): nothing was attempted.</summary>
    public const int Usage = 2;
}

/// <summary>
/// Parsed command-line arguments: positional words and <c>--name value</c> / <c>--name=value</c> options.
/// Deliberately tiny (no package): the commands are few and each checks its own options.
/// </summary>
public sealed class CliArgs
{
    private CliArgs(IReadOnlyList<string> positionals, IReadOnlyDictionary<string, IReadOnlyList<string>> options)
    {
        Positionals = positionals;
        Options = options;
    }

    public IReadOnlyList<string> Positionals { get; }

    /// <summary>Every option given, with all its values in order. A flag has the value <c>"true"</c>.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Options { get; }

    /// <summary>
    /// Parses <paramref name="args"/>. Names in <paramref name="flags"/> take no value. After <c>--</c> everything is positional.
    /// Returns an error message instead of throwing for a malformed command line.
    /// </summary>
    public static (CliArgs? Args, string? Error) Parse(IEnumerable<string> args, IReadOnlyCollection<string>? flags = null)
    {
        flags ??= [];
        var positionals = new List<string>();
        var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        using var e = args.GetEnumerator();
        var onlyPositionals = false;
        while (e.MoveNext())
        {
            var arg = e.Current;
            if (onlyPositionals || !arg.StartsWith("--", StringComparison.Ordinal))
            {
                positionals.Add(arg);
                continue;
            }

            if (arg == "--")
            {
                onlyPositionals = true;
                continue;
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg[2..] : arg[2..equals];
            if (name.Length == 0)
            {
                return (null, $"'{arg}' is not an option");
            }

            string value;
            if (flags.Contains(name))
            {
                if (equals >= 0)
                {
                    return (null, $"--{name} takes no value");
                }

                value = "true";
            }
            else if (equals >= 0)
            {
                value = arg[(equals + 1)..];
            }
            else if (e.MoveNext())
            {
                value = e.Current;
            }
            else
            {
                return (null, $"--{name} needs a value");
            }

            if (!options.TryGetValue(name, out var values))
            {
                options[name] = values = [];
            }

            values.Add(value);
        }

        return (new CliArgs(positionals, options.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal)), null);
    }

    /// <summary>The value of an option given at most once; null when absent.</summary>
    public string? Get(string name) => Options.TryGetValue(name, out var values) ? values[^1] : null;

    public bool Has(string name) => Options.ContainsKey(name);

    /// <summary>The first problem with the options: one not in <paramref name="known"/>, or one given twice. Null when fine.</summary>
    public string? CheckOptions(IReadOnlyCollection<string> known)
    {
        foreach (var (name, values) in Options)
        {
            if (!known.Contains(name))
            {
                return $"unknown option --{name} (known: {string.Join(", ", known.Select(k => "--" + k))})";
            }

            if (values.Count > 1)
            {
                return $"--{name} is given more than once";
            }
        }

        return null;
    }
}

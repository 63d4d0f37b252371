namespace AccessControl.HardwareSim.Cli;

/// <summary>
/// A command line parsed by hand: a command word, then <c>--name value</c> options and bare <c>--flag</c>s.
/// Which options a command takes is checked by <see cref="Unknown"/>, so that a typo is an error, not a default.
/// </summary>
public sealed class Arguments
{
    private readonly Dictionary<string, string?> options;

    private Arguments(string command, Dictionary<string, string?> options)
    {
        Command = command;
        this.options = options;
    }

    public string Command { get; }

    /// <summary>Parses <paramref name="args"/>; <paramref name="flags"/> are the options that take no value.</summary>
    public static Arguments? TryParse(IReadOnlyList<string> args, IReadOnlySet<string> flags, out string? error)
    {
        error = null;
        if (args.Count == 0 || args[0].StartsWith('-'))
        {
            error = "no command given";
            return null;
        }

        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal) || name.Length == 2)
            {
                error = $"unexpected '{name}' (options look like --name value)";
                return null;
            }

            name = name[2..];
            string? value = null;
            if (!flags.Contains(name))
            {
                if (i + 1 >= args.Count)
                {
                    error = $"--{name} needs a value";
                    return null;
                }

                value = args[++i];
            }

            if (!options.TryAdd(name, value))
            {
                error = $"--{name} is given twice";
                return null;
            }
        }

        return new Arguments(args[0], options);
    }

    public bool Has(string name) => options.ContainsKey(name);

    public string? Get(string name) => options.GetValueOrDefault(name);

    /// <summary>Options given that the command does not take.</summary>
    public IEnumerable<string> Unknown(IEnumerable<string> known)
    {
        var allowed = known.ToHashSet(StringComparer.Ordinal);
        return options.Keys.Where(k => !allowed.Contains(k)).Select(k => "--" + k);
    }
}

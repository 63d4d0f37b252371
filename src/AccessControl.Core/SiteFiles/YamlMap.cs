using System.Globalization;
using AccessControl.Display;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AccessControl.SiteFiles;

/// <summary>A scalar value of the file together with where it was found, so later checks can point at it.</summary>
internal readonly record struct Located(string Text, YamlNode Node, string Path);

/// <summary>An item of a YAML list and its path (<c>doors[2]</c>).</summary>
internal readonly record struct ListItem(YamlNode Node, string Path, int Index);

/// <summary>
/// One YAML mapping of the site file, read strictly: a key it does not know is an error (a typo must not be
/// silently ignored in an access-control configuration), a required key that is missing is an error, and every
/// typed read reports what is wrong with the value where the value is.
/// </summary>
/// <remarks>
/// A plain <c>~</c>, <c>null</c> or empty value counts as absent, so <c>parent:</c> with nothing after it means "no parent".
/// Typed reads return null after reporting an error; callers only build model objects from complete values.
/// </remarks>
internal sealed class YamlMap
{
    private readonly Dictionary<string, (YamlNode Key, YamlNode Value)> entries = new(StringComparer.Ordinal);
    private readonly ErrorCollector errors;

    private YamlMap(YamlMappingNode node, string path, ErrorCollector errors)
    {
        Node = node;
        Path = path;
        this.errors = errors;
    }

    public YamlMappingNode Node { get; }

    public string Path { get; }

    /// <summary>Opens <paramref name="node"/> as a mapping with the given keys; reports and returns null when it is not a mapping.</summary>
    public static YamlMap? Open(YamlNode node, string path, ErrorCollector errors, string what, IReadOnlyList<string> keys)
    {
        if (node is not YamlMappingNode mapping)
        {
            errors.Add(node, path, $"expected {what} (a mapping with keys {string.Join(", ", keys)}), found {Describe(node)}");
            return null;
        }

        var map = new YamlMap(mapping, path, errors);
        foreach (var (key, value) in mapping.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
            {
                errors.Add(key, path, $"keys must be plain names, found {Describe(key)}");
                continue;
            }

            if (!keys.Contains(name, StringComparer.Ordinal))
            {
                errors.Add(key, ChildPath(path, name), $"unknown key '{name}'{Suggestions.DidYouMean(name, keys)}; {what} has keys {string.Join(", ", keys)}");
                continue;
            }

            map.entries[name] = (key, value);
        }

        return map;
    }

    public static string ChildPath(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    public string PathOf(string key) => ChildPath(Path, key);

    /// <summary>Whether the key is present with a non-null value.</summary>
    public bool Has(string key) => entries.TryGetValue(key, out var entry) && !IsNull(entry.Value);

    /// <summary>The value node of a key, or null when absent (reported when required).</summary>
    public YamlNode? Value(string key, bool required)
    {
        if (entries.TryGetValue(key, out var entry) && !IsNull(entry.Value))
        {
            return entry.Value;
        }

        if (required)
        {
            if (entries.TryGetValue(key, out var empty))
            {
                errors.Add(empty.Value, PathOf(key), $"'{key}' needs a value");
            }
            else
            {
                errors.Add(Node, PathOf(key), $"required key '{key}' is missing");
            }
        }

        return null;
    }

    /// <summary>A single (scalar) value.</summary>
    public Located? Scalar(string key, bool required = true)
    {
        var node = Value(key, required);
        return node is null ? null : AsScalar(node, PathOf(key), errors);
    }

    /// <summary>A human-readable name: not blank, at most 200 characters, nothing <see cref="ReadableText"/> refuses (controls, bidi and other invisible characters).</summary>
    public string? Text(string key, bool required = true)
    {
        if (Scalar(key, required) is not { } value)
        {
            return null;
        }

        var text = value.Text.Trim();
        if (text.Length == 0)
        {
            errors.Add(value.Node, value.Path, $"{key} must not be empty");
            return null;
        }

        if (text.Length > 200)
        {
            errors.Add(value.Node, value.Path, $"{key} is longer than 200 characters");
            return null;
        }

        if (ReadableText.Problem(text) is { } problem)
        {
            errors.Add(value.Node, value.Path, $"{key} {problem}");
            return null;
        }

        return text;
    }

    /// <summary>An identifier: 1 to 64 characters of <c>A-Z a-z 0-9 . _ : -</c> (the rule of MQTT usernames and topics).</summary>
    public Located? Id(string key, bool required = true) => Scalar(key, required) is { } value && CheckId(value, errors) ? value : null;

    /// <summary>A whole number in [min, max]; <paramref name="fallback"/> when absent (null makes the key required).</summary>
    public int? Integer(string key, int? fallback, int min, int max, string? unit)
    {
        if (Scalar(key, required: fallback is null) is not { } value)
        {
            return fallback;
        }

        var range = unit is null ? $"a whole number from {min} to {max}" : $"a whole number of {unit} from {min} to {max}";
        if (!int.TryParse(value.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            errors.Add(value.Node, value.Path, $"{key} must be {range}, not '{value.Text}'");
            return null;
        }

        if (number < min || number > max)
        {
            errors.Add(value.Node, value.Path, $"{key} must be {range}, not {number}");
            return null;
        }

        return number;
    }

    /// <summary>
    /// <c>true</c> or <c>false</c>, exactly; <paramref name="fallback"/> when absent. YAML 1.1's <c>yes</c>, <c>on</c>
    /// and friends are refused: a flag that weakens or strengthens access control is spelled one way.
    /// </summary>
    public bool? Boolean(string key, bool fallback)
    {
        if (Scalar(key, required: false) is not { } value)
        {
            return fallback;
        }

        switch (value.Text)
        {
            case "true":
                return true;
            case "false":
                return false;
            default:
                errors.Add(value.Node, value.Path, $"{key} must be true or false, not '{value.Text}'");
                return null;
        }
    }

    /// <summary>One of a closed set of lower-case tokens; <paramref name="fallback"/> when absent (null makes the key required).</summary>
    public T? Token<T>(string key, IReadOnlyDictionary<string, T> tokens, T? fallback)
        where T : struct
    {
        if (Scalar(key, required: fallback is null) is not { } value)
        {
            return fallback;
        }

        return AsToken(value, key, tokens, errors);
    }

    /// <summary>The items of a list. Absent means empty (reported when required); a list is expected, not a single value.</summary>
    public IReadOnlyList<ListItem> List(string key, bool required = false, bool nonEmpty = false)
    {
        if (Value(key, required) is not { } node)
        {
            return [];
        }

        if (node is not YamlSequenceNode sequence)
        {
            errors.Add(node, PathOf(key), $"{key} must be a list, found {Describe(node)}");
            return [];
        }

        if (nonEmpty && sequence.Children.Count == 0)
        {
            errors.Add(node, PathOf(key), $"{key} must list at least one item");
        }

        return [.. sequence.Children.Select((item, i) => new ListItem(item, $"{PathOf(key)}[{i}]", i))];
    }

    /// <summary>
    /// The scalar items of a list, each reported where it is when it is not a scalar or repeats an earlier item
    /// (a repeated zone or day is a copy-and-paste slip worth pointing out).
    /// </summary>
    public IReadOnlyList<Located> ScalarList(string key, bool required = false, bool nonEmpty = false)
    {
        var result = new List<Located>();
        var seen = new Dictionary<string, Located>(StringComparer.Ordinal);
        foreach (var item in List(key, required, nonEmpty))
        {
            if (AsScalar(item.Node, item.Path, errors) is not { } value)
            {
                continue;
            }

            if (seen.TryGetValue(value.Text, out var first))
            {
                errors.Add(value.Node, value.Path, $"'{value.Text}' is listed twice in {key} (first at {first.Path})");
                continue;
            }

            seen.Add(value.Text, value);
            result.Add(value);
        }

        return result;
    }

    public static Located? AsScalar(YamlNode node, string path, ErrorCollector errors)
    {
        if (node is YamlScalarNode { Value: { } text })
        {
            return new Located(text, node, path);
        }

        errors.Add(node, path, $"expected a single value, found {Describe(node)}");
        return null;
    }

    public static T? AsToken<T>(Located value, string what, IReadOnlyDictionary<string, T> tokens, ErrorCollector errors)
        where T : struct
    {
        if (tokens.TryGetValue(value.Text, out var token))
        {
            return token;
        }

        errors.Add(value.Node, value.Path, $"{what} '{value.Text}' is not one of {string.Join(", ", tokens.Keys)}{Suggestions.DidYouMean(value.Text, tokens.Keys)}");
        return null;
    }

    public static bool CheckId(Located value, ErrorCollector errors)
    {
        if (Protocol.WireFormat.IsValidId(value.Text))
        {
            return true;
        }

        errors.Add(value.Node, value.Path, $"'{value.Text}' is not a valid id: use 1 to 64 characters of A-Z a-z 0-9 . _ : -");
        return false;
    }

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode { Value: var text } => $"the value '{text}'",
        _ => "an unexpected node",
    };

    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };
}

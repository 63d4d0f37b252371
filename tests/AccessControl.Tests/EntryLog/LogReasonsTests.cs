using System.Text.RegularExpressions;
using AccessControl.EntryLog;
using AccessControl.Tests.Docs;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// A log query refuses a reason no row can carry (<see cref="LogReasons.Known"/>), and the admin actions in that set are
/// the constants of their features' action classes. An action code written as a literal where it is audited would be
/// known only if some test made the service write it; these tests keep every code where the set is built from.
/// </summary>
public sealed partial class LogReasonsTests
{
    /// <summary>Dotted names in an action's namespace that are not reason codes.</summary>
    private static readonly string[] NotCodes = ["fingerprint.keys"]; // FingerprintOptions.KeyFile's default, a file name

    /// <summary>The files that build a code's forms from its parts: <c>.refused</c>, <c>.failed</c>, <c>auth.&lt;refusal&gt;</c>.</summary>
    private static readonly string[] FormBuilders = ["LogReasons.cs", "AuthReasons.cs"];

    [Fact]
    public void Sources_WriteNoActionCodeAsALiteral()
    {
        var namespaces = Namespaces(LogReasons.Actions);
        var literals = SourceLines().SelectMany(line =>
        {
            var codes = DottedLiteral().Matches(line.Text).Select(m => m.Groups[1].Value)
                .Where(c => namespaces.Contains(c[..c.IndexOf('.', StringComparison.Ordinal)]) && !NotCodes.Contains(c) && !IsKnownConstant(line.Text, c));
            var parts = FormBuilders.Contains(Path.GetFileName(line.File))
                ? []
                : SuffixLiteral().Matches(line.Text).Select(m => m.Value)
                    .Concat(PrefixLiteral().Matches(line.Text).Where(m => namespaces.Contains(m.Groups[1].Value)).Select(m => m.Value));
            return codes.Concat(parts).Select(c => $"{line.Where}: {c}");
        }).ToList();

        Assert.True(literals.Count == 0,
            "Action codes written as literals (use the feature's *Actions constant, LogReasons.Refused/Failed and AuthReasons.TokenRefused for its forms):"
            + Environment.NewLine + string.Join(Environment.NewLine, literals));
    }

    [Fact]
    public void Sources_CompareNoReasonWithALiteralInSql()
    {
        var literals = SourceLines()
            .SelectMany(line => SqlReasonLiteral().Matches(line.Text).Where(m => LogReasons.Known.Contains(m.Groups[1].Value)).Select(m => $"{line.Where}: {m.Value}"))
            .ToList();

        Assert.True(literals.Count == 0,
            "SQL comparing reason with a literal (pass the reason's constant as a parameter; SQLite still matches a partial index's literal):"
            + Environment.NewLine + string.Join(Environment.NewLine, literals));
    }

    /// <summary>The lines of the service's C# sources but comment lines (migrations are .sql: they keep the codes of their day).</summary>
    private static IEnumerable<(string File, string Where, string Text)> SourceLines()
    {
        var src = Path.Combine(RepositoryRoot.Path, "src");
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Where(f => !IsBuildOutput(src, f)))
        {
            var name = Path.GetRelativePath(RepositoryRoot.Path, file);
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                if (!lines[i].TrimStart().StartsWith("//", StringComparison.Ordinal))
                {
                    yield return (file, $"{name}:{i + 1}", lines[i]);
                }
            }
        }
    }

    [Fact]
    public void OperationsDoc_EveryReasonCodeItNames_IsKnown()
    {
        var namespaces = Namespaces(LogReasons.Known);
        var named = BacktickedCode().Matches(File.ReadAllText(ProtocolDocs.PathOf("operations.md")))
            .Select(m => m.Groups[1].Value)
            .Where(c => namespaces.Contains(c[..c.IndexOf('.', StringComparison.Ordinal)]) && !NotCodes.Contains(c))
            .Distinct()
            .ToList();

        Assert.Contains("visit.purge.refused", named); // the pattern finds the codes at all
        var unknown = named.Where(c => !LogReasons.Known.Contains(c)).ToList();
        Assert.True(unknown.Count == 0, "docs/operations.md names reasons no row can carry: " + string.Join(", ", unknown));
    }

    /// <summary>The first parts of the dotted codes: <c>person</c> of <c>person.upsert</c>.</summary>
    private static HashSet<string> Namespaces(IEnumerable<string> codes) =>
        [.. codes.Where(c => c.Contains('.', StringComparison.Ordinal)).Select(c => c[..c.IndexOf('.', StringComparison.Ordinal)])];

    /// <summary>The one place a code may be a literal: the constant that names it, in a class the set is built from.</summary>
    private static bool IsKnownConstant(string line, string code) =>
        (LogReasons.Actions.Contains(code) || LogReasons.Known.Contains(code)) && ConstantDeclaration().Match(line) is { Success: true } m && m.Groups[1].Value == code;

    private static bool IsBuildOutput(string src, string file) =>
        Path.GetRelativePath(src, file).Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj");

    [GeneratedRegex("\"([a-z_]+(?:\\.[a-z_]+)+)\"")]
    private static partial Regex DottedLiteral();

    [GeneratedRegex("\"\\.(?:refused|failed)\"")]
    private static partial Regex SuffixLiteral();

    /// <summary>A code's namespace with its dot, to be completed: <c>"auth." + refusal</c>, <c>$"auth.{refusal}"</c>.</summary>
    [GeneratedRegex("\"([a-z_]+)\\.[\"{]")]
    private static partial Regex PrefixLiteral();

    [GeneratedRegex("reason\\s*(?:=|<>|!=)\\s*'([^']+)'", RegexOptions.IgnoreCase)]
    private static partial Regex SqlReasonLiteral();

    [GeneratedRegex("^\\s*(?:public |internal |private )?const string \\w+ = \"([^\"]+)\";")]
    private static partial Regex ConstantDeclaration();

    [GeneratedRegex("`([a-z_]+(?:\\.[a-z_]+)+)`")]
    private static partial Regex BacktickedCode();
}

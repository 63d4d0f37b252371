using System.Collections.Immutable;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AccessControl.SiteFiles;

/// <summary>
/// Gathers every error of one site file with its position, so that one run tells the operator everything to fix
/// instead of one problem per attempt.
/// </summary>
internal sealed class ErrorCollector(string file)
{
    /// <summary>Errors kept; beyond it they are only counted (a hostile or broken file must not fill the memory or the screen).</summary>
    public const int MaxErrors = 1000;

    private readonly List<SiteFileError> errors = [];
    private int dropped;

    public string File => file;

    public bool HasErrors => errors.Count > 0;

    public void Add(YamlNode node, string path, string message) => Add(node.Start, path, message);

    public void Add(Mark mark, string path, string message) => Add(Clamp(mark.Line), Clamp(mark.Column), path, message);

    public void Add(int line, int column, string path, string message)
    {
        if (errors.Count < MaxErrors)
        {
            errors.Add(new SiteFileError(file, line, column, path, message));
        }
        else
        {
            dropped++;
        }
    }

    /// <summary>
    /// The errors in file order (stable, so errors at one position keep the order they were found in), then, if more
    /// than <see cref="MaxErrors"/> were found, one that says how many more there were.
    /// </summary>
    public ImmutableArray<SiteFileError> ToImmutable()
    {
        var sorted = errors.OrderBy(e => e.Line).ThenBy(e => e.Column);
        return dropped == 0
            ? [.. sorted]
            : [.. sorted, new SiteFileError(file, 0, 0, "(file)", $"and {dropped} more errors not listed; fix these first")];
    }

    private static int Clamp(long value) => value > int.MaxValue ? int.MaxValue : (int)value;
}

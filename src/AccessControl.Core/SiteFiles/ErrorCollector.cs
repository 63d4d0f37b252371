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
    private readonly List<SiteFileError> errors = [];

    public string File => file;

    public bool HasErrors => errors.Count > 0;

    public void Add(YamlNode node, string path, string message) => Add(node.Start, path, message);

    public void Add(Mark mark, string path, string message) =>
        errors.Add(new SiteFileError(file, Clamp(mark.Line), Clamp(mark.Column), path, message));

    public void Add(int line, int column, string path, string message) =>
        errors.Add(new SiteFileError(file, line, column, path, message));

    /// <summary>The errors in file order (stable, so errors at one position keep the order they were found in).</summary>
    public ImmutableArray<SiteFileError> ToImmutable() => [.. errors.OrderBy(e => e.Line).ThenBy(e => e.Column)];

    private static int Clamp(long value) => value > int.MaxValue ? int.MaxValue : (int)value;
}

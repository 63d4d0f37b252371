using System.Collections.Immutable;
using AccessControl.People;
using AccessControl.Sites;

namespace AccessControl.SiteFiles;

/// <summary>
/// Everything one site file declares: the physical layout and the authorization list (access levels, people, credentials).
/// Only ever produced from a file that had no errors at all, so a holder of one can trust every reference in it to resolve.
/// </summary>
/// <param name="Topology">The site, its zones, doors, readers, controllers and schedules (the built-in <c>always</c> included).</param>
/// <param name="AccessLevels">Access levels in file order.</param>
/// <param name="People">People in file order.</param>
/// <param name="Credentials">Credentials in file order, card UIDs normalized.</param>
public sealed record SiteDefinition(
    SiteTopology Topology,
    ImmutableArray<AccessLevel> AccessLevels,
    ImmutableArray<Person> People,
    ImmutableArray<Credential> Credentials)
{
    /// <summary>
    /// Stored people no site file declared, that this file takes over (<c>adopt: true</c>); their import is recorded as an
    /// adoption. Empty when the file was read without the stored cardholders (a stored file read again at a start).
    /// </summary>
    public ImmutableHashSet<PersonId> AdoptedPeople { get; init; } = [];

    /// <summary>Stored cards no site file declared, that this file takes over (<c>adopt: true</c>).</summary>
    public ImmutableHashSet<string> AdoptedCards { get; init; } = ImmutableHashSet.Create<string>(StringComparer.Ordinal);
}

/// <summary>
/// One problem in a site file, located well enough that an operator can fix it without guessing:
/// the file, the 1-based line and column, the path of the value (<c>doors[2].to</c>, indexes 0-based) and what is wrong.
/// </summary>
/// <remarks>
/// Errors that are not about one value use a placeholder path: <c>(file)</c> when the file cannot be read (line and column 0),
/// <c>(yaml)</c> for YAML syntax errors and <c>(root)</c> for the document as a whole.
/// </remarks>
public sealed record SiteFileError(string File, int Line, int Column, string Path, string Message)
{
    public override string ToString() => $"{File}:{Line}:{Column}: {Path}: {Message}";
}

/// <summary>
/// The outcome of loading a site file: a definition, or every error found and no definition.
/// A bad file changes nothing: there is no partial model to apply by mistake.
/// </summary>
public sealed record SiteFileResult(SiteDefinition? Site, ImmutableArray<SiteFileError> Errors)
{
    public bool Success => Site is not null && Errors.IsEmpty;
}

/// <summary>
/// What a site file declares of its site's layout (<see cref="SiteFileLoader.ParseLayout"/>): the topology and the access
/// levels, without the people and credentials. Not a <see cref="SiteDefinition"/>, so that it can never be imported as
/// a file that declares nobody.
/// </summary>
public sealed record SiteLayout(SiteTopology Topology, ImmutableArray<AccessLevel> AccessLevels);

/// <summary>The outcome of reading a site file's layout: a layout, or every error found and no layout.</summary>
public sealed record SiteLayoutResult(SiteLayout? Layout, ImmutableArray<SiteFileError> Errors)
{
    public bool Success => Layout is not null && Errors.IsEmpty;
}

/// <summary>A site file's text as <see cref="SiteFileLoader.ReadText"/> read it, or why it could not (one <c>(file)</c> error).</summary>
public sealed record SiteFileContent(string? Text, ImmutableArray<SiteFileError> Errors);

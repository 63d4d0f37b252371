using System.Collections.Immutable;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace AccessControl.SiteFiles;

/// <summary>
/// Loads a declarative site file (YAML, format in docs/site-file.md) into a <see cref="SiteDefinition"/>.
/// </summary>
/// <remarks>
/// Every expected failure is a value: a missing file, a YAML syntax error or a dangling reference all come back as
/// <see cref="SiteFileError"/>s with file, line, column and path, never as exceptions, and never with a partial model.
/// All errors of a file are reported at once.
/// </remarks>
public static class SiteFileLoader
{
    /// <summary>Largest site file accepted. A site of 20 000 people with their cards is about 5 MB.</summary>
    public const int MaxFileBytes = 32 * 1024 * 1024;

    /// <summary>Deepest nesting accepted. The format needs 5; the limit keeps a hostile file from exhausting the stack.</summary>
    public const int MaxDepth = 32;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads and parses a site file. A missing or unreadable file gives one error (line 0, path <c>(file)</c>).</summary>
    /// <param name="otherSites">Ids the service's other sites hold (a zone, door or device id of one is an error); none by default.</param>
    public static SiteFileResult Load(string path, SiteIdsInUse? otherSites = null)
    {
        var read = ReadText(path);
        return read.Text is { } text ? Parse(text, path, otherSites) : new SiteFileResult(null, read.Errors);
    }

    /// <summary>
    /// Reads a site file's text, strictly as UTF-8, at most <see cref="MaxFileBytes"/>: what <see cref="Load"/> parses.
    /// Parse and keep this one text: reading the file again could read another (an editor saving it meanwhile).
    /// </summary>
    public static SiteFileContent ReadText(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxFileBytes)
            {
                return FileError(path, $"the file is {stream.Length} bytes; a site file may have at most {MaxFileBytes} bytes");
            }

            using var reader = new StreamReader(stream, StrictUtf8, detectEncodingFromByteOrderMarks: true);
            return new SiteFileContent(reader.ReadToEnd(), []);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return FileError(path, "the file does not exist");
        }
        catch (DecoderFallbackException)
        {
            return FileError(path, "the file is not valid UTF-8 text");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return FileError(path, $"the file cannot be read: {ex.Message}");
        }
    }

    /// <summary>Parses the text of a site file. Pure: <paramref name="fileName"/> only labels the errors.</summary>
    /// <param name="otherSites">Ids the service's other sites hold (a zone, door or device id of one is an error); none by default.</param>
    public static SiteFileResult Parse(string yamlText, string fileName, SiteIdsInUse? otherSites = null)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        ArgumentNullException.ThrowIfNull(fileName);
        var errors = new ErrorCollector(fileName);
        var root = ReadYaml(yamlText, errors, NothingSkipped);
        var site = root is null ? null : SiteFileReader.Read(root, errors, otherSites ?? SiteIdsInUse.None);
        return errors.HasErrors || site is null
            ? new SiteFileResult(null, errors.ToImmutable())
            : new SiteFileResult(site, []);
    }

    /// <summary>
    /// Parses a site file's layout only: its site, zones, doors, devices, schedules and access levels, not its people and
    /// credentials, which are scanned past (a YAML error among them is still an error) but not read or checked. For a
    /// stored file whose cardholders are in the cardholder store already, read again at every start: at 200,000 people
    /// the people and cards are nearly all of the file, and of the time it takes to read it. Pure, like <see cref="Parse"/>.
    /// </summary>
    public static SiteLayoutResult ParseLayout(string yamlText, string fileName)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        ArgumentNullException.ThrowIfNull(fileName);
        var errors = new ErrorCollector(fileName);
        var root = ReadYaml(yamlText, errors, CardholderKeys);
        var site = root is null ? null : SiteFileReader.ReadLayout(root, errors);
        return errors.HasErrors || site is null
            ? new SiteLayoutResult(null, errors.ToImmutable())
            : new SiteLayoutResult(new SiteLayout(site.Topology, site.AccessLevels), []);
    }

    private static readonly IReadOnlySet<string> NothingSkipped = new HashSet<string>(StringComparer.Ordinal);

    private static readonly IReadOnlySet<string> CardholderKeys = new HashSet<string>(["people", "credentials"], StringComparer.Ordinal);

    private static SiteFileContent FileError(string path, string message) =>
        new(null, [new SiteFileError(path, 0, 0, "(file)", message)]);

    /// <summary>
    /// The root node of the file's single YAML document, or null after reporting why there is none. One pass of the YAML
    /// parser finds syntax errors, excessive nesting and aliases (<see cref="CheckedParser"/>) as the node tree is built.
    /// </summary>
    private static YamlNode? ReadYaml(string text, ErrorCollector errors, IReadOnlySet<string> skippedRootKeys)
    {
        if (text.Length > MaxFileBytes)
        {
            errors.Add(0, 0, "(file)", $"the text has {text.Length} characters; a site file may have at most {MaxFileBytes}");
            return null;
        }

        var parser = new CheckedParser(new Parser(new StringReader(text)), errors, skippedRootKeys);
        var stream = new YamlStream();
        try
        {
            stream.Load(parser);
        }
        catch (CheckedParser.TooDeepException)
        {
            return null;
        }
        catch (YamlException ex)
        {
            // Syntax errors, and duplicate keys and unknown anchors, found only while the node tree is built.
            errors.Add(PositionOf(ex, text), "(yaml)", ex.Message);
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet 18.1 throws this from its scanner, without a position, for some malformed input such as a
            // flow list left open across lines ("a: [1, 2" then a new key). The last good event is the best position we have.
            errors.Add(parser.Last, "(yaml)", "malformed YAML after this point (an unclosed [ or { or quote?)");
            return null;
        }

        if (errors.HasErrors)
        {
            return null; // aliases
        }

        if (stream.Documents.Count == 0)
        {
            errors.Add(1, 1, "(root)", "the file holds no YAML document; a site file starts with 'version: 1'");
            return null;
        }

        if (stream.Documents.Count > 1)
        {
            errors.Add(stream.Documents[1].RootNode, "(root)", $"a site file holds one YAML document, this one holds {stream.Documents.Count}");
            return null;
        }

        return stream.Documents[0].RootNode;
    }

    /// <summary>
    /// Where a YAML error is. YamlDotNet places a tab used for indentation at the start of the enclosing mapping
    /// (often line 1), which sends the reader to the wrong place; the first line at or after that point that is
    /// indented with a tab is where the problem is.
    /// </summary>
    private static Mark PositionOf(YamlException ex, string text)
    {
        if (!ex.Message.Contains("tab", StringComparison.OrdinalIgnoreCase))
        {
            return ex.Start;
        }

        var lines = text.Split('\n');
        for (var i = (int)Math.Max(0, ex.Start.Line - 1); i < lines.Length; i++)
        {
            var indent = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
            var tab = lines[i].IndexOf('\t', 0, indent);
            if (tab >= 0)
            {
                return new Mark(0, i + 1, tab + 1);
            }
        }

        return ex.Start;
    }
}

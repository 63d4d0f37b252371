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
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxFileBytes)
            {
                return FileError(path, $"the file is {stream.Length} bytes; a site file may have at most {MaxFileBytes} bytes");
            }

            using var reader = new StreamReader(stream, StrictUtf8, detectEncodingFromByteOrderMarks: true);
            text = reader.ReadToEnd();
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

        return Parse(text, path, otherSites);
    }

    /// <summary>Parses the text of a site file. Pure: <paramref name="fileName"/> only labels the errors.</summary>
    /// <param name="otherSites">Ids the service's other sites hold (a zone, door or device id of one is an error); none by default.</param>
    public static SiteFileResult Parse(string yamlText, string fileName, SiteIdsInUse? otherSites = null)
    {
        ArgumentNullException.ThrowIfNull(yamlText);
        ArgumentNullException.ThrowIfNull(fileName);
        var errors = new ErrorCollector(fileName);
        var root = ReadYaml(yamlText, errors);
        var site = root is null ? null : SiteFileReader.Read(root, errors, otherSites ?? SiteIdsInUse.None);
        return errors.HasErrors || site is null
            ? new SiteFileResult(null, errors.ToImmutable())
            : new SiteFileResult(site, []);
    }

    private static SiteFileResult FileError(string path, string message) =>
        new(null, [new SiteFileError(path, 0, 0, "(file)", message)]);

    /// <summary>The root node of the file's single YAML document, or null after reporting why there is none.</summary>
    private static YamlNode? ReadYaml(string text, ErrorCollector errors)
    {
        if (text.Length > MaxFileBytes)
        {
            errors.Add(0, 0, "(file)", $"the text has {text.Length} characters; a site file may have at most {MaxFileBytes}");
            return null;
        }

        if (!CheckSyntax(text, errors))
        {
            return null;
        }

        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            // Duplicate keys and unknown aliases are found only while building the node tree.
            errors.Add(ex.Start, "(yaml)", ex.Message);
            return null;
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

    /// <summary>
    /// Runs the YAML event parser once over the text to find syntax errors, excessive nesting and aliases before the
    /// (recursive) node tree is built.
    /// </summary>
    private static bool CheckSyntax(string text, ErrorCollector errors)
    {
        var parser = new Parser(new StringReader(text));
        var last = new Mark(0, 1, 1);
        var depth = 0;
        try
        {
            while (parser.MoveNext())
            {
                var current = parser.Current!;
                last = current.End;
                if (current is MappingStart or SequenceStart && ++depth > MaxDepth)
                {
                    errors.Add(current.Start, "(yaml)", $"nesting is deeper than {MaxDepth} levels");
                    return false;
                }

                if (current is MappingEnd or SequenceEnd)
                {
                    depth--;
                }

                // An alias repeats what its anchor holds wherever it stands: a small file of aliases to aliases would
                // grow into millions of entries (and errors) once read. A site file writes each value out.
                if (current is AnchorAlias alias)
                {
                    errors.Add(current.Start, "(yaml)", $"YAML aliases (*{alias.Value}) are not supported in a site file; write the value out where it is needed");
                }
            }

            return !errors.HasErrors;
        }
        catch (YamlException ex)
        {
            errors.Add(PositionOf(ex, text), "(yaml)", ex.Message);
            return false;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet 18.1 throws this from its scanner, without a position, for some malformed input such as a
            // flow list left open across lines ("a: [1, 2" then a new key). The last good event is the best position we have.
            errors.Add(last, "(yaml)", "malformed YAML after this point (an unclosed [ or { or quote?)");
            return false;
        }
    }
}

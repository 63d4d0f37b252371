using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace AccessControl.SiteFiles;

/// <summary>
/// The YAML event stream of a site file as the node tree is built from it, checked on the way, in the same pass:
/// nesting deeper than <see cref="SiteFileLoader.MaxDepth"/> stops the read (<see cref="TooDeepException"/>) before the
/// recursive tree builder goes that deep, every alias is reported and read as an empty value, never resolved, and every
/// tag (<c>!!str</c>, <c>!!null</c>, ...) is reported.
/// </summary>
/// <remarks>
/// It can also leave out the values of some top-level keys (<see cref="SiteFileLoader.ParseLayout"/>): they are still
/// scanned, so their syntax errors are still found, but no node is built for them; each reads as an empty list.
/// </remarks>
internal sealed class CheckedParser(IParser inner, ErrorCollector errors, IReadOnlySet<string> skippedRootKeys) : IParser
{
    /// <summary>How the YAML core schema's tags are spelled once resolved: <c>!!str</c> is <c>tag:yaml.org,2002:str</c>.</summary>
    private const string CoreSchemaPrefix = "tag:yaml.org,2002:";

    private readonly Queue<ParsingEvent> queued = new();
    private int depth;
    private bool rootIsMapping;
    private bool rootKeyNext;

    public ParsingEvent? Current { get; private set; }

    /// <summary>Where the last event read ended: the best position for an error the scanner throws without one.</summary>
    public Mark Last { get; private set; } = new(0, 1, 1);

    public bool MoveNext()
    {
        if (queued.TryDequeue(out var next))
        {
            Current = next;
            return true;
        }

        if (!Read())
        {
            Current = null;
            return false;
        }

        var current = inner.Current!;
        var isRootKey = false;
        if (rootIsMapping && depth == 1 && current is not MappingEnd)
        {
            isRootKey = rootKeyNext;
            rootKeyNext = !rootKeyNext;
        }

        if (isRootKey && current is Scalar { Value: var name } && skippedRootKeys.Contains(name) && Read())
        {
            // The key stays (the reader knows it); its value is read past and stands as an empty list.
            var value = inner.Current!;
            if (value is MappingStart or SequenceStart)
            {
                SkipNested();
            }

            rootKeyNext = true;
            queued.Enqueue(new SequenceStart(AnchorName.Empty, TagName.Empty, isImplicit: true, SequenceStyle.Flow, value.Start, value.Start));
            queued.Enqueue(new SequenceEnd(value.Start, value.Start));
        }

        Current = Checked(current);
        return true;
    }

    private bool Read()
    {
        if (!inner.MoveNext())
        {
            return false;
        }

        Last = inner.Current!.End;
        return true;
    }

    private ParsingEvent Checked(ParsingEvent current)
    {
        if (current is NodeEvent { Tag: { IsEmpty: false } tag })
        {
            // A tag changes what a value is to every YAML tool that honours it (!!null hard is no value, !!str null is a
            // name), and this reader reads the text alone: an officer and the service would read two files. It also
            // makes '!!str key' a key apart from 'key' to the parser, so a key given twice would not be caught.
            errors.Add(current.Start, "(yaml)", $"YAML tags ({Written(tag)}) are not supported in a site file; write the value without it (quote it to make it text)");
        }

        switch (current)
        {
            case MappingStart or SequenceStart:
                if (++depth > SiteFileLoader.MaxDepth)
                {
                    errors.Add(current.Start, "(yaml)", $"nesting is deeper than {SiteFileLoader.MaxDepth} levels");
                    throw new TooDeepException();
                }

                if (depth == 1)
                {
                    rootIsMapping = current is MappingStart;
                    rootKeyNext = true;
                }

                return current;
            case MappingEnd or SequenceEnd:
                depth--;
                return current;
            case AnchorAlias alias:
                // An alias repeats what its anchor holds wherever it stands: a small file of aliases to aliases would grow
                // into millions of entries (and errors) once read. A site file writes each value out.
                errors.Add(current.Start, "(yaml)", $"YAML aliases (*{alias.Value}) are not supported in a site file; write the value out where it is needed");
                return new Scalar(AnchorName.Empty, TagName.Empty, "", ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false, current.Start, current.End);
            default:
                return current;
        }
    }

    /// <summary>A tag as the file spells it: the YAML core schema's own as <c>!!str</c>, others as they stand.</summary>
    private static string Written(TagName tag) =>
        tag.Value.StartsWith(CoreSchemaPrefix, StringComparison.Ordinal) ? "!!" + tag.Value[CoreSchemaPrefix.Length..] : tag.Value;

    /// <summary>Reads past the collection that starts at the inner parser's current event, counting only its nesting.</summary>
    private void SkipNested()
    {
        var nested = 1;
        while (nested > 0 && Read())
        {
            switch (inner.Current)
            {
                case MappingStart or SequenceStart:
                    nested++;
                    break;
                case MappingEnd or SequenceEnd:
                    nested--;
                    break;
            }
        }
    }

    /// <summary>Nesting past the limit: the read stops here (the error is collected).</summary>
    internal sealed class TooDeepException : Exception;
}

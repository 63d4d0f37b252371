using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AccessControl.Protocol;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace AccessControl.Tests.Docs;

/// <summary>One ```json block of docs/reader-protocol.md and the marker comment in front of it.</summary>
/// <param name="Line">1-based line of the opening fence, for messages.</param>
/// <param name="Kind">The marker's message kind, or null when the block has no marker.</param>
/// <param name="Rejected">The marker says the service refuses this payload.</param>
/// <param name="Echo">For rejected examples: the marker's <c>echo=</c> value; "null" for an explicit null, null when absent.</param>
internal sealed record MarkdownExample(int Line, string? Kind, bool Rejected, string? Echo, string Json);

/// <summary>The outcome of parsing a payload with one of the WireFormat parsers, type-erased so one table can hold them all.</summary>
internal readonly record struct ParseOutcome(object? Value, string? Error, string? EventId)
{
    public bool Success => Value is not null;

    public static ParseOutcome From<T>(WireResult<T> result)
        where T : class => new(result.Value, result.Error, result.EventId);
}

/// <summary>A message kind of the protocol: its marker name, its parser and writer, and which way it travels.</summary>
/// <param name="Inbound">Sent by a device to the service: the service's parser is the authority on what is required.</param>
internal sealed record WireKind(string Name, Func<byte[], ParseOutcome> Parse, Func<object, byte[]> Write, bool Inbound)
{
    /// <summary>
    /// Whether two parsed values are the same message. Record equality, except where a message holds collections or
    /// bytes (a reader command's templates), which records compare by reference.
    /// </summary>
    public Func<object, object, bool> Same { get; init; } = (a, b) => Equals(a, b);
}

/// <summary>Reads the protocol documents that the doc tests check against the wire code.</summary>
internal static partial class ProtocolDocs
{
    public static readonly IReadOnlyDictionary<string, WireKind> Kinds = new[]
    {
        new WireKind("reader-event", p => ParseOutcome.From(WireFormat.ParseReaderEvent(Seq(p))), v => WireFormat.Write((ReaderEvent)v), Inbound: true),
        new WireKind("status", p => ParseOutcome.From(WireFormat.ParseDeviceStatus(Seq(p))), v => WireFormat.Write((DeviceStatus)v), Inbound: true),
        new WireKind("door-event", p => ParseOutcome.From(WireFormat.ParseDoorEvent(Seq(p))), v => WireFormat.Write((DoorEvent)v), Inbound: true),
        new WireKind("decision", p => ParseOutcome.From(WireFormat.ParseDecision(Seq(p))), v => WireFormat.Write((DecisionMessage)v), Inbound: false),
        new WireKind("door-command", p => ParseOutcome.From(WireFormat.ParseDoorCommand(Seq(p))), v => WireFormat.Write((DoorCommand)v), Inbound: false),
        new WireKind("reader-command", p => ParseOutcome.From(WireFormat.ParseReaderCommand(Seq(p))), v => WireFormat.Write((ReaderCommand)v), Inbound: false)
        {
            Same = (a, b) => SameReaderCommand((ReaderCommand)a, (ReaderCommand)b),
        },
        new WireKind("alarm", p => ParseOutcome.From(WireFormat.ParseAlarm(Seq(p))), v => WireFormat.Write((AlarmMessage)v), Inbound: false),
        new WireKind("fire-event", p => ParseOutcome.From(WireFormat.ParseFireEvent(Seq(p))), v => WireFormat.Write((FireEvent)v), Inbound: true),
    }.ToDictionary(k => k.Name);

    /// <summary>AsyncAPI component message name to marker kind.</summary>
    public static readonly IReadOnlyDictionary<string, string> KindOfAsyncApiMessage = new Dictionary<string, string>
    {
        ["ReaderEvent"] = "reader-event",
        ["DeviceStatus"] = "status",
        ["DoorEvent"] = "door-event",
        ["Decision"] = "decision",
        ["DoorCommand"] = "door-command",
        ["ReaderCommand"] = "reader-command",
        ["Alarm"] = "alarm",
        ["FireEvent"] = "fire-event",
    };

    /// <summary>Field by field, templates (and their bytes) by value.</summary>
    public static bool SameReaderCommand(ReaderCommand a, ReaderCommand b) =>
        a with { Templates = [] } == b with { Templates = [] }
        && a.Templates.Length == b.Templates.Length
        && a.Templates.Zip(b.Templates).All(t =>
            t.First with { Data = ReadOnlyMemory<byte>.Empty } == t.Second with { Data = ReadOnlyMemory<byte>.Empty }
            && t.First.Data.Span.SequenceEqual(t.Second.Data.Span));

    public static string PathOf(string fileName) => Path.Combine(AppContext.BaseDirectory, "docs", fileName);

    public static string[] ReadMarkdownLines() => File.ReadAllLines(PathOf("reader-protocol.md"));

    /// <summary>Every fenced block whose info string is <c>json</c>, with the marker comment that precedes it (blank lines may separate them).</summary>
    public static IReadOnlyList<MarkdownExample> ReadMarkdownExamples()
    {
        var lines = ReadMarkdownLines();
        var examples = new List<MarkdownExample>();
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].TrimEnd().Equals("```json", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var start = i;
            var body = new StringBuilder();
            for (i++; i < lines.Length && lines[i].TrimEnd() != "```"; i++)
            {
                body.Append(lines[i]).Append('\n');
            }

            var before = start - 1;
            while (before >= 0 && string.IsNullOrWhiteSpace(lines[before]))
            {
                before--;
            }

            var marker = before >= 0 ? ExampleMarker().Match(lines[before].Trim()) : Match.Empty;
            examples.Add(marker.Success
                ? new MarkdownExample(
                    start + 1,
                    marker.Groups["kind"].Value,
                    marker.Groups["rejected"].Success,
                    marker.Groups["echo"].Success ? marker.Groups["echo"].Value : null,
                    body.ToString())
                : new MarkdownExample(start + 1, null, false, null, body.ToString()));
        }

        return examples;
    }

    /// <summary>The first back-quoted token of each body row of the table after <c>&lt;!-- table: name --&gt;</c>.</summary>
    public static IReadOnlyList<string> ReadTableCodes(string tableName)
    {
        var lines = ReadMarkdownLines();
        var markerLine = Array.FindIndex(lines, l => l.Trim() == $"<!-- table: {tableName} -->");
        Assert.True(markerLine >= 0, $"reader-protocol.md has no '<!-- table: {tableName} -->' marker");

        var rows = lines.Skip(markerLine + 1)
            .SkipWhile(string.IsNullOrWhiteSpace)
            .TakeWhile(l => l.TrimStart().StartsWith('|'))
            .Skip(2) // header and separator
            .ToList();
        Assert.NotEmpty(rows);

        return rows.Select(row =>
        {
            var code = Regex.Match(row, "`([^`]+)`");
            Assert.True(code.Success, $"table '{tableName}' has a row without a `code`: {row}");
            return code.Groups[1].Value;
        }).ToList();
    }

    public static YamlMappingNode ReadAsyncApi()
    {
        using var reader = new StreamReader(PathOf("asyncapi.yaml"));
        var stream = new YamlStream();
        stream.Load(reader);
        return Assert.IsType<YamlMappingNode>(Assert.Single(stream.Documents).RootNode);
    }

    public static YamlNode? Get(YamlNode node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public static YamlMappingNode GetMap(YamlNode node, string key) =>
        Assert.IsType<YamlMappingNode>(Get(node, key) ?? throw new Xunit.Sdk.XunitException($"missing '{key}'"));

    public static string GetString(YamlNode node, string key) =>
        Assert.IsType<YamlScalarNode>(Get(node, key) ?? throw new Xunit.Sdk.XunitException($"missing '{key}'")).Value ?? "";

    public static IEnumerable<(string Key, YamlNode Value)> Entries(YamlMappingNode map) =>
        map.Children.Select(c => (((YamlScalarNode)c.Key).Value ?? "", c.Value));

    /// <summary>Resolves a local JSON pointer (<c>#/components/messages/X</c>) against the document.</summary>
    public static YamlNode Resolve(YamlMappingNode document, string reference)
    {
        Assert.StartsWith("#/", reference);
        YamlNode node = document;
        foreach (var raw in reference[2..].Split('/'))
        {
            var key = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            node = Get(node, key) ?? throw new Xunit.Sdk.XunitException($"$ref '{reference}' does not resolve (no '{key}')");
        }

        return node;
    }

    /// <summary>Follows a <c>$ref</c> if the node is one, otherwise returns the node.</summary>
    public static YamlNode Deref(YamlMappingNode document, YamlNode node) =>
        Get(node, "$ref") is YamlScalarNode reference ? Deref(document, Resolve(document, reference.Value!)) : node;

    /// <summary>
    /// Converts a YAML node to JSON bytes. Quoted scalars are strings; plain scalars follow the YAML 1.2 core schema
    /// (null, booleans, numbers), which is how an AsyncAPI tool reads the example payloads.
    /// </summary>
    public static byte[] ToJson(YamlNode node)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer, node);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static bool JsonEquals(string a, string b) =>
        System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(a), System.Text.Json.Nodes.JsonNode.Parse(b));

    /// <summary>The JSON object with one top-level member removed.</summary>
    public static byte[] Without(string json, string member)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        Assert.True(node.Remove(member));
        return Encoding.UTF8.GetBytes(node.ToJsonString());
    }

    public static IReadOnlyList<string> MemberNames(ReadOnlySpan<byte> json)
    {
        using var document = JsonDocument.Parse(json.ToArray());
        return document.RootElement.EnumerateObject().Select(p => p.Name).ToList();
    }

    private static void WriteJson(Utf8JsonWriter writer, YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode map:
                writer.WriteStartObject();
                foreach (var (key, value) in Entries(map))
                {
                    writer.WritePropertyName(key);
                    WriteJson(writer, value);
                }

                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Children)
                {
                    WriteJson(writer, item);
                }

                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar when scalar.Style != ScalarStyle.Plain:
                writer.WriteStringValue(scalar.Value);
                break;
            case YamlScalarNode scalar:
                var text = scalar.Value ?? "";
                if (text is "" or "~" or "null" or "Null" or "NULL")
                {
                    writer.WriteNullValue();
                }
                else if (text is "true" or "True" or "TRUE" or "false" or "False" or "FALSE")
                {
                    writer.WriteBooleanValue(char.ToLowerInvariant(text[0]) == 't');
                }
                else if (YamlNumber().IsMatch(text))
                {
                    writer.WriteRawValue(text.TrimStart('+'));
                }
                else
                {
                    writer.WriteStringValue(text);
                }

                break;
            default:
                throw new Xunit.Sdk.XunitException($"unexpected YAML node {node.NodeType} at {node.Start}");
        }
    }

    private static ReadOnlySequence<byte> Seq(byte[] payload) => new(payload);

    public static string Describe(byte[] payload) => Encoding.UTF8.GetString(payload);

    [GeneratedRegex(@"^<!--\s*example:\s*(?<kind>[a-z-]+)(?:\s+(?<rejected>rejected)(?:\s+echo=(?<echo>\S+))?)?\s*-->$")]
    private static partial Regex ExampleMarker();

    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")]
    private static partial Regex YamlNumber();
}

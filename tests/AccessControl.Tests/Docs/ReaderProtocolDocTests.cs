using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using AccessControl.Broker;
using AccessControl.Decisions;
using AccessControl.Protocol;
using YamlDotNet.RepresentationModel;
using static AccessControl.Tests.Docs.ProtocolDocs;

namespace AccessControl.Tests.Docs;

/// <summary>
/// Keeps docs/reader-protocol.md and docs/asyncapi.yaml honest: firmware is built against them, so every example
/// must be accepted (or refused, where the document says so) by the service's own parser, and every code, topic and
/// required member they name must be the one the code uses.
/// </summary>
[Trait("control", "protocol-contract")]
public class ReaderProtocolDocTests
{
    public static TheoryData<string, int> AcceptedExamples()
    {
        var data = new TheoryData<string, int>();
        foreach (var example in ReadMarkdownExamples().Where(e => e.Kind is not null && !e.Rejected))
        {
            data.Add(example.Kind!, example.Line);
        }

        return data;
    }

    public static TheoryData<string, int> RejectedExamples()
    {
        var data = new TheoryData<string, int>();
        foreach (var example in ReadMarkdownExamples().Where(e => e.Kind is not null && e.Rejected))
        {
            data.Add(example.Kind!, example.Line);
        }

        return data;
    }

    // ---- docs/reader-protocol.md ------------------------------------------------------------------------------

    [Fact]
    public void MarkdownExamples_EveryJsonBlock_HasAMarkerOfAKnownKind()
    {
        var examples = ReadMarkdownExamples();

        Assert.NotEmpty(examples);
        Assert.All(examples, e =>
        {
            Assert.True(e.Kind is not null, $"the ```json block at line {e.Line} has no '<!-- example: KIND -->' marker before it");
            Assert.True(Kinds.ContainsKey(e.Kind!), $"the ```json block at line {e.Line} has unknown kind '{e.Kind}' (known: {string.Join(", ", Kinds.Keys)})");
            Assert.True(!e.Rejected || Kinds[e.Kind!].Inbound, $"the rejected example at line {e.Line} is of kind '{e.Kind}', which the service never parses from a device");
        });
    }

    [Fact]
    public void MarkdownExamples_EveryKind_HasAtLeastOneAcceptedExample()
    {
        var kinds = ReadMarkdownExamples().Where(e => !e.Rejected).Select(e => e.Kind).ToHashSet();

        Assert.All(Kinds.Keys, kind => Assert.Contains(kind, kinds));
    }

    [Theory]
    [MemberData(nameof(AcceptedExamples))]
    public void MarkdownExample_Accepted_ParsesAndRoundTripsThroughWrite(string kind, int line)
    {
        var example = ReadMarkdownExamples().Single(e => e.Line == line);
        var wire = Kinds[kind];

        var parsed = wire.Parse(Encoding.UTF8.GetBytes(example.Json));
        Assert.True(parsed.Success, $"line {line}: {parsed.Error}");

        var written = wire.Write(parsed.Value!);
        var reparsed = wire.Parse(written);
        Assert.True(reparsed.Success, $"line {line}: re-parsing {Describe(written)} failed: {reparsed.Error}");
        Assert.True(wire.Same(parsed.Value!, reparsed.Value!), $"line {line}: {Describe(written)} does not read back as the example");
    }

    [Theory]
    [MemberData(nameof(AcceptedExamples))]
    public void MarkdownExample_Outbound_IsExactlyWhatTheServiceWrites(string kind, int line)
    {
        // The service is the only writer of these: an example must show every member it writes, and nothing else.
        var example = ReadMarkdownExamples().Single(e => e.Line == line);
        var wire = Kinds[kind];
        if (wire.Inbound)
        {
            return;
        }

        var parsed = wire.Parse(Encoding.UTF8.GetBytes(example.Json));
        Assert.True(parsed.Success, $"line {line}: {parsed.Error}");

        var written = Describe(wire.Write(parsed.Value!));
        Assert.True(JsonEquals(example.Json, written), $"line {line}: the service writes {written}");
    }

    [Theory]
    [MemberData(nameof(RejectedExamples))]
    public void MarkdownExample_Rejected_IsRefusedAndEchoesTheDocumentedEventId(string kind, int line)
    {
        var example = ReadMarkdownExamples().Single(e => e.Line == line);

        var parsed = Kinds[kind].Parse(Encoding.UTF8.GetBytes(example.Json));

        Assert.False(parsed.Success, $"line {line}: the document says this payload is refused, but it parses");
        Assert.True(example.Echo is not null, $"line {line}: a rejected example must say which eventId the answer echoes (echo=ID or echo=null)");
        Assert.Equal(example.Echo == "null" ? null : example.Echo, parsed.EventId);
    }

    [Fact]
    public void ReasonsTable_ListsEveryWireCode_InEvaluationOrder()
    {
        var table = ReadTableCodes("reasons");
        var codes = AccessReasonCodes.All.Select(r => r.ToCode()).ToList();

        Assert.Equal(table.Count, table.Distinct().Count());
        Assert.All(table, code => Assert.True(AccessReasonCodes.TryParse(code, out _), $"the reasons table lists '{code}', which is not an AccessReason wire code"));
        Assert.All(codes, code => Assert.Contains(code, table));

        // Denies are listed in the order the engine evaluates them (the enum's order); 'granted' is the outcome when all pass.
        var denies = AccessReasonCodes.All.Where(r => r != AccessReason.Granted).Select(r => r.ToCode());
        Assert.Equal(denies, table.Where(c => c != AccessReason.Granted.ToCode()));
    }

    [Fact]
    public void ReasonsTable_FingerprintCodes_AreCodesOfThisVersion()
    {
        // They were reserved before two-factor entry shipped; nothing is reserved now, so the reserved table is gone.
        var table = ReadTableCodes("reasons");

        Assert.Contains("fingerprint_required", table);
        Assert.DoesNotContain(ReadMarkdownLines(), l => l.Trim() == "<!-- table: reserved-reasons -->");
    }

    [Fact]
    public void ReaderEventTypesTable_ListsExactlyTheTypesOfTheWireFormat()
    {
        var table = ReadTableCodes("reader-event-types");

        Assert.Equal(ReaderEventTypeCodes().Order(), table.Order());
    }

    [Fact]
    public void ReaderCommandsTable_ListsExactlyTheReaderCommandsOfTheCode()
    {
        var table = ReadTableCodes("reader-commands");

        Assert.Equal(ReaderCommandCodes().Order(), table.Order());
    }

    [Fact]
    public void MarkdownExamples_ShowEveryReaderEventType_DecisionValue_AndReaderCommand()
    {
        var examples = ReadMarkdownExamples().Where(e => e.Kind is not null && !e.Rejected).ToList();
        string[] Values(string kind, string member) =>
        [
            .. examples.Where(e => e.Kind == kind)
                .Select(e => System.Text.Json.Nodes.JsonNode.Parse(e.Json)![member]?.GetValue<string>())
                .OfType<string>()
                .Distinct()
                .Order(),
        ];

        Assert.Equal(ReaderEventTypeCodes().Order(), Values("reader-event", "type"));
        Assert.Equal(new[] { "deny", "grant", "pending" }, Values("decision", "decision"));
        Assert.Equal(ReaderCommandCodes().Order(), Values("reader-command", "command"));
    }

    [Fact]
    public void PayloadRules_StateTheSizeLimitsOfTheCode()
    {
        var text = string.Join('\n', ReadMarkdownLines());

        Assert.Contains($"**{WireFormat.DefaultMaxPayloadBytes} bytes**", text, StringComparison.Ordinal);
        Assert.Contains($"**{WireFormat.MaxReaderCommandBytes} bytes**", text, StringComparison.Ordinal);
        var maxPacketBytes = MosquittoConfig.MaxPublishPayloadBytes(WireFormat.DefaultMaxPayloadBytes) + MosquittoConfig.PacketHeadroomBytes;
        Assert.Contains($"**{maxPacketBytes} bytes**", text, StringComparison.Ordinal);
        Assert.Contains($"{AccessControl.Fingerprints.FingerprintTemplate.MaxBytes} bytes", text, StringComparison.Ordinal);
    }

    [Fact]
    public void AlarmTable_ListsExactlyTheAlarmTypesTheCoreRaises()
    {
        var table = ReadTableCodes("alarm-types");

        Assert.Equal(AlarmTypeCodes().Order(), table.Order());
    }

    // ---- docs/asyncapi.yaml -----------------------------------------------------------------------------------

    [Fact]
    public void AsyncApi_Version_Is300()
    {
        var document = ReadAsyncApi();

        Assert.Equal("3.0.0", GetString(document, "asyncapi"));
        Assert.Equal("application/json", GetString(document, "defaultContentType"));
    }

    [Fact]
    public void AsyncApi_EveryReference_Resolves()
    {
        var document = ReadAsyncApi();
        var references = new List<string>();
        CollectReferences(document, references);

        Assert.NotEmpty(references);
        Assert.All(references, reference => Resolve(document, reference));
    }

    private const string PanelId = "fire-panel-sample";

    [Fact]
    public void AsyncApi_ChannelAddresses_AreExactlyTheTopicsOfTheCode()
    {
        var document = ReadAsyncApi();
        var topics = new Topics();
        const string readerId = "rdr-sample";
        const string doorId = "door-sample";
        var seen = new HashSet<TopicKind>();

        foreach (var (name, channel) in Entries(GetMap(document, "channels")))
        {
            var address = GetString(channel, "address");
            var parameters = Regex.Matches(address, @"\{([^}]+)\}").Select(m => m.Groups[1].Value).ToList();
            var declared = Get(channel, "parameters") is YamlMappingNode map ? Entries(map).Select(e => e.Key).ToList() : [];
            Assert.Equal(parameters.Order(), declared.Order());

            var topic = address.Replace("{readerId}", readerId, StringComparison.Ordinal).Replace("{doorId}", doorId, StringComparison.Ordinal)
                .Replace("{panelId}", PanelId, StringComparison.Ordinal);
            var parsed = topics.Parse(topic);
            Assert.True(parsed.Kind != TopicKind.Unknown, $"channel '{name}': '{address}' is not a topic of AccessControl.Protocol.Topics");

            var expected = parsed.Kind switch
            {
                TopicKind.ReaderEvents => topics.ReaderEvents(readerId),
                TopicKind.ReaderStatus => topics.ReaderStatus(readerId),
                TopicKind.ReaderDecisions => topics.ReaderDecisions(readerId),
                TopicKind.ReaderCommands => topics.ReaderCommands(readerId),
                TopicKind.DoorEvents => topics.DoorEvents(doorId),
                TopicKind.DoorStatus => topics.DoorStatus(doorId),
                TopicKind.DoorCommands => topics.DoorCommands(doorId),
                TopicKind.Alarms => topics.Alarms,
                TopicKind.FireEvents => topics.FireEvents(PanelId),
                _ => throw new Xunit.Sdk.XunitException($"unexpected topic kind {parsed.Kind}"),
            };
            Assert.Equal(expected, topic);
            Assert.True(seen.Add(parsed.Kind), $"channel '{name}' repeats topic kind {parsed.Kind}");
        }

        Assert.Equal(Enum.GetValues<TopicKind>().Where(k => k != TopicKind.Unknown).Order(), seen.Order());
    }

    [Fact]
    public void AsyncApi_Operations_SendWhatTheServiceSendsAndReceiveWhatItReceives()
    {
        var document = ReadAsyncApi();
        var topics = new Topics();
        var serviceReceives = new[] { TopicKind.ReaderEvents, TopicKind.ReaderStatus, TopicKind.DoorEvents, TopicKind.DoorStatus, TopicKind.FireEvents };
        var actions = new Dictionary<TopicKind, string>();

        foreach (var (name, operation) in Entries(GetMap(document, "operations")))
        {
            var channelRef = GetString(GetMap(operation, "channel"), "$ref");
            var address = GetString(Resolve(document, channelRef), "address");
            var kind = topics.Parse(address.Replace("{readerId}", "r", StringComparison.Ordinal).Replace("{doorId}", "d", StringComparison.Ordinal)
                .Replace("{panelId}", "p", StringComparison.Ordinal)).Kind;
            var action = GetString(operation, "action");
            Assert.True(actions.TryAdd(kind, action), $"operation '{name}': a second operation on {kind}");
            Assert.Equal(serviceReceives.Contains(kind) ? "receive" : "send", action); // decisions, reader and door commands, alarms

            // AsyncAPI 3: an operation's messages must be messages of its channel.
            var messages = Assert.IsType<YamlSequenceNode>(Get(operation, "messages"));
            Assert.All(messages.Children, m => Assert.StartsWith(channelRef + "/messages/", GetString(m, "$ref")));
            var mqtt = GetMap(GetMap(operation, "bindings"), "mqtt");
            Assert.Equal("1", GetString(mqtt, "qos"));

            // As §5 says: statuses are retained; door commands are both (unlock not, release and relock retained), so
            // no one flag may claim them; everything else is not retained.
            var retain = mqtt.Children.TryGetValue(new YamlScalarNode("retain"), out var flag) ? ((YamlScalarNode)flag).Value : null;
            Assert.True(kind switch
            {
                TopicKind.ReaderStatus or TopicKind.DoorStatus => retain == "true",
                TopicKind.DoorCommands => retain is null,
                _ => retain is null or "false",
            }, $"operation '{name}': retain {retain ?? "(none)"} is not what §5 says of {kind}");
        }

        var expected = Enum.GetValues<TopicKind>().Where(k => k != TopicKind.Unknown);
        Assert.Equal(expected.Order(), actions.Keys.Order());
        Assert.Equal("send", actions[TopicKind.ReaderCommands]);
    }

    [Fact]
    public void AsyncApi_MessageExamples_ParseWithWireFormat()
    {
        var document = ReadAsyncApi();
        var count = 0;

        foreach (var (name, kind, example) in AsyncApiExamples(document))
        {
            var parsed = Kinds[kind].Parse(ToJson(example));
            Assert.True(parsed.Success, $"asyncapi message {name}: example {Describe(ToJson(example))} does not parse: {parsed.Error}");
            count++;
        }

        Assert.True(count > 0);
    }

    [Fact]
    public void AsyncApi_Examples_AreTheSameAsTheMarkdownExamples()
    {
        var document = ReadAsyncApi();
        var yamlExamples = AsyncApiExamples(document).Select(e => (e.Kind, Json: Describe(ToJson(e.Payload)))).ToList();
        var markdownExamples = ReadMarkdownExamples().Where(e => !e.Rejected && e.Kind is not null).Select(e => (Kind: e.Kind!, e.Json)).ToList();

        Assert.All(yamlExamples, y => Assert.True(
            markdownExamples.Any(m => m.Kind == y.Kind && JsonEquals(m.Json, y.Json)),
            $"asyncapi example of {y.Kind} is not in reader-protocol.md: {y.Json}"));
        Assert.All(markdownExamples, m => Assert.True(
            yamlExamples.Any(y => y.Kind == m.Kind && JsonEquals(m.Json, y.Json)),
            $"reader-protocol.md example of {m.Kind} is not in asyncapi.yaml: {m.Json}"));
    }

    [Fact]
    public void AsyncApi_InboundSchemas_RequireExactlyWhatTheParserRequires()
    {
        var document = ReadAsyncApi();

        foreach (var (name, kind, example) in AsyncApiExamples(document).Where(e => Kinds[e.Kind].Inbound))
        {
            var schema = PayloadSchema(document, name);
            var json = Describe(ToJson(example));
            var members = MemberNames(ToJson(example));
            var required = RequiredMembers(schema, json);
            AssertDeclared(schema, members, name);

            foreach (var member in members)
            {
                var parsed = Kinds[kind].Parse(Without(json, member));
                if (required.Contains(member))
                {
                    Assert.False(parsed.Success, $"{name}: the schema requires '{member}', but the parser accepts {json} without it");
                }
                else
                {
                    Assert.True(parsed.Success, $"{name}: the schema makes '{member}' optional, but the parser refuses {json} without it: {parsed.Error}");
                }
            }
        }
    }

    [Fact]
    public void AsyncApi_OutboundSchemas_RequireWhatTheServiceAlwaysWrites()
    {
        var document = ReadAsyncApi();

        foreach (var (name, kind, example) in AsyncApiExamples(document).Where(e => !Kinds[e.Kind].Inbound))
        {
            var schema = PayloadSchema(document, name);
            var parsed = Kinds[kind].Parse(ToJson(example));
            Assert.True(parsed.Success, parsed.Error);

            var written = Kinds[kind].Write(parsed.Value!);
            var members = MemberNames(written);
            var required = RequiredMembers(schema, Describe(written));

            Assert.All(required, r => Assert.True(members.Contains(r), $"{name}: the schema requires '{r}', but the service writes {Describe(written)}"));
            AssertDeclared(schema, members, name);
        }
    }

    [Fact]
    public void AsyncApi_ReasonAndAlarmEnums_AreTheCodesOfTheCode()
    {
        var document = ReadAsyncApi();
        var schemas = GetMap(GetMap(document, "components"), "schemas");

        Assert.Equal(AccessReasonCodes.All.Select(r => r.ToCode()), KnownValues(GetMap(schemas, "ReasonCode")));
        Assert.Equal(AlarmTypeCodes().Order(), KnownValues(GetMap(schemas, "AlarmType")).Order());
    }

    [Fact]
    public void AsyncApi_TypeAndCommandEnums_AreTheValuesOfTheCode()
    {
        var document = ReadAsyncApi();
        var schemas = GetMap(GetMap(document, "components"), "schemas");
        IEnumerable<string> EnumOf(string schema, string member) => Strings(Get(GetMap(GetMap(GetMap(schemas, schema), "properties"), member), "enum"));

        Assert.Equal(ReaderEventTypeCodes().Order(), EnumOf("ReaderEvent", "type").Order());
        Assert.Equal(new[] { "deny", "grant", "pending" }, EnumOf("Decision", "decision").Order());
        Assert.Equal(ReaderCommandCodes().Order(), KnownValues(GetMap(GetMap(GetMap(schemas, "ReaderCommand"), "properties"), "command")).Order());
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    /// <summary>The <c>type</c> the service's writer puts on the wire for each <see cref="ReaderEventType"/>.</summary>
    private static IEnumerable<string> ReaderEventTypeCodes() =>
        Enum.GetValues<ReaderEventType>().Select(type =>
        {
            var written = WireFormat.Write(new ReaderEvent("e-1", 1, NodaTime.Instant.FromUnixTimeSeconds(0), type, null, null, false, null));
            return System.Text.Json.Nodes.JsonNode.Parse(written)!["type"]!.GetValue<string>();
        });

    private static IEnumerable<string> ReaderCommandCodes() =>
        typeof(ReaderCommands).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!);

    private static IEnumerable<string> AlarmTypeCodes() =>
        typeof(AlarmTypes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!);

    /// <summary>Every example payload of every component message, with the message's marker kind.</summary>
    private static IEnumerable<(string Name, string Kind, YamlNode Payload)> AsyncApiExamples(YamlMappingNode document)
    {
        var messages = GetMap(GetMap(document, "components"), "messages");
        Assert.Equal(KindOfAsyncApiMessage.Keys.Order(), Entries(messages).Select(e => e.Key).Order());

        foreach (var (name, message) in Entries(messages))
        {
            var examples = Assert.IsType<YamlSequenceNode>(Get(message, "examples"));
            Assert.NotEmpty(examples.Children);
            foreach (var example in examples.Children)
            {
                yield return (name, KindOfAsyncApiMessage[name], Get(example, "payload") ?? throw new Xunit.Sdk.XunitException($"{name}: an example without payload"));
            }
        }

        // Channel messages must be references to these components, so that nothing escapes the checks above.
        foreach (var (channelName, channel) in Entries(GetMap(document, "channels")))
        {
            var channelMessages = Assert.IsType<YamlMappingNode>(Get(channel, "messages") ?? throw new Xunit.Sdk.XunitException($"channel '{channelName}' has no messages"));
            foreach (var (_, message) in Entries(channelMessages))
            {
                Assert.StartsWith("#/components/messages/", GetString(message, "$ref"));
            }
        }
    }

    private static YamlMappingNode PayloadSchema(YamlMappingNode document, string messageName)
    {
        var message = GetMap(GetMap(GetMap(document, "components"), "messages"), messageName);
        return Assert.IsType<YamlMappingNode>(Deref(document, GetMap(message, "payload")));
    }

    /// <summary>The schema's <c>required</c>, plus the <c>then.required</c> of each <c>allOf</c> item whose <c>if</c> (a const on a member) matches the payload.</summary>
    private static HashSet<string> RequiredMembers(YamlMappingNode schema, string json)
    {
        var payload = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        var required = Strings(Get(schema, "required")).ToHashSet();
        if (Get(schema, "allOf") is YamlSequenceNode allOf)
        {
            foreach (var item in allOf.Children)
            {
                var condition = GetMap(GetMap(item, "if"), "properties");
                var matches = Entries(condition).All(c => payload[c.Key]?.ToString() == GetString(c.Value, "const"));
                if (matches)
                {
                    required.UnionWith(Strings(Get(GetMap(item, "then"), "required")));
                }
            }
        }

        Assert.All(required, r => Assert.NotNull(Get(GetMap(schema, "properties"), r)));
        return required;
    }

    private static void AssertDeclared(YamlMappingNode schema, IEnumerable<string> members, string name)
    {
        var properties = GetMap(schema, "properties");
        Assert.All(members, m => Assert.True(Get(properties, m) is not null, $"{name}: member '{m}' is used but not declared in the schema"));
    }

    private static IEnumerable<string> KnownValues(YamlMappingNode openEnum)
    {
        var anyOf = Assert.IsType<YamlSequenceNode>(Get(openEnum, "anyOf"));
        return Strings(Get(anyOf.Children[0], "enum"));
    }

    private static IEnumerable<string> Strings(YamlNode? node) =>
        node is YamlSequenceNode sequence ? sequence.Children.Select(c => ((YamlScalarNode)c).Value ?? "") : [];

    private static void CollectReferences(YamlNode node, List<string> references)
    {
        switch (node)
        {
            case YamlMappingNode map:
                foreach (var (key, value) in Entries(map))
                {
                    if (key == "$ref")
                    {
                        references.Add(((YamlScalarNode)value).Value!);
                    }
                    else
                    {
                        CollectReferences(value, references);
                    }
                }

                break;
            case YamlSequenceNode sequence:
                foreach (var item in sequence.Children)
                {
                    CollectReferences(item, references);
                }

                break;
        }
    }
}

using System.Text;
using AccessControl.Broker;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>What reaches the service that a well-behaved reader would not send, and redeliveries.</summary>
public class WireRobustnessTests
{
    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-SI-10")]
    public async Task MalformedPayload_IsDeniedLoggedAndTheServiceKeepsDeciding(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var (raw, decisions) = await LobbyReaderAsync(edge);
        string[] payloads =
        [
            "not json at all",
            "{\"eventId\":\"bad-1\",\"seq\":\"one\",\"at\":\"2026-12-01T09:00:00Z\",\"type\":\"card\"}",
            "{\"eventId\":\"bad-2\",\"seq\":1,\"at\":\"2026-12-01T09:00:00Z\",\"type\":\"card\",\"card\":\"XYZ\",\"technology\":\"desfire-ev3\"}",
            "[1,2,3]",
            new string('[', 200),
        ];

        foreach (var payload in payloads)
        {
            await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-lobby-in"))
                .WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        var replies = new List<DecisionMessage>();
        for (var i = 0; i < payloads.Length; i++)
        {
            replies.Add(await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        Assert.All(replies, d => Assert.Equal("malformed_event", d.Reason));
        Assert.All(replies, d => Assert.False(d.Grant));
        Assert.Contains(replies, d => d.EventId == "bad-1");
        Assert.Contains(replies, d => d.EventId == "bad-2");
        Assert.Equal(payloads.Length, edge.Rows(new LogFilter { Kind = LogKinds.Malformed }).Count);

        // And the service is still deciding.
        var reader = await edge.ReaderAsync("rdr-lobby-out");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-SI-10")]
    public async Task AFingerprintMatchWithANullTemplateId_IsMalformed_AndDeniedUnderItsEventId(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var (raw, decisions) = await LobbyReaderAsync(edge);
        var at = WireFormat.FormatInstant(edge.Clock.GetCurrentInstant());

        await PublishAsync(raw, edge.Edge.Topics.ReaderEvents("rdr-lobby-in"),
            $$"""{"eventId":"fp-null-1","seq":1,"at":"{{at}}","type":"fingerprint_match","requestId":"r1","score":97,"templateId":null}""");
        var answer = await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(("fp-null-1", false, "malformed_event"), (answer.EventId, answer.Grant, answer.Reason));
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Malformed }));
        Assert.Contains("templateId must be a string, not Null", row.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-AU-10")]
    public async Task Redelivery_SameEventIdGetsTheOriginalDecisionAndNoSecondRow(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var raw = await edge.RawClientAsync("rdr-dh1-in");
        var decisions = await edge.DecisionsAsync(raw, "rdr-dh1-in");
        var swipe = WireFormat.Write(new ReaderEvent("swipe-1", 7, edge.Clock.GetCurrentInstant(), ReaderEventType.Card, Operator, Ev3, false, null));

        async Task<DecisionMessage> SendAsync()
        {
            await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-dh1-in"))
                .WithPayload(swipe).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            return await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        }

        var first = await SendAsync();
        var second = await SendAsync();   // a redelivery: had it been decided again, hard anti-passback would deny it
        edge.Edge.Configuration.UpdateCardholders(c => c.With(c.Credentials[Operator] with { Status = People.CredentialStatus.Revoked }));
        var third = await SendAsync();    // still the original answer, even after the card was revoked

        Assert.Equal(first, second);
        Assert.Equal(first, third);
        Assert.True(first.Grant);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access }));
    }

    [Fact]
    [Trait("control", "NIST-SI-4")]
    [Trait("control", "NIST-SI-10")]
    public async Task MalformedReaderEvent_IsDenied_AndRaisesTheMalformedEventAlarm_InTheSameCommit()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var raw = await edge.RawClientAsync("rdr-lobby-in");
        var decisions = await edge.DecisionsAsync(raw, "rdr-lobby-in");

        await PublishAsync(raw, edge.Edge.Topics.ReaderEvents("rdr-lobby-in"),
            "{\"eventId\":\"bad-1\",\"seq\":1,\"at\":\"2026-12-01T09:00:00Z\",\"type\":\"card\",\"card\":\"XYZ\",\"technology\":\"desfire-ev3\"}");
        var answer = await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(("bad-1", "malformed_event"), (answer.EventId, answer.Reason));
        // The decision is published only after its batch committed; the alarm staged with it is in the log by now.
        var alarm = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.MalformedEvent }));
        Assert.Equal(("rdr-lobby-in", "door-lobby"), (alarm.ReaderId, alarm.DoorId));
        Assert.Contains("eventId bad-1", alarm.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("XYZ", alarm.Detail, StringComparison.Ordinal); // the error and the size, never the payload
    }

    [Fact]
    [Trait("control", "NIST-SI-4")]
    [Trait("control", "NIST-SI-10")]
    public async Task MalformedDoorEvent_RaisesTheMalformedEventAlarm()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var controller = await edge.RawClientAsync("ctl-lobby");
        var alarms = await edge.AlarmsAsync();

        await PublishAsync(controller, edge.Edge.Topics.DoorEvents("door-lobby"), "{\"eventId\":\"d-1\",\"seq\":1,\"at\":\"2026-12-01T09:00:00Z\",\"type\":\"slammed\"}");
        await TamperMarkerAsync(edge, await edge.RawClientAsync("rdr-lobby-out"));
        var seen = await AlarmsUntilTamperAsync(alarms);

        var alarm = Assert.Single(seen, a => a.Type == AlarmTypes.MalformedEvent);
        Assert.Equal(("door-lobby", null), (alarm.DoorId, alarm.ReaderId));
    }

    /// <summary>
    /// A payload nested deeper than §4 allows is malformed, but it is valid JSON, and §7.6 answers under the eventId of
    /// valid JSON ("even one over the size limit"): without it the reader cannot drop the event, and each re-send would be
    /// a new row.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-SI-10")]
    public async Task AnEventNestedDeeperThanAllowed_IsAnsweredUnderItsEventId_AndItsResendIsADuplicate_NeitherLoggedNorAlarmedAgain()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var at = WireFormat.FormatInstant(edge.Clock.GetCurrentInstant());

        // A diagnostic member (§12) that takes the event to 9 levels, the top-level object counting as 1.
        var diag = string.Concat(Enumerable.Repeat("{\"d\":", 7)) + "{}" + new string('}', 7);
        var deep = $$"""{"eventId":"deep-1","seq":1,"at":"{{at}}","type":"card","card":"{{Operator}}","technology":"{{Ev3}}","diag":{{diag}}}""";
        var (answer, resent, seen) = await SentTwiceAsync(edge, deep);

        Assert.Equal(("deep-1", "malformed_event", false), (answer.EventId, answer.Reason, answer.Grant));
        Assert.Equal(answer, resent);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Malformed }));
        Assert.Equal("deep-1", row.EventId);
        Assert.Contains("depth of 8", row.Detail, StringComparison.Ordinal);
        Assert.Single(seen, a => a.Type == AlarmTypes.MalformedEvent);
    }

    /// <summary>
    /// §4: a payload is UTF-8. Bytes that are not, in a member the service would otherwise ignore, make the card event
    /// malformed: it is denied under its eventId (so the reader drops it), never decided on the members that did read.
    /// </summary>
    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-SI-10")]
    public async Task ACardEventWithBytesThatAreNotUtf8InAnUnknownMember_IsDeniedMalformedUnderItsEventId_NotDecided(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var (raw, decisions) = await LobbyReaderAsync(edge);
        var at = WireFormat.FormatInstant(edge.Clock.GetCurrentInstant());
        byte[] payload =
        [
            .. Encoding.UTF8.GetBytes($$"""{"eventId":"utf8-1","seq":1,"at":"{{at}}","type":"card","card":"{{Operator}}","technology":"{{Ev3}}","fw":"2."""),
            0xC0, 0xAF, // an overlong '/', never valid UTF-8
            .. "\"}"u8,
        ];

        await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-lobby-in"))
            .WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(EdgeHarness.Timeout);
        var answer = await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(("utf8-1", "malformed_event", false), (answer.EventId, answer.Reason, answer.Grant));
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Malformed }));
        Assert.Contains("not valid UTF-8", row.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Access }));
    }

    /// <summary>
    /// A card named twice in one event: which one the service would read (the last) is not what every reader of the
    /// payload says (a broker plugin, a capture, the firmware's own log read the first). It is malformed, denied under its
    /// eventId (so the reader drops it and a re-send is a duplicate), never decided on either card.
    /// </summary>
    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-SI-10")]
    public async Task ACardEventNamingItsCardTwice_IsDeniedMalformedUnderItsEventId_NotDecidedOnEitherCard(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var (raw, decisions) = await LobbyReaderAsync(edge);
        var at = WireFormat.FormatInstant(edge.Clock.GetCurrentInstant());

        await PublishAsync(raw, edge.Edge.Topics.ReaderEvents("rdr-lobby-in"),
            $$"""{"eventId":"twice-1","seq":1,"at":"{{at}}","type":"card","card":"0000000001","technology":"{{Ev3}}","card":"{{Operator}}"}""");
        var answer = await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(("twice-1", "malformed_event", false), (answer.EventId, answer.Reason, answer.Grant));
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Malformed }));
        Assert.Equal("twice-1", row.EventId);
        Assert.Contains("member card is given more than once", row.Detail, StringComparison.Ordinal);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Access }));
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    [Trait("control", "NIST-SI-4")]
    public async Task ADeviceSendingGarbage_RaisesOneMalformedEventAlarmAMinute_AndEveryPayloadIsStillLoggedAndAnswered()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var raw = await edge.RawClientAsync("rdr-lobby-in");
        var decisions = await edge.DecisionsAsync(raw, "rdr-lobby-in");
        var alarms = await edge.AlarmsAsync();
        var marker = await edge.RawClientAsync("rdr-lobby-out");

        async Task GarbageAsync(int times)
        {
            for (var i = 0; i < times; i++)
            {
                await PublishAsync(raw, edge.Edge.Topics.ReaderEvents("rdr-lobby-in"), "not json at all");
                Assert.Equal("malformed_event", (await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout)).Reason);
            }
        }

        await GarbageAsync(5);
        await TamperMarkerAsync(edge, marker);
        var firstMinute = await AlarmsUntilTamperAsync(alarms);
        edge.Clock.Advance(Duration.FromMinutes(1));
        await GarbageAsync(2);
        await TamperMarkerAsync(edge, marker, "t-2", 2);
        var secondMinute = await AlarmsUntilTamperAsync(alarms);

        Assert.Single(firstMinute, a => a.Type == AlarmTypes.MalformedEvent);
        Assert.Single(secondMinute, a => a.Type == AlarmTypes.MalformedEvent);
        Assert.Equal(7, edge.Rows(new LogFilter { Kind = LogKinds.Malformed }).Count);
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.MalformedEvent }).Count);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-SI-10")]
    public async Task AnEventOverThePayloadLimit_IsAnsweredUnderItsEventId_AndItsResendIsADuplicate_NeitherLoggedNorAlarmedAgain(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var at = WireFormat.FormatInstant(edge.Clock.GetCurrentInstant());

        // A card event with a member the firmware added for diagnostics (§12), which takes it over 4096 bytes.
        var oversized = $$"""{"eventId":"big-1","seq":1,"at":"{{at}}","type":"card","card":"{{Operator}}","technology":"{{Ev3}}","diag":"{{new string('x', 4200)}}"}""";
        var (answer, resent, seen) = await SentTwiceAsync(edge, oversized);

        Assert.Equal(("big-1", "malformed_event", false), (answer.EventId, answer.Reason, answer.Grant));
        Assert.Equal(answer, resent);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Malformed }));
        Assert.Equal("big-1", row.EventId);
        Assert.Contains("exceeds the limit of 4096 bytes", row.Detail, StringComparison.Ordinal);
        var alarm = Assert.Single(seen, a => a.Type == AlarmTypes.MalformedEvent);
        Assert.Contains("eventId big-1", alarm.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task AHeaderAnnouncingAHugePacket_BeforeAnyLogin_IsClosedUnread_Logged_AndReadersStillGetDecisions()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-out");
        using var stranger = await RawMqttSocket.OpenAsync(edge.BrokerPort);

        await stranger.SendAsync(RawMqttSocket.Header(RawMqttSocket.Connect, RawMqttSocket.LargestRemainingLength));
        await stranger.ClosedByServerAsync();

        Assert.Equal(5, stranger.BytesSent);
        var refused = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == SecurityEvent.ConnectionClosed);
        Assert.True(string.IsNullOrEmpty(refused.Actor));
        Assert.Contains("CONNECT packet of 268435460 bytes before login exceeds the limit of 8192 bytes", refused.Detail, StringComparison.Ordinal);
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task AReaderSendingAPacketOverTheLimit_IsDisconnectedUnread_LoggedAsThatReader_AndOthersStillGetDecisions()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var other = await edge.ReaderAsync("rdr-lobby-out");
        using var reader = await RawMqttSocket.LoginAsync(edge.BrokerPort, "rdr-lobby-in", edge.Secrets.For("rdr-lobby-in"));
        var loggedIn = reader.BytesSent;

        await reader.SendAsync(RawMqttSocket.HeaderOfSize(RawMqttSocket.PublishQos1, 16 * 1024 * 1024));
        await reader.ClosedByServerAsync();

        Assert.Equal(5, reader.BytesSent - loggedIn);
        var refused = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == SecurityEvent.PacketRefused);
        Assert.Equal("rdr-lobby-in", refused.Actor);
        Assert.Contains($"PUBLISH packet of {16 * 1024 * 1024} bytes", refused.Detail, StringComparison.Ordinal);
        Assert.True((await other.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
    }

    /// <summary>The lobby's entry reader as a raw client, with the channel of its decisions.</summary>
    private static async Task<(IMqttClient Raw, System.Threading.Channels.Channel<DecisionMessage> Decisions)> LobbyReaderAsync(EdgeHarness edge)
    {
        var raw = await edge.RawClientAsync("rdr-lobby-in");
        return (raw, await edge.DecisionsAsync(raw, "rdr-lobby-in"));
    }

    /// <summary>
    /// Sends a malformed event from rdr-lobby-in, and again two minutes later (past the malformed alarm's minute: a re-send
    /// would alarm again if it were new), then the alarms up to a tamper marker from rdr-lobby-out.
    /// </summary>
    private static async Task<(DecisionMessage Answer, DecisionMessage Resent, List<AlarmMessage> Alarms)> SentTwiceAsync(EdgeHarness edge, string payload)
    {
        var (raw, decisions) = await LobbyReaderAsync(edge);
        var alarms = await edge.AlarmsAsync();
        await PublishAsync(raw, edge.Edge.Topics.ReaderEvents("rdr-lobby-in"), payload);
        var answer = await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        edge.Clock.Advance(Duration.FromMinutes(2));
        await PublishAsync(raw, edge.Edge.Topics.ReaderEvents("rdr-lobby-in"), payload);
        var resent = await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        await TamperMarkerAsync(edge, await edge.RawClientAsync("rdr-lobby-out"));
        return (answer, resent, await AlarmsUntilTamperAsync(alarms));
    }

    private static async Task PublishAsync(IMqttClient client, string topic, string payload) =>
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(EdgeHarness.Timeout);

    /// <summary>A tamper from another reader: an alarm the service certainly raises, after whatever came before it.</summary>
    private static async Task TamperMarkerAsync(EdgeHarness edge, IMqttClient reader, string eventId = "t-1", int seq = 1)
    {
        var at = WireFormat.FormatInstant(edge.Clock.GetCurrentInstant());
        await PublishAsync(reader, edge.Edge.Topics.ReaderEvents("rdr-lobby-out"), $"{{\"eventId\":\"{eventId}\",\"seq\":{seq},\"at\":\"{at}\",\"type\":\"tamper\"}}");
    }

    private static async Task<List<AlarmMessage>> AlarmsUntilTamperAsync(System.Threading.Channels.Channel<AlarmMessage> alarms)
    {
        var seen = new List<AlarmMessage>();
        while (seen.Count == 0 || seen[^1].Type != AlarmTypes.Tamper)
        {
            seen.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        return seen;
    }
}

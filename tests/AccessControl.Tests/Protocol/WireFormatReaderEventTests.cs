using System.Buffers;
using AccessControl.Protocol;
using NodaTime;
using static AccessControl.Tests.Protocol.Json;

namespace AccessControl.Tests.Protocol;

public class WireFormatReaderEventTests
{
    private static readonly Instant At = Instant.FromUtc(2026, 11, 28, 9, 15, 2) + Duration.FromMilliseconds(123);

    // ---- the issue's examples ---------------------------------------------------------------------

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void ParseReaderEvent_CardExample_ReadsEveryField()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-1","seq":42,"at":"2026-11-28T09:15:02.123Z","type":"card","card":"04A1B2C3D4E5F6","technology":"desfire-ev3"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Null(result.Error);
        Assert.Equal(new ReaderEvent("e-1", 42, At, ReaderEventType.Card, "04A1B2C3D4E5F6", "desfire-ev3", Offline: false, Detail: null), result.Value);
    }

    [Fact]
    public void ParseReaderEvent_TamperExample_ReadsDetailWithoutCard()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-2","seq":43,"at":"2026-11-28T09:16:00Z","type":"tamper","detail":"case opened"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(new ReaderEvent("e-2", 43, Instant.FromUtc(2026, 11, 28, 9, 16), ReaderEventType.Tamper, null, null, false, "case opened"), result.Value);
    }

    [Fact]
    public void ParseReaderEvent_HeartbeatExample_NeedsNoCard()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"hb-7","seq":0,"at":"2026-11-28T09:15:00Z","type":"heartbeat"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(ReaderEventType.Heartbeat, result.Value!.Type);
        Assert.Equal(0, result.Value.Seq);
        Assert.Null(result.Value.Card);
        Assert.Null(result.Value.Technology);
        Assert.False(result.Value.Offline);
    }

    [Fact]
    public void ParseReaderEvent_OfflineReplay_IsMarkedOffline()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-9","seq":50,"at":"2026-11-28T08:00:00.5Z","type":"card","card":"04A1B2C3D4E5F6","technology":"desfire-ev3","offline":true}"""));

        Assert.True(result.Success, result.Error);
        Assert.True(result.Value!.Offline);
        Assert.Equal(Instant.FromUtc(2026, 11, 28, 8, 0) + Duration.FromMilliseconds(500), result.Value.At);
    }

    [Fact]
    public void ParseReaderEvent_OfflineFalse_IsAccepted()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-9","seq":50,"at":"2026-11-28T08:00:00Z","type":"heartbeat","offline":false}"""));

        Assert.True(result.Success, result.Error);
        Assert.False(result.Value!.Offline);
    }

    [Fact]
    public void ParseReaderEvent_UnknownExtraFields_AreTolerated()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"rssi":-40,"eventId":"e-1","seq":42,"at":"2026-11-28T09:15:02.123Z","type":"card","card":"04A1B2C3D4E5F6","technology":"desfire-ev3","vendor":{"model":"RX-9","caps":[1,2,{"x":null}]},"pin":false}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal("04A1B2C3D4E5F6", result.Value!.Card);
    }

    [Theory]
    [InlineData("04:a1:b2:c3:d4:e5:f6")]
    [InlineData("04-A1-B2-C3-D4-E5-F6")]
    [InlineData("04 a1 b2 c3 d4 e5 f6")]
    [InlineData("04a1b2c3d4e5f6")]
    [Trait("control", "PCI-9.2")]
    public void ParseReaderEvent_CardWithSeparatorsOrLowerCase_IsNormalized(string card)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"{{card}}","technology":"mifare-classic"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal("04A1B2C3D4E5F6", result.Value!.Card);
    }

    [Fact]
    public void ParseReaderEvent_SpanOverload_ParsesTheSame()
    {
        var result = WireFormat.ParseReaderEvent(
            """{"eventId":"e-1","seq":42,"at":"2026-11-28T09:15:02.123Z","type":"heartbeat"}"""u8);

        Assert.True(result.Success, result.Error);
        Assert.Equal(42, result.Value!.Seq);
    }

    [Fact]
    public void ParseReaderEvent_MultiSegmentPayload_Parses()
    {
        var bytes = """{"eventId":"e-1","seq":42,"at":"2026-11-28T09:15:02.123Z","type":"heartbeat"}"""u8.ToArray();
        var first = new Segment(bytes.AsMemory(0, 20), 0);
        var last = first.Append(bytes.AsMemory(20));

        var result = WireFormat.ParseReaderEvent(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.True(result.Success, result.Error);
        Assert.Equal("e-1", result.Value!.EventId);
    }

    // ---- rejections ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("", "payload is empty")]
    [InlineData("hello", "payload is not valid JSON")]
    [InlineData("{\"eventId\":\"e-1\",", "payload is not valid JSON")]
    [InlineData("{'eventId':'e-1'}", "payload is not valid JSON")]
    [InlineData("[]", "payload must be a JSON object, not Array")]
    [InlineData("[{\"eventId\":\"e-1\"}]", "payload must be a JSON object, not Array")]
    [InlineData("\"e-1\"", "payload must be a JSON object, not String")]
    [InlineData("42", "payload must be a JSON object, not Number")]
    [InlineData("null", "payload must be a JSON object, not Null")]
    public void ParseReaderEvent_NotAJsonObject_FailsWithReason(string json, string error)
    {
        var result = WireFormat.ParseReaderEvent(Payload(json));

        Assert.False(result.Success);
        Assert.Null(result.Value);
        Assert.StartsWith(error, result.Error);
        Assert.Null(result.EventId);
    }

    /// <summary>
    /// RFC 8259 §4: with a member given twice, readers disagree on which counts. Refused at any depth, answered under the
    /// eventId where it names one event (a re-send is then a duplicate).
    /// </summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"0000000001","technology":"desfire-ev3","card":"04A1B2C3D4E5F6"}""", "card", "e-1")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"tamper","type":"heartbeat"}""", "type", "e-1")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","diag":{"fw":"1","fw":"2"}}""", "fw", "e-1")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","eventId":"e-1"}""", "eventId", "e-1")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","eventId":"e-2"}""", "eventId", null)]
    public void ParseReaderEvent_AMemberGivenTwice_FailsNamingIt_UnderTheEventIdWhereThereIsOne(string json, string member, string? eventId)
    {
        var result = WireFormat.ParseReaderEvent(Payload(json));

        Assert.False(result.Success);
        Assert.Equal($"payload is not valid JSON: member {member} is given more than once", result.Error);
        Assert.Equal(eventId, result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_NestingDeeperThanEight_Fails()
    {
        // The root object is depth 1; eight more levels in an unknown field make nine.
        var json = """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","x":""" + Nest(8) + "}";

        var result = WireFormat.ParseReaderEvent(Payload(json));

        Assert.False(result.Success);
        Assert.StartsWith("payload is not valid JSON", result.Error);
        Assert.Equal("e-1", result.EventId);   // it is JSON, only too deep: the answer carries its eventId (§7.6)
    }

    [Fact]
    public void ParseReaderEvent_NestingOfExactlyEight_IsTolerated()
    {
        var json = """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","x":""" + Nest(7) + "}";

        Assert.True(WireFormat.ParseReaderEvent(Payload(json)).Success);
    }

    [Fact]
    public void ParseReaderEvent_OverSizeLimit_FailsBeforeParsing()
    {
        var head = """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","pad":" """;
        var atLimit = head + new string('a', WireFormat.DefaultMaxPayloadBytes - head.Length - 2) + "\"}";
        var overLimit = head + new string('a', WireFormat.DefaultMaxPayloadBytes - head.Length - 1) + "\"}";
        Assert.Equal(WireFormat.DefaultMaxPayloadBytes, atLimit.Length);
        Assert.Equal(WireFormat.DefaultMaxPayloadBytes + 1, overLimit.Length);

        Assert.True(WireFormat.ParseReaderEvent(Payload(atLimit)).Success);
        var result = WireFormat.ParseReaderEvent(Payload(overLimit));

        Assert.False(result.Success);
        Assert.Equal("payload of 4097 bytes exceeds the limit of 4096 bytes", result.Error);
        Assert.Equal("e-1", result.EventId); // not parsed, but its eventId read, so that the deny answers the device's event
    }

    [Theory]
    [InlineData("""{"pad":"#","eventId":"e-2"}""", "e-2")]
    [InlineData("""{"eventId":"e-1","pad":{"a":["#",{"b":1}]},"eventId":"e-2"}""", null)] // two eventIds: no event to answer
    [InlineData("""{"eventId":"e-2","pad":{"a":["#",{"b":1}]},"eventId":"e-2"}""", "e-2")] // given twice, the same
    [InlineData("""{"event\u0049d":"e-2","pad":"#"}""", "e-2")]
    [InlineData("""{"eventId":"e 2","pad":"#"}""", null)]   // not a valid id
    [InlineData("""{"eventId":"e-1","eventId":2,"pad":"#"}""", null)]
    [InlineData("""{"eventId":"e-2","pad":"#"} trailing""", null)]   // not valid JSON
    [InlineData("""{"eventId":"e-2","pad":"#""", null)]
    [InlineData("""[{"eventId":"e-2","pad":"#"}]""", null)]
    [InlineData("""{"pad":[[[[[[[[["#"]]]]]]]]],"eventId":"e-2"}""", "e-2")]   // deeper than 8 levels: still valid JSON, answered under its eventId as when not oversized
    public void ParseReaderEvent_OverSizeLimit_EchoesTheEventIdOnlyWhereAParseWouldHaveReadIt(string shape, string? eventId)
    {
        var json = shape.Replace("#", new string('a', WireFormat.DefaultMaxPayloadBytes), StringComparison.Ordinal);

        var result = WireFormat.ParseReaderEvent(Payload(json));

        Assert.StartsWith("payload of ", result.Error, StringComparison.Ordinal);
        Assert.Equal(eventId, result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_CustomSizeLimit_IsApplied()
    {
        var json = """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}""";

        Assert.True(WireFormat.ParseReaderEvent(Payload(json), maxBytes: json.Length).Success);
        Assert.False(WireFormat.ParseReaderEvent(Payload(json), maxBytes: json.Length - 1).Success);
    }

    [Fact]
    public void ParseReaderEvent_InvalidUtf8_FailsInsteadOfThrowing()
    {
        var bytes = """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1","technology":"desfire-ev3","detail":"X"}"""u8.ToArray();
        bytes[Array.LastIndexOf(bytes, (byte)'X')] = 0xFF;

        var result = WireFormat.ParseReaderEvent(new ReadOnlySequence<byte>(bytes));

        Assert.False(result.Success);
        Assert.Equal("payload is not valid UTF-8", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    // §4: the payload is UTF-8, and §7.6: breaking a rule of §4 is malformed, wherever the bad bytes are: in a member the
    // service ignores (a diagnostic field, a heartbeat's card) or in a member's name, too. Answered under the eventId.
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1","technology":"desfire-ev3","fw":"X"}""")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1","technology":"desfire-ev3","X":1}""")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","card":"X"}""")]
    public void ParseReaderEvent_InvalidUtf8InAMemberTheServiceIgnores_IsMalformed_AndEchoesTheEventId(string json)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);
        bytes[Array.LastIndexOf(bytes, (byte)'X')] = 0xC3; // a lead byte followed by '"': not UTF-8

        var result = WireFormat.ParseReaderEvent(new ReadOnlySequence<byte>(bytes));

        Assert.Equal((false, "payload is not valid UTF-8", "e-1"), (result.Success, result.Error, result.EventId));
    }

    // §4 forbids a byte-order mark, so the payload is malformed; but its eventId is as readable as behind bad bytes in
    // another member (§7.6), and only an answer under it lets the reader drop the event instead of re-sending it for ever.
    [Fact]
    [Trait("control", "NIST-SI-10")]
    public void ParseReaderEvent_LeadingByteOrderMark_IsMalformed_AndEchoesTheEventId()
    {
        byte[] bytes = [0xEF, 0xBB, 0xBF, .. """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}"""u8];

        var result = WireFormat.ParseReaderEvent(new ReadOnlySequence<byte>(bytes));

        Assert.Equal((false, "payload starts with a byte-order mark, which the protocol does not allow", "e-1"), (result.Success, result.Error, result.EventId));
    }

    [Fact]
    public void ParseDeviceStatus_InvalidUtf8InAnUnknownMember_IsMalformed()
    {
        var bytes = """{"state":"online","at":"2026-11-28T09:15:02Z","note":"X"}"""u8.ToArray();
        bytes[Array.LastIndexOf(bytes, (byte)'X')] = 0xFF;

        Assert.Equal("payload is not valid UTF-8", WireFormat.ParseDeviceStatus(new ReadOnlySequence<byte>(bytes)).Error);
    }

    [Theory]
    [InlineData("eventId")]
    [InlineData("detail")]
    public void ParseReaderEvent_EscapedLoneSurrogate_FailsInsteadOfThrowing(string field)
    {
        var json = field == "eventId"
            ? """{"eventId":"e-\uD800","seq":1,"at":"2026-11-28T09:15:02Z","type":"tamper"}"""
            : """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"tamper","detail":"\uDC00 lid"}""";

        var result = WireFormat.ParseReaderEvent(Payload(json));

        Assert.False(result.Success);
        Assert.Equal($"{field} is not valid Unicode text", result.Error);
    }

    [Theory]
    [InlineData("""{"seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}""", "eventId is missing", null)]
    [InlineData("""{"eventId":"e-1","at":"2026-11-28T09:15:02Z","type":"heartbeat"}""", "seq must be a non-negative integer", "e-1")]
    [InlineData("""{"eventId":"e-1","seq":1,"type":"heartbeat"}""", "at is missing", "e-1")]
    [InlineData("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z"}""", "type is missing", "e-1")]
    public void ParseReaderEvent_MissingRequiredField_NamesIt(string json, string error, string? eventId)
    {
        var result = WireFormat.ParseReaderEvent(Payload(json));

        Assert.False(result.Success);
        Assert.Equal(error, result.Error);
        Assert.Equal(eventId, result.EventId);
    }

    [Theory]
    [InlineData("\"42\"")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("1e3")]
    [InlineData("42.0")]
    [InlineData("4.2e1")]
    [InlineData("9223372036854775808")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[42]")]
    public void ParseReaderEvent_SeqNotANonNegativeInteger_FailsWithEventId(string seq)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":{{seq}},"at":"2026-11-28T09:15:02Z","type":"heartbeat"}"""));

        Assert.False(result.Success);
        Assert.Equal("seq must be a non-negative integer", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_SeqAtInt64Max_IsAccepted()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-1","seq":9223372036854775807,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}"""));

        Assert.Equal(long.MaxValue, result.Value!.Seq);
    }

    [Theory]
    [InlineData("\"2026-11-28T09:15:02.123\"")] // no zone designator
    [InlineData("\"2026-11-28T10:15:02.123+01:00\"")] // an offset, not UTC
    [InlineData("\"2026-11-28T09:15:02+00:00\"")] // UTC, but not written Z
    [InlineData("\"2026-11-28T09:15:02,123Z\"")] // §4: fraction digits after a '.' only (ISO 8601 also allows ',')
    [InlineData("\"2026-11-28T09:15:02.Z\"")]
    [InlineData("\"2026-11-28T09:15:02.123z\"")]
    [InlineData("\"2026-11-28T09:15Z\"")] // seconds required
    [InlineData("\"2026-11-28T09:15:02.1234567890Z\"")] // at most 9 fraction digits
    [InlineData("\"2026-11-28 09:15:02Z\"")]
    [InlineData("\"2026-11-28\"")]
    [InlineData("\"2026-13-28T09:15:02Z\"")]
    [InlineData("\"yesterday\"")]
    [InlineData("\"\"")]
    public void ParseReaderEvent_BadInstant_FailsWithEventId(string at)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":1,"at":{{at}},"type":"heartbeat"}"""));

        Assert.False(result.Success);
        Assert.Equal("at must be an RFC 3339 UTC instant such as 2026-11-28T09:15:02.123Z", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_InstantAsUnixNumber_FailsAsWrongType()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-1","seq":1,"at":1795857302123,"type":"heartbeat"}"""));

        Assert.Equal("at must be a string, not Number", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Theory]
    [InlineData("\"door\"", "type 'door' is not one of card, tamper, heartbeat, fingerprint_match")]
    [InlineData("\"Card\"", "type 'Card' is not one of card, tamper, heartbeat, fingerprint_match")]
    [InlineData("\"\"", "type '' is not one of card, tamper, heartbeat, fingerprint_match")]
    [InlineData("1", "type must be a string, not Number")]
    public void ParseReaderEvent_UnknownType_FailsWithEventId(string type, string error)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":{{type}}}"""));

        Assert.Equal(error, result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Theory]
    [Trait("control", "PCI-9.2")]
    [InlineData("\"04G1B2\"", "card must be 2 to 32 hexadecimal digits")]
    [InlineData("\"0x04A1\"", "card must be 2 to 32 hexadecimal digits")]
    [InlineData("\"4\"", "card must be 2 to 32 hexadecimal digits")]
    [InlineData("\"\"", "card must be 2 to 32 hexadecimal digits")]
    [InlineData("\"04A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D\"", "card must be 2 to 32 hexadecimal digits")] // 33 digits
    [InlineData("\"04A1\\n\"", "card must be 2 to 32 hexadecimal digits")] // trailing newline
    [InlineData("\"\\uFF10\\uFF14\"", "card must be 2 to 32 hexadecimal digits")] // full-width digits
    [InlineData("1234", "card must be a string, not Number")]
    public void ParseReaderEvent_BadCard_FailsWithEventId(string card, string error)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":{{card}},"technology":"desfire-ev3"}"""));

        Assert.False(result.Success);
        Assert.Equal(error, result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void ParseReaderEvent_CardOfExactly32Digits_IsAccepted()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5","technology":"desfire-ev3"}"""));

        Assert.True(result.Success, result.Error);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void ParseReaderEvent_CardEventWithoutCard_Fails()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","technology":"desfire-ev3"}"""));

        Assert.Equal("card is missing", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Theory]
    [Trait("control", "PCI-9.2")]
    [InlineData("\"DESFire-EV3\"")]
    [InlineData("\"desfire ev3\"")]
    [InlineData("\"-desfire\"")]
    [InlineData("\"\"")]
    [InlineData("\"desfire-ev3\\n\"")]
    [InlineData("\"abcdefghijklmnopqrstuvwxyz0123456\"")] // 33 characters
    [InlineData("null")]
    public void ParseReaderEvent_BadTechnology_Fails(string technology)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1","technology":{{technology}}}"""));

        Assert.False(result.Success);
        Assert.NotNull(result.Error);
        Assert.Contains("technology", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    public void ParseReaderEvent_CardEventWithoutTechnology_Fails()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1"}"""));

        Assert.Equal("technology is missing", result.Error);
    }

    public static TheoryData<string> BadEventIds =>
    [
        "e 1",
        " e-1",
        "",
        new string('e', 65),
        "e-1\n",
        "e-\u00e9",
        "e-\uff11", // full-width digit one
        "e\u200b1", // zero-width space
        "e/1",
        "e+1",
        "e#1",
    ];

    [Theory]
    [MemberData(nameof(BadEventIds))]
    public void ParseReaderEvent_EventIdOutsideAllowedCharacters_FailsWithoutEchoingIt(string eventId)
    {
        var escaped = System.Text.Json.JsonSerializer.Serialize(eventId);
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":{{escaped}},"seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}"""));

        Assert.False(result.Success);
        Assert.Equal("eventId must be 1 to 64 characters of A-Z a-z 0-9 . _ : -", result.Error);
        Assert.Null(result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_EventIdOf64Characters_IsAccepted()
    {
        var id = "A-z0.9_:" + new string('x', 56);
        Assert.Equal(64, id.Length);

        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"{{id}}","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}"""));

        Assert.Equal(id, result.Value!.EventId);
    }

    [Theory]
    [InlineData("42", "eventId must be a string, not Number")]
    [InlineData("null", "eventId must be a string, not Null")]
    public void ParseReaderEvent_EventIdNotAString_Fails(string eventId, string error)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":{{eventId}},"seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}"""));

        Assert.Equal(error, result.Error);
        Assert.Null(result.EventId);
    }

    [Theory]
    [InlineData("\"yes\"")]
    [InlineData("1")]
    [InlineData("null")]
    public void ParseReaderEvent_OfflineNotABoolean_Fails(string offline)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat","offline":{{offline}}}"""));

        Assert.Equal("offline must be true or false", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_DetailTooLong_Fails()
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"tamper","detail":"{{new string('d', 257)}}"}"""));

        Assert.Equal("detail is longer than 256 characters", result.Error);
        Assert.Equal("e-1", result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_InstantWithNineFractionDigits_IsAccepted()
    {
        var result = WireFormat.ParseReaderEvent(Payload("""{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02.123456789Z","type":"heartbeat"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(Instant.FromUtc(2026, 11, 28, 9, 15, 2) + Duration.FromNanoseconds(123_456_789), result.Value!.At);
    }

    [Theory]
    [InlineData("87.0")]
    [InlineData("0.87")]
    [InlineData("8.7e1")]
    [InlineData("101")]
    [InlineData("-1")]
    [InlineData("\"87\"")]
    public void ParseReaderEvent_ScoreNotAnIntegerFrom0To100_FailsWithEventId(string score)
    {
        var result = WireFormat.ParseReaderEvent(Payload(
            $$"""{"eventId":"fp-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"fingerprint_match","requestId":"r1","score":{{score}}}"""));

        Assert.False(result.Success);
        Assert.Equal("fp-1", result.EventId);
    }

    [Fact]
    public void ParseReaderEvent_TemplateIdNull_FailsWithEventId_WhileAnAbsentOneIsAccepted()
    {
        const string Match = """{"eventId":"fp-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"fingerprint_match","requestId":"r1","score":12""";

        var withNull = WireFormat.ParseReaderEvent(Payload(Match + ""","templateId":null}"""));
        var without = WireFormat.ParseReaderEvent(Payload(Match + "}"));

        Assert.Equal(("templateId must be a string, not Null", "fp-1"), (withNull.Error, withNull.EventId));
        Assert.True(without.Success, without.Error);
        Assert.Null(without.Value!.TemplateId);
    }

    [Fact]
    public void ParseReaderEvent_ByteOrderMark_Fails()
    {
        var body = """{"eventId":"e-1","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}"""u8;

        Assert.False(WireFormat.ParseReaderEvent(new ReadOnlySequence<byte>([0xEF, 0xBB, 0xBF, .. body])).Success);
    }

    private static string Nest(int levels) => string.Concat(Enumerable.Repeat("{\"x\":", levels - 1)) + "{}" + new string('}', levels - 1);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

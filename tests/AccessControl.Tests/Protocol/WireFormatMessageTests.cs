using AccessControl.Protocol;
using NodaTime;
using static AccessControl.Tests.Protocol.Json;

namespace AccessControl.Tests.Protocol;

/// <summary>Status, door events and the service's own messages, pinned against literal JSON.</summary>
public class WireFormatMessageTests
{
    private static readonly Instant At = Instant.FromUtc(2026, 11, 28, 9, 15, 2) + Duration.FromMilliseconds(123);

    // ---- device status ------------------------------------------------------------------------------

    [Fact]
    public void ParseDeviceStatus_OnlineWithFirmware_ReadsAll()
    {
        var result = WireFormat.ParseDeviceStatus(Payload("""{"state":"online","at":"2026-11-28T09:15:02.123Z","firmware":"rdr-2.4.1"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(new DeviceStatus(DeviceState.Online, At, "rdr-2.4.1"), result.Value);
    }

    [Fact]
    public void ParseDeviceStatus_OfflineLastWillWithoutFirmware_ReadsNullFirmware()
    {
        var result = WireFormat.ParseDeviceStatus(Payload("""{"state":"offline","at":"2026-11-28T09:15:02.123Z"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(new DeviceStatus(DeviceState.Offline, At, null), result.Value);
    }

    [Theory]
    [InlineData("""{"state":"sleeping","at":"2026-11-28T09:15:02Z"}""", "state must be online or offline")]
    [InlineData("""{"state":"ONLINE","at":"2026-11-28T09:15:02Z"}""", "state must be online or offline")]
    [InlineData("""{"at":"2026-11-28T09:15:02Z"}""", "state is missing")]
    [InlineData("""{"state":true,"at":"2026-11-28T09:15:02Z"}""", "state must be a string, not True")]
    [InlineData("""{"state":"online"}""", "at is missing")]
    [InlineData("""{"state":"online","at":"2026-11-28T09:15:02"}""", "at must be an RFC 3339 UTC instant such as 2026-11-28T09:15:02.123Z")]
    [InlineData("""{"state":"online","at":"2026-11-28T09:15:02Z","firmware":2}""", "firmware must be a string, not Number")]
    [InlineData("""["online"]""", "payload must be a JSON object, not Array")]
    public void ParseDeviceStatus_Invalid_FailsWithReason(string json, string error)
    {
        var result = WireFormat.ParseDeviceStatus(Payload(json));

        Assert.False(result.Success);
        Assert.Equal(error, result.Error);
    }

    [Fact]
    public void ParseDeviceStatus_FirmwareLongerThan64_Fails()
    {
        var result = WireFormat.ParseDeviceStatus(Payload(
            $$"""{"state":"online","at":"2026-11-28T09:15:02Z","firmware":"{{new string('f', 65)}}"}"""));

        Assert.Equal("firmware is longer than 64 characters", result.Error);
    }

    [Fact]
    public void WriteDeviceStatus_MatchesLiteralJson()
    {
        Assert.Equal(
            """{"state":"online","at":"2026-11-28T09:15:02.123Z","firmware":"rdr-2.4.1"}""",
            Text(WireFormat.Write(new DeviceStatus(DeviceState.Online, At, "rdr-2.4.1"))));
        Assert.Equal(
            """{"state":"offline","at":"2026-11-28T09:15:02.123Z"}""",
            Text(WireFormat.Write(new DeviceStatus(DeviceState.Offline, At, null))));
    }

    // ---- door events --------------------------------------------------------------------------------

    [Theory]
    [InlineData("opened", DoorEventType.Opened)]
    [InlineData("closed", DoorEventType.Closed)]
    [InlineData("exit_request", DoorEventType.ExitRequest)]
    [InlineData("heartbeat", DoorEventType.Heartbeat)]
    [Trait("control", "NIST-PE-3")]
    public void ParseDoorEvent_EveryType_Reads(string type, DoorEventType expected)
    {
        var result = WireFormat.ParseDoorEvent(Payload(
            $$"""{"eventId":"d-7","seq":7,"at":"2026-11-28T09:15:02.123Z","type":"{{type}}"}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(new DoorEvent("d-7", 7, At, expected, Offline: false), result.Value);
    }

    [Fact]
    public void ParseDoorEvent_OfflineReplay_IsMarkedOffline()
    {
        var result = WireFormat.ParseDoorEvent(Payload(
            """{"eventId":"d-8","seq":8,"at":"2026-11-28T09:15:02.123Z","type":"opened","offline":true,"sensor":"dps-1"}"""));

        Assert.True(result.Success, result.Error);
        Assert.True(result.Value!.Offline);
    }

    [Theory]
    [InlineData("""{"eventId":"d-7","seq":7,"at":"2026-11-28T09:15:02Z","type":"forced"}""", "type 'forced' is not one of opened, closed, exit_request, heartbeat", "d-7")]
    [InlineData("""{"eventId":"d-7","seq":7,"at":"2026-11-28T09:15:02Z","type":"card"}""", "type 'card' is not one of opened, closed, exit_request, heartbeat", "d-7")]
    [InlineData("""{"eventId":"d-7","seq":"7","at":"2026-11-28T09:15:02Z","type":"opened"}""", "seq must be a non-negative integer", "d-7")]
    [InlineData("""{"eventId":"d 7","seq":7,"at":"2026-11-28T09:15:02Z","type":"opened"}""", "eventId must be 1 to 64 characters of A-Z a-z 0-9 . _ : -", null)]
    [InlineData("""{"seq":7,"at":"2026-11-28T09:15:02Z","type":"opened"}""", "eventId is missing", null)]
    public void ParseDoorEvent_Invalid_FailsWithReasonAndReadableEventId(string json, string error, string? eventId)
    {
        var result = WireFormat.ParseDoorEvent(Payload(json));

        Assert.False(result.Success);
        Assert.Equal(error, result.Error);
        Assert.Equal(eventId, result.EventId);
    }

    [Fact]
    public void WriteDoorEvent_MatchesLiteralJson()
    {
        Assert.Equal(
            """{"eventId":"d-7","seq":7,"at":"2026-11-28T09:15:02.123Z","type":"exit_request"}""",
            Text(WireFormat.Write(new DoorEvent("d-7", 7, At, DoorEventType.ExitRequest, false))));
        Assert.Equal(
            """{"eventId":"d-8","seq":8,"at":"2026-11-28T09:15:02.123Z","type":"opened","offline":true}""",
            Text(WireFormat.Write(new DoorEvent("d-8", 8, At, DoorEventType.Opened, true))));
    }

    // ---- reader events written by the simulator ---------------------------------------------------

    [Fact]
    public void WriteReaderEvent_CardExample_IsTheLiteralFromTheIssue()
    {
        var e = new ReaderEvent("e-1", 42, At, ReaderEventType.Card, "04A1B2C3D4E5F6", "desfire-ev3", false, null);

        Assert.Equal(
            """{"eventId":"e-1","seq":42,"at":"2026-11-28T09:15:02.123Z","type":"card","card":"04A1B2C3D4E5F6","technology":"desfire-ev3"}""",
            Text(WireFormat.Write(e)));
    }

    [Fact]
    public void WriteReaderEvent_TamperAndOffline_MatchesLiteralJson()
    {
        Assert.Equal(
            """{"eventId":"e-2","seq":43,"at":"2026-11-28T09:15:02.123Z","type":"tamper","detail":"case opened"}""",
            Text(WireFormat.Write(new ReaderEvent("e-2", 43, At, ReaderEventType.Tamper, null, null, false, "case opened"))));
        Assert.Equal(
            """{"eventId":"hb-1","seq":44,"at":"2026-11-28T09:15:02.123Z","type":"heartbeat","offline":true}""",
            Text(WireFormat.Write(new ReaderEvent("hb-1", 44, At, ReaderEventType.Heartbeat, null, null, true, null))));
    }

    // ---- decisions, door commands, alarms ----------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void WriteDecision_Grant_MatchesLiteralJson()
    {
        var message = new DecisionMessage("e-1", Grant: true, "granted", "dc1-hall-a-door", 5);

        Assert.Equal(
            """{"eventId":"e-1","decision":"grant","reason":"granted","doorId":"dc1-hall-a-door","unlockSeconds":5}""",
            Text(WireFormat.Write(message)));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void WriteDecision_DenyOfUnreadableEvent_WritesNullEventIdAndNoDoor()
    {
        var message = new DecisionMessage(null, Grant: false, "malformed_event", null, 0);

        Assert.Equal(
            """{"eventId":null,"decision":"deny","reason":"malformed_event","unlockSeconds":0}""",
            Text(WireFormat.Write(message)));
    }

    [Fact]
    public void ParseDecision_LiteralJson_Reads()
    {
        var result = WireFormat.ParseDecision(Payload(
            """{"eventId":"e-1","decision":"deny","reason":"outside_schedule","doorId":"dc1-hall-a-door","unlockSeconds":0}"""));

        Assert.True(result.Success, result.Error);
        Assert.Equal(new DecisionMessage("e-1", false, "outside_schedule", "dc1-hall-a-door", 0), result.Value);
    }

    [Theory]
    [InlineData("""{"eventId":"e-1","decision":"maybe","reason":"granted"}""", "decision must be grant, deny or pending", "e-1")]
    [InlineData("""{"eventId":"e-1","reason":"granted"}""", "decision is missing", "e-1")]
    [InlineData("""{"eventId":"e-1","decision":"grant"}""", "reason is missing", "e-1")]
    [InlineData("""{"eventId":7,"decision":"grant","reason":"granted"}""", "eventId must be a string, not Number", null)]
    [InlineData("""{"eventId":"e-1","decision":"grant","reason":"granted"}""", "unlockSeconds is missing", "e-1")] // not "open for 0 seconds"
    [InlineData("""{"eventId":"e-1","decision":"grant","reason":"granted","unlockSeconds":"5"}""", "unlockSeconds must be an integer", "e-1")]
    [InlineData("""{"eventId":"e-1","decision":"grant","reason":"granted","unlockSeconds":null}""", "unlockSeconds must be an integer", "e-1")]
    [InlineData("""{"eventId":"e-1","decision":"deny","reason":"outside_schedule"}""", "unlockSeconds is missing", "e-1")]
    public void ParseDecision_Invalid_FailsWithReason(string json, string error, string? eventId)
    {
        var result = WireFormat.ParseDecision(Payload(json));

        Assert.False(result.Success);
        Assert.Equal(error, result.Error);
        Assert.Equal(eventId, result.EventId);
    }

    [Fact]
    public void WriteDoorCommand_MatchesLiteralJson()
    {
        Assert.Equal(
            """{"commandId":"c-1","command":"unlock","seconds":5}""",
            Text(WireFormat.Write(new DoorCommand("c-1", "unlock", 5))));
    }

    [Theory]
    [InlineData("""{"commandId":"c-1","seconds":5}""", "command is missing")]
    [InlineData("""{"command":"unlock","seconds":5}""", "commandId is missing")]
    [InlineData("""{"commandId":"c-1","command":"unlock"}""", "seconds is missing")]
    [InlineData("""{"commandId":"c-1","command":"release"}""", "seconds is missing")]
    [InlineData("""{"commandId":"c-1","command":"unlock","seconds":"5"}""", "seconds must be an integer")]
    [InlineData("""{"commandId":"c-1","command":"unlock","seconds":5.5}""", "seconds must be an integer")]
    [InlineData("""{"commandId":"c-1","command":"unlock","seconds":null}""", "seconds must be an integer")]
    public void ParseDoorCommand_Invalid_FailsWithReason(string json, string error)
    {
        Assert.Equal(error, WireFormat.ParseDoorCommand(Payload(json)).Error);
    }

    [Fact]
    public void WriteAlarm_MatchesLiteralJsonAndOmitsNulls()
    {
        Assert.Equal(
            """{"alarmId":"a-1","at":"2026-11-28T09:15:02.123Z","type":"door_forced","siteId":"dc1","doorId":"dc1-hall-a-door"}""",
            Text(WireFormat.Write(new AlarmMessage("a-1", At, AlarmTypes.DoorForced, "dc1", "dc1-hall-a-door", null, null))));
        Assert.Equal(
            """{"alarmId":"a-2","at":"2026-11-28T09:15:02.123Z","type":"reader_offline","siteId":"dc1","doorId":"dc1-hall-a-door","readerId":"rdr-hall-a-in","detail":"no heartbeat for 90 s"}""",
            Text(WireFormat.Write(new AlarmMessage("a-2", At, AlarmTypes.ReaderOffline, "dc1", "dc1-hall-a-door", "rdr-hall-a-in", "no heartbeat for 90 s"))));
    }

    [Fact]
    public void WriteAlarm_AboutADoorController_NamesItInControllerId_AndReadsItBack()
    {
        var alarm = new AlarmMessage("a-3", At, AlarmTypes.DoorControllerOffline, "dc1", "dc1-hall-a-door", null, "door controller ctl-hall-a reported offline")
        {
            ControllerId = "ctl-hall-a",
        };

        var written = WireFormat.Write(alarm);

        Assert.Equal(
            """{"alarmId":"a-3","at":"2026-11-28T09:15:02.123Z","type":"door_controller_offline","siteId":"dc1","doorId":"dc1-hall-a-door","controllerId":"ctl-hall-a","detail":"door controller ctl-hall-a reported offline"}""",
            Text(written));
        Assert.Equal(alarm, WireFormat.ParseAlarm(Payload(Text(written))).Value);
    }

    [Fact]
    public void ParseAlarm_MissingAt_Fails()
    {
        Assert.Equal("at is missing", WireFormat.ParseAlarm(Payload("""{"alarmId":"a-1","type":"tamper"}""")).Error);
    }

    [Fact]
    public void AlarmTypes_Codes_ArePinned()
    {
        Assert.Equal(
            ["door_forced", "door_held_open", "reader_offline", "reader_online", "tamper", "log_failure", "malformed_event"],
            [AlarmTypes.DoorForced, AlarmTypes.DoorHeldOpen, AlarmTypes.ReaderOffline, AlarmTypes.ReaderOnline, AlarmTypes.Tamper, AlarmTypes.LogFailure, AlarmTypes.MalformedEvent]);
    }

    // ---- round trips --------------------------------------------------------------------------------

    public static TheoryData<ReaderEvent> ReaderEvents =>
    [
        new ReaderEvent("e-1", 42, At, ReaderEventType.Card, "04A1B2C3D4E5F6", "desfire-ev3", false, null),
        new ReaderEvent("e-2", 0, Instant.FromUtc(2026, 3, 29, 1, 0), ReaderEventType.Card, "0A", "prox-125khz", true, null),
        new ReaderEvent("e:3.x_y", long.MaxValue, At + Duration.FromNanoseconds(456_789), ReaderEventType.Tamper, null, null, false, "Gehäuse geöffnet <&>"),
        new ReaderEvent("hb-4", 7, At, ReaderEventType.Heartbeat, null, null, true, null),
    ];

    [Theory]
    [MemberData(nameof(ReaderEvents))]
    public void ReaderEvent_WriteThenParse_RoundTrips(ReaderEvent e)
    {
        var result = WireFormat.ParseReaderEvent(new System.Buffers.ReadOnlySequence<byte>(WireFormat.Write(e)));

        Assert.True(result.Success, result.Error);
        Assert.Equal(e, result.Value);
    }

    [Theory]
    [InlineData(DoorEventType.Opened, false)]
    [InlineData(DoorEventType.Closed, true)]
    [InlineData(DoorEventType.ExitRequest, false)]
    [InlineData(DoorEventType.Heartbeat, false)]
    public void DoorEvent_WriteThenParse_RoundTrips(DoorEventType type, bool offline)
    {
        var e = new DoorEvent("d-1", 99, At, type, offline);

        Assert.Equal(e, WireFormat.ParseDoorEvent(new System.Buffers.ReadOnlySequence<byte>(WireFormat.Write(e))).Value);
    }

    [Fact]
    public void OtherMessages_WriteThenParse_RoundTrip()
    {
        var status = new DeviceStatus(DeviceState.Online, At, "ctl-1.0.0");
        var grant = new DecisionMessage("e-1", true, "granted", "dc1-gate", 3);
        var deny = new DecisionMessage(null, false, "malformed_event", null, 0);
        var command = new DoorCommand("c-9", "unlock", 8);
        var alarm = new AlarmMessage("a-9", At, AlarmTypes.Tamper, "dc1", null, "rdr-gate-in", "case opened");

        Assert.Equal(status, WireFormat.ParseDeviceStatus(Payload(Text(WireFormat.Write(status)))).Value);
        Assert.Equal(grant, WireFormat.ParseDecision(Payload(Text(WireFormat.Write(grant)))).Value);
        Assert.Equal(deny, WireFormat.ParseDecision(Payload(Text(WireFormat.Write(deny)))).Value);
        Assert.Equal(command, WireFormat.ParseDoorCommand(Payload(Text(WireFormat.Write(command)))).Value);
        Assert.Equal(alarm, WireFormat.ParseAlarm(Payload(Text(WireFormat.Write(alarm)))).Value);
    }

    [Fact]
    public void FormatInstant_Milliseconds_AreWrittenAsThreeDigits()
    {
        Assert.Equal("2026-11-28T09:15:02.123Z", WireFormat.FormatInstant(At));
    }

    [Theory]
    [InlineData("e-1", true)]
    [InlineData("rdr-hall-a-in", true)]
    [InlineData("A.b_c:d-0", true)]
    [InlineData("", false)]
    [InlineData("e 1", false)]
    [InlineData("e-1\n", false)]
    [InlineData("r+", false)]
    [InlineData("r#", false)]
    [InlineData("r/1", false)]
    public void IsValidId_AllowsOnlyTheDocumentedCharacters(string id, bool expected)
    {
        Assert.Equal(expected, WireFormat.IsValidId(id));
    }

    [Theory]
    [InlineData("rdr-hall-a-in", true)]
    [InlineData("A.b_c-0", true)]
    [InlineData("rdr:main:in2", false)] // a valid eventId, but a device's id is its MQTT username
    [InlineData("", false)]
    [InlineData("r/1", false)]
    public void IsValidDeviceId_IsAnIdWithoutAColon(string id, bool expected)
    {
        Assert.Equal(expected, WireFormat.IsValidDeviceId(id));
        Assert.True(!expected || WireFormat.IsValidId(id));
    }
}

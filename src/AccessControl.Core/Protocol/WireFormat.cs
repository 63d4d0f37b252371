using System.Buffers;
using System.Text.Json;
using System.Text.RegularExpressions;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Protocol;

/// <summary>
/// Reads and writes reader protocol v1 payloads (UTF-8 JSON). Parsing is strict about what it needs and
/// tolerant of fields it does not know, so that firmware may add fields without breaking the service.
/// Every example in docs/reader-protocol.md is parsed by a test through this class.
/// </summary>
public static partial class WireFormat
{
    /// <summary>Largest payload accepted by default. Real reader events are about 150 bytes.</summary>
    public const int DefaultMaxPayloadBytes = 4096;

    // A member given twice ("card" twice, at any depth) is refused: which one counts is not what every reader of the
    // payload (a broker plugin, a packet capture, the firmware's own log) would say (RFC 8259 §4).
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8, AllowDuplicateProperties = false };
    private static readonly InstantPattern Rfc3339 = InstantPattern.ExtendedIso;

    /// <summary>Whether an id (an eventId, a door's, a person's ...) is acceptable: 1 to 64 characters of <c>A-Z a-z 0-9 . _ : -</c>.</summary>
    public static bool IsValidId(ReadOnlySpan<char> id) => IdPattern().IsMatch(id);

    /// <summary>
    /// Whether an id can name a device (a reader, a door controller, a fire panel): an id (<see cref="IsValidId"/>)
    /// without <c>:</c>. A device's id is its MQTT username, and a username cannot hold a <c>:</c> on every broker:
    /// Mosquitto's password file separates the username from its hash with one.
    /// </summary>
    public static bool IsValidDeviceId(ReadOnlySpan<char> id) => IsValidId(id) && !id.Contains(':');

    public static WireResult<ReaderEvent> ParseReaderEvent(ReadOnlySequence<byte> payload, int maxBytes = DefaultMaxPayloadBytes) =>
        Parse(payload, maxBytes, ReadReaderEvent);

    public static WireResult<ReaderEvent> ParseReaderEvent(ReadOnlySpan<byte> payload) => ParseReaderEvent(new ReadOnlySequence<byte>(payload.ToArray()));

    public static WireResult<DoorEvent> ParseDoorEvent(ReadOnlySequence<byte> payload, int maxBytes = DefaultMaxPayloadBytes) =>
        Parse(payload, maxBytes, ReadDoorEvent);

    public static WireResult<FireEvent> ParseFireEvent(ReadOnlySequence<byte> payload, int maxBytes = DefaultMaxPayloadBytes) =>
        Parse(payload, maxBytes, ReadFireEvent);

    public static WireResult<DeviceStatus> ParseDeviceStatus(ReadOnlySequence<byte> payload, int maxBytes = DefaultMaxPayloadBytes) =>
        Parse(payload, maxBytes, ReadStatus);

    public static WireResult<DecisionMessage> ParseDecision(ReadOnlySequence<byte> payload, int maxBytes = DefaultMaxPayloadBytes) =>
        Parse(payload, maxBytes, ReadDecision);

    public static WireResult<DoorCommand> ParseDoorCommand(ReadOnlySequence<byte> payload, int maxBytes = DefaultMaxPayloadBytes) =>
        Parse(payload, maxBytes, ReadDoorCommand);

    /// <summary>Largest reader command a reader must accept: ten templates of the largest size, base64, with room to spare.</summary>
    public const int MaxReaderCommandBytes = 64 * 1024;

    public static WireResult<ReaderCommand> ParseReaderCommand(ReadOnlySequence<byte> payload, int maxBytes = MaxReaderCommandBytes) =>
        Parse(payload, maxBytes, ReadReaderCommand);

    public static WireResult<AlarmMessage> ParseAlarm(ReadOnlySequence<byte> payload, int maxBytes = DefaultMaxPayloadBytes) =>
        Parse(payload, maxBytes, ReadAlarm);

    // ---- writing ------------------------------------------------------------------------------------

    public static byte[] Write(ReaderEvent e) => WriteObject(w =>
    {
        w.WriteString("eventId", e.EventId);
        w.WriteNumber("seq", e.Seq);
        w.WriteString("at", FormatInstant(e.At));
        w.WriteString("type", e.Type switch
        {
            ReaderEventType.Card => "card",
            ReaderEventType.Tamper => "tamper",
            ReaderEventType.FingerprintMatch => "fingerprint_match",
            _ => "heartbeat",
        });
        WriteOptional(w, "requestId", e.RequestId);
        if (e.Score is { } score)
        {
            w.WriteNumber("score", score);
        }

        WriteOptional(w, "templateId", e.TemplateId);
        if (e.Card is not null)
        {
            w.WriteString("card", e.Card);
        }

        if (e.Technology is not null)
        {
            w.WriteString("technology", e.Technology);
        }

        if (e.Detail is not null)
        {
            w.WriteString("detail", e.Detail);
        }

        if (e.Offline)
        {
            w.WriteBoolean("offline", true);
        }
    });

    public static byte[] Write(DeviceStatus s) => WriteObject(w =>
    {
        w.WriteString("state", s.State == DeviceState.Online ? "online" : "offline");
        w.WriteString("at", FormatInstant(s.At));
        if (s.Firmware is not null)
        {
            w.WriteString("firmware", s.Firmware);
        }
    });

    public static byte[] Write(DoorEvent e) => WriteObject(w =>
    {
        w.WriteString("eventId", e.EventId);
        w.WriteNumber("seq", e.Seq);
        w.WriteString("at", FormatInstant(e.At));
        w.WriteString("type", e.Type switch
        {
            DoorEventType.Opened => "opened",
            DoorEventType.Closed => "closed",
            DoorEventType.Heartbeat => "heartbeat",
            _ => "exit_request",
        });
        if (e.Offline)
        {
            w.WriteBoolean("offline", true);
        }
    });

    public static byte[] Write(FireEvent e) => WriteObject(w =>
    {
        w.WriteString("eventId", e.EventId);
        w.WriteNumber("seq", e.Seq);
        w.WriteString("at", FormatInstant(e.At));
        w.WriteString("type", e.Type == FireEventType.Alarm ? "alarm" : "clear");
        WriteOptional(w, "detail", e.Detail);
    });

    public static byte[] Write(DecisionMessage d) => WriteObject(w =>
    {
        if (d.EventId is null)
        {
            w.WriteNull("eventId");
        }
        else
        {
            w.WriteString("eventId", d.EventId);
        }

        w.WriteString("decision", d.Pending ? "pending" : d.Grant ? "grant" : "deny");
        w.WriteString("reason", d.Reason);
        if (d.DoorId is not null)
        {
            w.WriteString("doorId", d.DoorId);
        }

        w.WriteNumber("unlockSeconds", d.UnlockSeconds);
    });

    public static byte[] Write(DoorCommand c) => WriteObject(w =>
    {
        w.WriteString("commandId", c.CommandId);
        w.WriteString("command", c.Command);
        w.WriteNumber("seconds", c.Seconds);
    });

    public static byte[] Write(ReaderCommand c) => WriteObject(w =>
    {
        w.WriteString("commandId", c.CommandId);
        w.WriteString("command", c.Command);
        w.WriteString("requestId", c.RequestId);
        WriteOptional(w, "cardEventId", c.CardEventId);
        if (c.Command == ReaderCommands.VerifyFingerprint)
        {
            w.WriteNumber("timeoutSeconds", c.TimeoutSeconds);
            w.WriteStartArray("templates");
            foreach (var t in c.Templates)
            {
                w.WriteStartObject();
                w.WriteString("templateId", t.TemplateId);
                w.WriteString("finger", t.Finger);
                w.WriteString("format", t.Format);
                w.WriteBase64String("data", t.Data.Span);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
    });

    public static byte[] Write(AlarmMessage a) => WriteObject(w =>
    {
        w.WriteString("alarmId", a.AlarmId);
        w.WriteString("at", FormatInstant(a.At));
        w.WriteString("type", a.Type);
        WriteOptional(w, "siteId", a.SiteId);
        WriteOptional(w, "doorId", a.DoorId);
        WriteOptional(w, "readerId", a.ReaderId);
        WriteOptional(w, "controllerId", a.ControllerId);
        WriteOptional(w, "detail", a.Detail);
        if (a.Coalesced is { } coalesced)
        {
            w.WriteNumber("coalesced", coalesced);
        }
    });

    /// <summary>Formats an instant as RFC 3339 UTC with as many fraction digits as it needs (none to nine), e.g. <c>2026-11-28T09:15:02.123Z</c> or <c>2026-11-28T09:15:02Z</c>.</summary>
    public static string FormatInstant(Instant instant) => InstantPattern.ExtendedIso.Format(instant);

    // ---- reading ------------------------------------------------------------------------------------

    private delegate WireResult<T> Reader<T>(JsonElement root)
        where T : class;

    private static WireResult<T> Parse<T>(ReadOnlySequence<byte> payload, int maxBytes, Reader<T> read)
        where T : class
    {
        if (payload.Length == 0)
        {
            return WireResult<T>.Fail("payload is empty");
        }

        if (payload.Length > maxBytes)
        {
            return WireResult<T>.Fail($"payload of {payload.Length} bytes exceeds the limit of {maxBytes} bytes", EventIdOf(payload));
        }

        // JsonDocument checks the text of a string only when it is read, so bytes that are not UTF-8 in a member the
        // service ignores (or in a member's name) would pass unseen. The whole payload must be UTF-8 (§4): checked here,
        // answered under the eventId where a scan can read it, as for a payload over the size limit.
        if (!IsUtf8(payload))
        {
            return WireResult<T>.Fail("payload is not valid UTF-8", EventIdOf(payload));
        }

        // §4 forbids a byte-order mark; a reader that sends one still gets its answer under the eventId behind it.
        if (new SequenceReader<byte>(payload).IsNext(Utf8ByteOrderMark))
        {
            return WireResult<T>.Fail("payload starts with a byte-order mark, which the protocol does not allow", EventIdOf(payload.Slice(Utf8ByteOrderMark.Length)));
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, DocumentOptions);
        }
        catch (JsonException ex)
        {
            // Nested deeper than the protocol allows, or with a member given twice, is still JSON, whose eventId the
            // answer carries (§7.6), as for one over the size limit; any other failure here is not valid JSON, and the
            // scan finds nothing.
            return WireResult<T>.Fail($"payload is not valid JSON: {Describe(ex)}", EventIdOf(payload));
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return WireResult<T>.Fail($"payload must be a JSON object, not {document.RootElement.ValueKind}");
            }

            return read(document.RootElement);
        }
    }

    private static ReadOnlySpan<byte> Utf8ByteOrderMark => [0xEF, 0xBB, 0xBF];

    private static bool IsUtf8(ReadOnlySequence<byte> payload) =>
        System.Text.Unicode.Utf8.IsValid(payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray());

    /// <summary>
    /// The eventId of a payload refused for its size, its depth, its encoding or a member given twice, where a parse
    /// would have read it (the top-level <c>eventId</c> of valid JSON, a valid id; given twice, only when both are the same): the deny then answers the device's event, and its re-sends are
    /// duplicates. Without it a device cannot match the deny and re-sends the event for ever, each time a new row. A
    /// forward scan that builds nothing, and only up to the largest message of the protocol, at any depth (the reader
    /// keeps its depth in a bit stack, without recursion).
    /// </summary>
    private static string? EventIdOf(ReadOnlySequence<byte> payload)
    {
        if (payload.Length > MaxReaderCommandBytes)
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = MaxReaderCommandBytes });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            string? eventId = null;
            var eventIds = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isEventId = reader.ValueTextEquals("eventId"u8);
                reader.Read();
                if (isEventId)
                {
                    // Given twice, it names the event only when both say the same (a parse refuses either way).
                    var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    eventId = eventIds++ == 0 || text == eventId ? text : null;
                }
                else
                {
                    reader.Skip();
                }
            }

            // The object must end the payload, as for a parse: anything after it is not valid JSON.
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && IsValidId(eventId) ? eventId : null;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static WireResult<ReaderEvent> ReadReaderEvent(JsonElement root)
    {
        var common = ReadEventHeader(root);
        if (common.Error is not null)
        {
            return WireResult<ReaderEvent>.Fail(common.Error, common.EventId);
        }

        var typeText = GetString(root, "type", out var typeError);
        ReaderEventType? type = typeText switch
        {
            "card" => ReaderEventType.Card,
            "tamper" => ReaderEventType.Tamper,
            "heartbeat" => ReaderEventType.Heartbeat,
            "fingerprint_match" => ReaderEventType.FingerprintMatch,
            _ => null,
        };
        if (type is null)
        {
            return WireResult<ReaderEvent>.Fail(typeError ?? $"type '{Truncate(typeText)}' is not one of card, tamper, heartbeat, fingerprint_match", common.EventId);
        }

        string? requestId = null;
        int? score = null;
        string? templateId = null;
        if (type == ReaderEventType.FingerprintMatch)
        {
            requestId = GetString(root, "requestId", out var requestError);
            if (requestError is not null || !IsValidId(requestId))
            {
                return WireResult<ReaderEvent>.Fail(requestError ?? "requestId must be 1 to 64 characters of A-Z a-z 0-9 . _ : -", common.EventId);
            }

            if (!root.TryGetProperty("score", out var scoreElement) || scoreElement.ValueKind != JsonValueKind.Number
                || !scoreElement.TryGetInt32(out var s) || s is < 0 or > 100)
            {
                return WireResult<ReaderEvent>.Fail("score must be an integer from 0 to 100", common.EventId);
            }

            score = s;
            // Optional but not nullable (reader-protocol.md §4): a null where the id of a template belongs is a firmware fault, not "no template".
            templateId = GetOptionalString(root, "templateId", 64, out var templateError, nullAllowed: false);
            if (templateError is not null || (templateId is not null && !IsValidId(templateId)))
            {
                return WireResult<ReaderEvent>.Fail(templateError ?? "templateId must be 1 to 64 characters of A-Z a-z 0-9 . _ : -", common.EventId);
            }
        }

        string? card = null;
        string? technology = null;
        if (type == ReaderEventType.Card)
        {
            card = GetString(root, "card", out var cardError);
            if (cardError is not null)
            {
                return WireResult<ReaderEvent>.Fail(cardError, common.EventId);
            }

            card = People.CardUid.Normalize(card);
            if (card is null)
            {
                return WireResult<ReaderEvent>.Fail("card must be 2 to 32 hexadecimal digits", common.EventId);
            }

            technology = GetString(root, "technology", out var techError);
            if (techError is not null || !People.CardUid.IsTechnologyToken(technology))
            {
                return WireResult<ReaderEvent>.Fail(techError ?? "technology must be a lower-case token such as desfire-ev3", common.EventId);
            }
        }

        var detail = GetOptionalString(root, "detail", 256, out var detailError);
        if (detailError is not null)
        {
            return WireResult<ReaderEvent>.Fail(detailError, common.EventId);
        }

        return WireResult<ReaderEvent>.Ok(new ReaderEvent(common.EventId!, common.Seq, common.At, type.Value, card, technology, common.Offline, detail)
        {
            RequestId = requestId,
            Score = score,
            TemplateId = templateId,
        });
    }

    private static WireResult<DoorEvent> ReadDoorEvent(JsonElement root)
    {
        var common = ReadEventHeader(root);
        if (common.Error is not null)
        {
            return WireResult<DoorEvent>.Fail(common.Error, common.EventId);
        }

        var typeText = GetString(root, "type", out var typeError);
        DoorEventType? type = typeText switch
        {
            "opened" => DoorEventType.Opened,
            "closed" => DoorEventType.Closed,
            "exit_request" => DoorEventType.ExitRequest,
            "heartbeat" => DoorEventType.Heartbeat,
            _ => null,
        };
        if (type is null)
        {
            return WireResult<DoorEvent>.Fail(typeError ?? $"type '{Truncate(typeText)}' is not one of opened, closed, exit_request, heartbeat", common.EventId);
        }

        return WireResult<DoorEvent>.Ok(new DoorEvent(common.EventId!, common.Seq, common.At, type.Value, common.Offline));
    }

    private static WireResult<FireEvent> ReadFireEvent(JsonElement root)
    {
        var common = ReadEventHeader(root);
        if (common.Error is not null)
        {
            return WireResult<FireEvent>.Fail(common.Error, common.EventId);
        }

        var typeText = GetString(root, "type", out var typeError);
        FireEventType? type = typeText switch
        {
            "alarm" => FireEventType.Alarm,
            "clear" => FireEventType.Clear,
            _ => null,
        };
        if (type is null)
        {
            return WireResult<FireEvent>.Fail(typeError ?? $"type '{Truncate(typeText)}' is not one of alarm, clear", common.EventId);
        }

        var detail = GetOptionalString(root, "detail", 256, out var detailError);
        return detailError is not null
            ? WireResult<FireEvent>.Fail(detailError, common.EventId)
            : WireResult<FireEvent>.Ok(new FireEvent(common.EventId!, common.Seq, common.At, type.Value, detail));
    }

    private static WireResult<DeviceStatus> ReadStatus(JsonElement root)
    {
        var stateText = GetString(root, "state", out var stateError);
        DeviceState? state = stateText switch
        {
            "online" => DeviceState.Online,
            "offline" => DeviceState.Offline,
            _ => null,
        };
        if (state is null)
        {
            return WireResult<DeviceStatus>.Fail(stateError ?? "state must be online or offline");
        }

        var at = GetInstant(root, "at", out var atError);
        if (atError is not null)
        {
            return WireResult<DeviceStatus>.Fail(atError);
        }

        var firmware = GetOptionalString(root, "firmware", 64, out var fwError);
        return fwError is not null
            ? WireResult<DeviceStatus>.Fail(fwError)
            : WireResult<DeviceStatus>.Ok(new DeviceStatus(state.Value, at, firmware));
    }

    private static WireResult<DecisionMessage> ReadDecision(JsonElement root)
    {
        string? eventId = null;
        if (root.TryGetProperty("eventId", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
        {
            eventId = GetString(root, "eventId", out var idError);
            if (idError is not null)
            {
                return WireResult<DecisionMessage>.Fail(idError);
            }
        }

        var decision = GetString(root, "decision", out var decisionError);
        if (decision is not ("grant" or "deny" or "pending"))
        {
            return WireResult<DecisionMessage>.Fail(decisionError ?? "decision must be grant, deny or pending", eventId);
        }

        var reason = GetString(root, "reason", out var reasonError);
        if (reason is null)
        {
            return WireResult<DecisionMessage>.Fail(reasonError!, eventId);
        }

        var doorId = GetOptionalString(root, "doorId", 64, out _);

        // Always present (docs/reader-protocol.md §6.3): a decision without it is malformed, not "unlocked for 0 seconds",
        // so that a sender's omission is seen, as a door command's missing seconds is.
        if (!root.TryGetProperty("unlockSeconds", out var s))
        {
            return WireResult<DecisionMessage>.Fail("unlockSeconds is missing", eventId);
        }

        if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt32(out var seconds))
        {
            return WireResult<DecisionMessage>.Fail("unlockSeconds must be an integer", eventId);
        }

        return WireResult<DecisionMessage>.Ok(new DecisionMessage(eventId, decision == "grant", reason, doorId, seconds) { Pending = decision == "pending" });
    }

    private static WireResult<DoorCommand> ReadDoorCommand(JsonElement root)
    {
        var id = GetString(root, "commandId", out var idError);
        var command = GetString(root, "command", out var commandError);
        if (id is null || command is null)
        {
            return WireResult<DoorCommand>.Fail(idError ?? commandError!);
        }

        // Required (docs/reader-protocol.md §6.5): a command without it is malformed, not "0 seconds", which would turn a
        // sender's omission into a silently ignored unlock, or a release without a word about it.
        if (!root.TryGetProperty("seconds", out var s))
        {
            return WireResult<DoorCommand>.Fail("seconds is missing");
        }

        if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt32(out var seconds))
        {
            return WireResult<DoorCommand>.Fail("seconds must be an integer");
        }

        return WireResult<DoorCommand>.Ok(new DoorCommand(id, command, seconds));
    }

    private static WireResult<ReaderCommand> ReadReaderCommand(JsonElement root)
    {
        var id = GetString(root, "commandId", out var idError);
        var command = GetString(root, "command", out var commandError);
        var requestId = GetString(root, "requestId", out var requestError);
        if (id is null || command is null || requestId is null)
        {
            return WireResult<ReaderCommand>.Fail(idError ?? commandError ?? requestError!);
        }

        if (command is not (ReaderCommands.VerifyFingerprint or ReaderCommands.CancelFingerprint))
        {
            return WireResult<ReaderCommand>.Fail($"command '{Truncate(command)}' is not one of verify_fingerprint, cancel_fingerprint");
        }

        var cardEventId = GetOptionalString(root, "cardEventId", 64, out _);
        var timeout = root.TryGetProperty("timeoutSeconds", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt32(out var tv) ? tv : 0;
        var templates = System.Collections.Immutable.ImmutableArray.CreateBuilder<Fingerprints.FingerprintTemplate>();
        if (command == ReaderCommands.VerifyFingerprint)
        {
            if (!root.TryGetProperty("templates", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return WireResult<ReaderCommand>.Fail("templates must be an array");
            }

            foreach (var item in list.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object)
                {
                    return WireResult<ReaderCommand>.Fail("each template must be an object");
                }

                var templateId = GetString(item, "templateId", out var e1);
                var finger = GetString(item, "finger", out var e2);
                var format = GetString(item, "format", out var e3);
                if (templateId is null || finger is null || format is null)
                {
                    return WireResult<ReaderCommand>.Fail(e1 ?? e2 ?? e3!);
                }

                if (!IsValidId(templateId) || !Fingerprints.Fingers.IsValid(finger) || !People.CardUid.IsTechnologyToken(format))
                {
                    return WireResult<ReaderCommand>.Fail("a template needs an id (1 to 64 of A-Z a-z 0-9 . _ : -), a finger such as right-index and a format token such as ac-sim-v1");
                }

                if (!item.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.String || !data.TryGetBytesFromBase64(out var bytes)
                    || bytes.Length is 0 or > Fingerprints.FingerprintTemplate.MaxBytes)
                {
                    return WireResult<ReaderCommand>.Fail($"template data must be base64 of 1 to {Fingerprints.FingerprintTemplate.MaxBytes} bytes");
                }

                templates.Add(new Fingerprints.FingerprintTemplate(templateId, finger, format, bytes));
            }
        }

        return WireResult<ReaderCommand>.Ok(new ReaderCommand(id, command, requestId, cardEventId, timeout, templates.ToImmutable()));
    }

    private static WireResult<AlarmMessage> ReadAlarm(JsonElement root)
    {
        var id = GetString(root, "alarmId", out var idError);
        var type = GetString(root, "type", out var typeError);
        var at = GetInstant(root, "at", out var atError);
        if (id is null || type is null || atError is not null)
        {
            return WireResult<AlarmMessage>.Fail(idError ?? typeError ?? atError!);
        }

        return WireResult<AlarmMessage>.Ok(new AlarmMessage(
            id,
            at,
            type,
            GetOptionalString(root, "siteId", 64, out _),
            GetOptionalString(root, "doorId", 64, out _),
            GetOptionalString(root, "readerId", 64, out _),
            GetOptionalString(root, "detail", 1024, out _))
        {
            ControllerId = GetOptionalString(root, "controllerId", 64, out _),
            Coalesced = root.TryGetProperty("coalesced", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out var n) && n >= 0 ? n : null,
        });
    }

    private readonly record struct EventHeader(string? EventId, long Seq, Instant At, bool Offline, string? Error);

    private static EventHeader ReadEventHeader(JsonElement root)
    {
        var eventId = GetString(root, "eventId", out var idError);
        if (idError is not null)
        {
            return new EventHeader(null, 0, default, false, idError);
        }

        if (!IsValidId(eventId))
        {
            return new EventHeader(null, 0, default, false, "eventId must be 1 to 64 characters of A-Z a-z 0-9 . _ : -");
        }

        if (!root.TryGetProperty("seq", out var seqElement) || seqElement.ValueKind != JsonValueKind.Number
            || !seqElement.TryGetInt64(out var seq) || seq < 0)
        {
            return new EventHeader(eventId, 0, default, false, "seq must be a non-negative integer");
        }

        var at = GetInstant(root, "at", out var atError);
        if (atError is not null)
        {
            return new EventHeader(eventId, seq, default, false, atError);
        }

        var offline = false;
        if (root.TryGetProperty("offline", out var offlineElement))
        {
            if (offlineElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return new EventHeader(eventId, seq, at, false, "offline must be true or false");
            }

            offline = offlineElement.GetBoolean();
        }

        return new EventHeader(eventId, seq, at, offline, null);
    }

    private static string? GetString(JsonElement root, string name, out string? error)
    {
        if (!root.TryGetProperty(name, out var element))
        {
            error = $"{name} is missing";
            return null;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            error = $"{name} must be a string, not {element.ValueKind}";
            return null;
        }

        var value = ReadText(element, name, out error);
        if (value is null)
        {
            return null;
        }

        if (value.Length > 256)
        {
            error = $"{name} is longer than 256 characters";
            return null;
        }

        error = null;
        return value;
    }

    private static string? GetOptionalString(JsonElement root, string name, int maxLength, out string? error, bool nullAllowed = true)
    {
        error = null;
        if (!root.TryGetProperty(name, out var element) || (nullAllowed && element.ValueKind == JsonValueKind.Null))
        {
            return null;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            error = $"{name} must be a string, not {element.ValueKind}";
            return null;
        }

        var value = ReadText(element, name, out error);
        if (value is null)
        {
            return null;
        }

        if (value.Length > maxLength)
        {
            error = $"{name} is longer than {maxLength} characters";
            return null;
        }

        return value;
    }

    // JsonDocument does not validate the text inside strings: invalid UTF-8 or an escaped unpaired surrogate
    // only throws when the string is read. Firmware bugs are expected input, so that is a parse failure too.
    private static string? ReadText(JsonElement element, string name, out string? error)
    {
        try
        {
            error = null;
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            error = $"{name} is not valid Unicode text";
            return null;
        }
    }

    private static Instant GetInstant(JsonElement root, string name, out string? error)
    {
        var text = GetString(root, name, out error);
        if (text is null)
        {
            return default;
        }

        // The documented shape first (asyncapi.yaml's pattern): NodaTime's ExtendedIso also takes a ',' before the
        // fraction, which the protocol does not. NodaTime then checks that the date and time exist.
        var parsed = InstantShape().IsMatch(text) ? Rfc3339.Parse(text) : null;
        if (parsed is not { Success: true })
        {
            error = $"{name} must be an RFC 3339 UTC instant such as 2026-11-28T09:15:02.123Z";
            return default;
        }

        return parsed.Value;
    }

    // One buffer and writer per thread, reused: every decision writes two or three payloads, and the service's
    // allocation rate is what sets how often the collector stops it.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? threadBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? threadWriter;

    private static byte[] WriteObject(Action<Utf8JsonWriter> body)
    {
        var buffer = threadBuffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var writer = threadWriter ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        writer.WriteStartObject();
        body(writer);
        writer.WriteEndObject();
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }

    // The runtime names a duplicate only in its message; any other message is passed on as it is.
    private static string Describe(JsonException ex) => DuplicateMember().Match(ex.Message) is { Success: true } duplicate
        ? $"member {Truncate(duplicate.Groups[1].Value)} is given more than once"
        : Truncate(ex.Message);

    [GeneratedRegex(@"^Duplicate property '(.*)' encountered")]
    private static partial Regex DuplicateMember();

    private static string Truncate(string? text) => text is null ? "" : text.Length <= 64 ? text : text[..64] + "...";

    // \z, not $: in .NET, $ also matches before a trailing newline, which would let "e-1\n" through.
    [GeneratedRegex(@"^[A-Za-z0-9._:-]{1,64}\z")]
    private static partial Regex IdPattern();

    // The pattern of asyncapi.yaml's Instant, with \z for $ as above.
    [GeneratedRegex(@"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z\z")]
    private static partial Regex InstantShape();
}

using NodaTime;

namespace AccessControl.Protocol;

/// <summary>Types of event a reader publishes on its events topic.</summary>
public enum ReaderEventType
{
    Card,
    Tamper,
    Heartbeat,

    /// <summary>A fingerprint reader's answer to a <c>verify_fingerprint</c> command (appended: values are never renumbered).</summary>
    FingerprintMatch,
}

/// <summary>
/// An event from a reader. <see cref="EventId"/> is unique per reader and is echoed in the decision;
/// <see cref="Seq"/> increases monotonically per reader; <see cref="Offline"/> marks an event replayed from
/// the reader's buffer after a loss of connection.
/// </summary>
public sealed record ReaderEvent(
    string EventId,
    long Seq,
    Instant At,
    ReaderEventType Type,
    string? Card,
    string? Technology,
    bool Offline,
    string? Detail)
{
    /// <summary>For <see cref="ReaderEventType.FingerprintMatch"/>: the <c>requestId</c> of the verify command answered.</summary>
    public string? RequestId { get; init; }

    /// <summary>For <see cref="ReaderEventType.FingerprintMatch"/>: the best match score, 0 (no resemblance) to 100.</summary>
    public int? Score { get; init; }

    /// <summary>For <see cref="ReaderEventType.FingerprintMatch"/>: the template that scored best, when the reader says.</summary>
    public string? TemplateId { get; init; }
}

/// <summary>Reader connectivity, published retained and as the reader's MQTT last will.</summary>
public enum DeviceState
{
    Online,
    Offline,
}

/// <summary>A reader's or door controller's status message.</summary>
public sealed record DeviceStatus(DeviceState State, Instant At, string? Firmware);

/// <summary>Types of event a door controller publishes for a door.</summary>
public enum DoorEventType
{
    Opened,
    Closed,
    ExitRequest,

    /// <summary>The controller is alive (optional: only a controller with a heartbeat interval in the site file sends it).</summary>
    Heartbeat,
}

/// <summary>An event from a door controller about one door.</summary>
public sealed record DoorEvent(string EventId, long Seq, Instant At, DoorEventType Type, bool Offline);

/// <summary>The service's answer to a reader event. <see cref="EventId"/> is null only when the event had none readable.</summary>
public sealed record DecisionMessage(string? EventId, bool Grant, string Reason, string? DoorId, int UnlockSeconds)
{
    /// <summary>
    /// Not final yet: the card was accepted but the zone wants the cardholder's fingerprint (<c>"decision":"pending"</c>,
    /// reason <c>fingerprint_required</c>). The final grant or deny follows on the same topic with the same eventId.
    /// </summary>
    public bool Pending { get; init; }
}

/// <summary>Commands the service sends to a reader on its commands topic.</summary>
public static class ReaderCommands
{
    /// <summary>Capture a live finger and score it against the templates sent; answer with a <c>fingerprint_match</c> event.</summary>
    public const string VerifyFingerprint = "verify_fingerprint";

    /// <summary>Stop waiting for a finger for this request and forget its templates (timed out, or superseded).</summary>
    public const string CancelFingerprint = "cancel_fingerprint";
}

/// <summary>
/// A command to a reader. For <see cref="ReaderCommands.VerifyFingerprint"/> it carries the enrolled templates of the
/// person whose card was just presented at the same door; the reader must not keep them after it answers, is
/// cancelled, or <see cref="TimeoutSeconds"/> pass.
/// </summary>
public sealed record ReaderCommand(
    string CommandId,
    string Command,
    string RequestId,
    string? CardEventId,
    int TimeoutSeconds,
    System.Collections.Immutable.ImmutableArray<Fingerprints.FingerprintTemplate> Templates);

/// <summary>A command to a door controller.</summary>
public sealed record DoorCommand(string CommandId, string Command, int Seconds);

/// <summary>Commands the service sends to a door controller on a door's commands topic.</summary>
public static class DoorCommands
{
    /// <summary>Unlock the strike for <c>seconds</c>, then lock again.</summary>
    public const string Unlock = "unlock";

    /// <summary>
    /// Fire release: hold the strike unlocked, with no timer, until a <see cref="Relock"/>. Published retained, so a
    /// controller that (re)connects gets it at once; a controller must apply the retained command it receives when it subscribes.
    /// </summary>
    public const string Release = "release";

    /// <summary>End of a fire release, after an operator reset: lock the strike again. Published retained, replacing the release.</summary>
    public const string Relock = "relock";
}

/// <summary>Types of event a fire panel publishes.</summary>
public enum FireEventType
{
    /// <summary>The fire alarm is active: fail-safe doors are released.</summary>
    Alarm,

    /// <summary>The panel's alarm has cleared. Logged; nothing relocks until an operator resets.</summary>
    Clear,
}

/// <summary>An event from a fire panel on <c>{root}/fire/{panelId}/events</c>.</summary>
public sealed record FireEvent(string EventId, long Seq, Instant At, FireEventType Type, string? Detail);

/// <summary>An alarm published on the alarms topic and written to the entry log.</summary>
public sealed record AlarmMessage(
    string AlarmId,
    Instant At,
    string Type,
    string? SiteId,
    string? DoorId,
    string? ReaderId,
    string? Detail)
{
    /// <summary>
    /// The door controller the alarm is about (door_controller_offline, door_controller_online), so that a console can
    /// group a controller's per-door alarms without reading <see cref="Detail"/>; null (absent on the wire) on other alarms.
    /// </summary>
    public string? ControllerId { get; init; }

    /// <summary>
    /// In an alarm storm (<see cref="AlarmTypes.Coalesced"/>), how many earlier alarms of the same type about the same
    /// device this one stands for besides itself: raised and logged since the previous one published, but not published,
    /// so that one device cannot bury every other door's alarms on a console. Null (absent on the wire) otherwise.
    /// </summary>
    public int? Coalesced { get; init; }
}

/// <summary>Alarm type codes. The set is open for later issues; these are the ones the core raises.</summary>
public static class AlarmTypes
{
    public const string DoorForced = "door_forced";
    public const string DoorHeldOpen = "door_held_open";
    public const string ReaderOffline = "reader_offline";
    public const string ReaderOnline = "reader_online";

    /// <summary>
    /// A door controller's status turned offline (its MQTT last will, or a deliberate disconnect), or it missed three
    /// heartbeat intervals: one per door it drives.
    /// </summary>
    public const string DoorControllerOffline = "door_controller_offline";

    /// <summary>A door controller reported offline is heard from again: one per door it drives.</summary>
    public const string DoorControllerOnline = "door_controller_online";
    public const string Tamper = "tamper";
    public const string LogFailure = "log_failure";
    public const string MalformedEvent = "malformed_event";
    public const string VisitorBadgeNotReturned = "visitor_badge_not_returned";
    public const string VisitorUnescorted = "visitor_unescorted";
    public const string FingerprintFailures = "fingerprint_failures";
    public const string ClockAnomaly = "clock_anomaly";

    /// <summary>A device sent an event with a stale <c>seq</c> or an implausible <c>at</c>; rate-limited per device.</summary>
    public const string ReplaySuspected = "replay_suspected";

    /// <summary>
    /// A device sent more messages than its rate allows (PipelineOptions.DeviceBurst, DeviceInterval); the rest were
    /// dropped unanswered and unlogged. Rate-limited per device.
    /// </summary>
    public const string DeviceFlood = "device_flood";

    /// <summary>A fire panel reports an active fire alarm; the site's fail-safe doors are released.</summary>
    public const string FireAlarm = "fire_alarm";

    /// <summary>
    /// A reader saw more unknown cards within a window than a busy entrance ever does (PipelineOptions.ProbingUnknownCards,
    /// ProbingWindow): someone is trying card numbers to learn which exist. Once per window per reader.
    /// </summary>
    public const string CredentialProbing = "credential_probing";

    /// <summary>
    /// The service's own periodic verification of the entry log found it altered (a row changed, missing or added, a
    /// checkpoint that no longer matches, an append-only trigger gone) or its query index differing from it. Once per
    /// distinct finding; no site, door or reader.
    /// </summary>
    public const string LogIntegrity = "log_integrity";

    /// <summary>
    /// A termination from the HR feed arrived after the time it took effect, and the person was granted at this site in
    /// between (what it came too late to refuse). Once per site at the termination's application; the door of the first grant.
    /// </summary>
    public const string AccessAfterTermination = "access_after_termination";

    /// <summary>
    /// The types a misbehaving device can raise once per message (a tamper switch, a door position sensor, a status
    /// that flaps): coalesced per device and type on the alarms topic (<see cref="AlarmMessage.Coalesced"/>), each still logged.
    /// </summary>
    public static readonly IReadOnlySet<string> Coalesced = new HashSet<string>(StringComparer.Ordinal)
    {
        Tamper, DoorForced, ReaderOffline, ReaderOnline, DoorControllerOffline, DoorControllerOnline,
    };

    /// <summary>
    /// For an alarm that says a device's state (offline, online), the type that says the opposite state of the same
    /// device; null for any other type.
    /// </summary>
    public static string? OppositeState(string type) => type switch
    {
        ReaderOffline => ReaderOnline,
        ReaderOnline => ReaderOffline,
        DoorControllerOffline => DoorControllerOnline,
        DoorControllerOnline => DoorControllerOffline,
        _ => null,
    };
}

using NodaTime;

namespace AccessControl.Protocol;

/// <summary>Types of event a reader publishes on its events topic.</summary>
public enum ReaderEventType
{
    Card,
    Tamper,
    Heartbeat,
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
    string? Detail);

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
}

/// <summary>An event from a door controller about one door.</summary>
public sealed record DoorEvent(string EventId, long Seq, Instant At, DoorEventType Type, bool Offline);

/// <summary>The service's answer to a reader event. <see cref="EventId"/> is null only when the event had none readable.</summary>
public sealed record DecisionMessage(string? EventId, bool Grant, string Reason, string? DoorId, int UnlockSeconds);

/// <summary>A command to a door controller.</summary>
public sealed record DoorCommand(string CommandId, string Command, int Seconds);

/// <summary>An alarm published on the alarms topic and written to the entry log.</summary>
public sealed record AlarmMessage(
    string AlarmId,
    Instant At,
    string Type,
    string? SiteId,
    string? DoorId,
    string? ReaderId,
    string? Detail);

/// <summary>Alarm type codes. The set is open for later issues; these are the ones the core raises.</summary>
public static class AlarmTypes
{
    public const string DoorForced = "door_forced";
    public const string DoorHeldOpen = "door_held_open";
    public const string ReaderOffline = "reader_offline";
    public const string ReaderOnline = "reader_online";
    public const string Tamper = "tamper";
    public const string LogFailure = "log_failure";
    public const string MalformedEvent = "malformed_event";
    public const string VisitorBadgeNotReturned = "visitor_badge_not_returned";
    public const string VisitorUnescorted = "visitor_unescorted";
}

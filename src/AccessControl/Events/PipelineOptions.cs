using NodaTime;

namespace AccessControl.Events;

/// <summary>Tuning of the event pipeline. Defaults suit one site edge.</summary>
public sealed record PipelineOptions
{
    /// <summary>Most rows committed in one transaction (group commit).</summary>
    public int MaxBatch { get; init; } = 256;

    /// <summary>Largest accepted payload.</summary>
    public int MaxPayloadBytes { get; init; } = Protocol.WireFormat.DefaultMaxPayloadBytes;

    /// <summary>Upper bound of <see cref="RecentEvents"/>: its memory is taken at start, about 60 bytes an event (240 MB here).</summary>
    public const int MaxRecentEvents = 4_194_304;

    /// <summary>How many recent (source, eventId) decisions are kept in memory for answering redeliveries without a query (about 4 MB at the default, taken at start).</summary>
    public int RecentEvents { get; init; } = 65_536;

    /// <summary>
    /// How many rows are kept in memory while the entry log cannot be written, to be written once it can (every event that
    /// was answered deny/<c>log_failure</c>, door events, alarms). Beyond it rows are only counted, in the outage row.
    /// </summary>
    public int LateRowsCapacity { get; init; } = 50_000;

    /// <summary>
    /// Size of the outage journal (<see cref="OutageJournal"/>, <c>entry-log.outage</c> in the data folder): the rows kept
    /// during an outage are also written there, so a restart does not lose them. Allocated in full when the file is
    /// created, so that it can be written on a full disk. 0 keeps the rows in memory only.
    /// </summary>
    public long OutageJournalBytes { get; init; } = OutageJournal.DefaultSize;

    /// <summary>
    /// How far back the entry log is replayed at start to know who is inside the escort-tracked zones (see
    /// <c>EscortHistory</c>): a visit lasts a day at most.
    /// </summary>
    public Duration EscortRebuildWindow { get; init; } = Duration.FromHours(24);

    /// <summary>Queue length before producers wait (back-pressure on the MQTT receive loop).</summary>
    public int QueueCapacity { get; init; } = 100_000;

    /// <summary>How far in the past an offline replay may be stamped and still be decided at its own time.</summary>
    public Duration OfflineWindow { get; init; } = Duration.FromHours(24);

    /// <summary>
    /// How far a live (not offline-replayed) event's <c>at</c> may be from the service clock, either way, before it is
    /// refused as a suspected replay (<c>replay_suspected</c>). Readers keep time by NTP; five minutes is generous.
    /// </summary>
    public Duration MaxClockSkew { get; init; } = Duration.FromMinutes(5);

    /// <summary>
    /// How far below a device's highest accepted seq an unused seq is still accepted: an event the broker lost and the reader
    /// re-sent after later ones got through. A seq used before, or older than this, is refused as a replay.
    /// </summary>
    public int ReplayWindow { get; init; } = 1024;

    /// <summary>At most one <c>replay_suspected</c> alarm per device in this time; every refused event is still logged.</summary>
    public Duration ReplayAlarmInterval { get; init; } = Duration.FromMinutes(1);

    /// <summary>At most one <c>malformed_event</c> alarm per device in this time; every malformed payload is still logged (and a reader still answered).</summary>
    public Duration MalformedAlarmInterval { get; init; } = Duration.FromMinutes(1);

    /// <summary>
    /// At most one published alarm per device and type in this time for the types a device raises once per message
    /// (<see cref="Protocol.AlarmTypes.Coalesced"/>: tamper, door_forced, status flapping): the first goes out at once,
    /// the rest are logged and held back, and the next one published (at the latest the last one, at the first
    /// supervision tick after the interval) says how many it stands for. Zero publishes every one.
    /// </summary>
    public Duration AlarmStormInterval { get; init; } = Duration.FromMinutes(1);

    /// <summary>
    /// More unknown cards than this at one reader within <see cref="ProbingWindow"/> raise <c>credential_probing</c>
    /// (once per window per reader): someone is trying card numbers. A busy entrance sees a few foreign or mistyped
    /// cards an hour, never eleven a minute; a guessing tool or a cloner tries several a second.
    /// </summary>
    public int ProbingUnknownCards { get; init; } = 10;

    /// <summary>The window of <see cref="ProbingUnknownCards"/>.</summary>
    public Duration ProbingWindow { get; init; } = Duration.FromMinutes(1);

    /// <summary>
    /// How many messages one device (a reader, the events and status of one door) may send at once before
    /// <see cref="DeviceInterval"/> paces it: enough for a reader's buffer replayed after an outage. Beyond it a message is
    /// dropped unanswered and unlogged (a reader re-sends a card event that has no decision) and a <c>device_flood</c>
    /// alarm is raised, at most once per <see cref="MalformedAlarmInterval"/>. Fire panels are never paced.
    /// </summary>
    public int DeviceBurst { get; init; } = 1000;

    /// <summary>How often a device that used up its <see cref="DeviceBurst"/> may send one more message: 100 a second by default.</summary>
    public TimeSpan DeviceInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// How far the service clock may move apart from the machine's monotonic time between two checks (before each batch of events) before
    /// a <c>clock_anomaly</c> alarm is raised (a step of the wall clock: NTP correcting a bad clock, an operator setting
    /// it, a VM resumed). Null turns the check off (tests that drive a fake clock by hand).
    /// </summary>
    public TimeSpan? ClockJumpThreshold { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A file to write one <see cref="LatencyTrace"/> line per decision to (replaced at start), for latency breakdowns;
    /// null (the default) writes none.
    /// </summary>
    public string? TraceFile { get; init; }

    public void Validate()
    {
        if (MaxBatch is < 1 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatch), MaxBatch, "MaxBatch must be 1..10000.");
        }

        if (MaxPayloadBytes is < 256 or > 1_048_576)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPayloadBytes), MaxPayloadBytes, "MaxPayloadBytes must be 256..1048576.");
        }

        if (RecentEvents is < 0 or > MaxRecentEvents || QueueCapacity < 1 || OfflineWindow <= Duration.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RecentEvents), $"RecentEvents 0..{MaxRecentEvents}, QueueCapacity >= 1 and a positive OfflineWindow are required.");
        }

        if (OutageJournalBytes is not 0 and (< 4096 or > 1L << 32))
        {
            throw new ArgumentOutOfRangeException(nameof(OutageJournalBytes), OutageJournalBytes, "OutageJournalBytes must be 0 (none) or 4096..4294967296.");
        }

        if (DeviceBurst is < 1 or > 1_000_000 || DeviceInterval <= TimeSpan.Zero || DeviceInterval > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(DeviceBurst), "DeviceBurst must be 1..1000000 and DeviceInterval positive and at most a day.");
        }

        if (AlarmStormInterval < Duration.Zero || AlarmStormInterval > Duration.FromDays(1) || ProbingUnknownCards is < 1 or > 100_000
            || ProbingWindow <= Duration.Zero || ProbingWindow > Duration.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(AlarmStormInterval),
                "AlarmStormInterval must be 0..1 day, ProbingUnknownCards 1..100000 and ProbingWindow positive and at most a day.");
        }

        if (MaxClockSkew <= Duration.Zero || ReplayAlarmInterval < Duration.Zero || MalformedAlarmInterval < Duration.Zero || ReplayWindow is < 1 or > 65_536)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxClockSkew),
                "A positive MaxClockSkew, a non-negative ReplayAlarmInterval and MalformedAlarmInterval, and a ReplayWindow of 1..65536 are required.");
        }
    }
}

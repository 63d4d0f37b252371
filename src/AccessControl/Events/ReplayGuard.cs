using NodaTime;

namespace AccessControl.Events;

/// <summary>
/// Replay protection for device events: the last accepted <c>seq</c> per device (by source, <c>readers/{id}</c> or
/// <c>doors/{id}</c>), the clock-skew rule, and the per-device rate limit of the <c>replay_suspected</c> alarm.
/// </summary>
/// <remarks>
/// <para>An event is new (its eventId was never seen: redeliveries are answered before this check) and is accepted only if
/// its <c>seq</c> is above the last accepted one for that device, and its <c>at</c> is within <see cref="PipelineOptions.MaxClockSkew"/>
/// of the service clock, unless it is a marked offline replay stamped within <see cref="PipelineOptions.OfflineWindow"/>
/// before now. A captured message re-published under a new eventId, or an old one re-sent much later, fails one of these.</para>
/// <para>Owned by the pipeline's single loop: not thread-safe. The baselines come from the entry log at start-up
/// (<see cref="DeviceSeqBaselines"/>), so a restart does not reopen the window.</para>
/// </remarks>
public sealed class ReplayGuard
{
    private readonly Dictionary<string, long> lastSeq;
    private readonly Dictionary<string, Instant> lastAlarm = new(StringComparer.Ordinal);
    private readonly Duration maxSkew;
    private readonly Duration offlineWindow;
    private readonly Duration alarmInterval;

    public ReplayGuard(PipelineOptions options, IReadOnlyDictionary<string, long>? baselines = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        maxSkew = options.MaxClockSkew;
        offlineWindow = options.OfflineWindow;
        alarmInterval = options.ReplayAlarmInterval;
        lastSeq = baselines is null ? new(StringComparer.Ordinal) : new(baselines, StringComparer.Ordinal);
    }

    /// <summary>The last accepted seq of a device, or null when it has sent nothing yet (or was reset to nothing).</summary>
    public long? LastSeq(string source) => lastSeq.TryGetValue(source, out var seq) ? seq : null;

    /// <summary>
    /// Checks a new event and, when it is accepted, makes its seq the device's baseline. Returns null when accepted, or
    /// why it is refused.
    /// </summary>
    public ReplayRejection? Check(string source, long seq, Instant at, bool offline, Instant now)
    {
        var last = LastSeq(source);
        if (last is { } l && seq <= l)
        {
            return new ReplayRejection(ReplayRule.StaleSeq, seq, last, $"seq {seq} is not above the last seen seq {l}");
        }

        var offlineReplay = offline && at <= now && now - at <= offlineWindow;
        if (!offlineReplay && (at > now + maxSkew || at < now - maxSkew))
        {
            var ahead = at > now;
            var off = ahead ? at - now : now - at;
            return new ReplayRejection(ahead ? ReplayRule.TimeAhead : ReplayRule.TimeBehind, seq, last,
                $"at is {FormatMinutes(off)} {(ahead ? "ahead of" : "behind")} the service clock (allowed {FormatMinutes(maxSkew)}"
                + (offline ? $"; an offline replay may be up to {FormatMinutes(offlineWindow)} old" : "") + ")");
        }

        lastSeq[source] = seq;
        return null;
    }

    /// <summary>
    /// Sets a device's baseline (an operator reset after a firmware wipe): the next event must carry a seq above
    /// <paramref name="baseline"/>; null forgets the device, so any seq is accepted next.
    /// </summary>
    public void Reset(string source, long? baseline)
    {
        if (baseline is { } b)
        {
            lastSeq[source] = b;
        }
        else
        {
            lastSeq.Remove(source);
        }

        lastAlarm.Remove(source);
    }

    /// <summary>Whether a replay_suspected alarm for this device may be raised now (one per <see cref="PipelineOptions.ReplayAlarmInterval"/>); notes it if so.</summary>
    public bool ShouldAlarm(string source, Instant now)
    {
        if (lastAlarm.TryGetValue(source, out var previous) && now >= previous && now - previous < alarmInterval)
        {
            return false;
        }

        lastAlarm[source] = now;
        return true;
    }

    private static string FormatMinutes(Duration d) =>
        d.TotalMinutes >= 1 ? $"{d.TotalMinutes.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} min"
            : $"{d.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} s";
}

/// <summary>Which replay rule an event broke.</summary>
public enum ReplayRule
{
    /// <summary>The seq is not above the device's last accepted seq.</summary>
    StaleSeq,

    /// <summary>The event's time is further ahead of the service clock than the allowed skew.</summary>
    TimeAhead,

    /// <summary>The event's time is further behind the service clock than the allowed skew, and it is not a marked offline replay within the window.</summary>
    TimeBehind,
}

/// <summary>Why an event was refused as a suspected replay: the rule, the seq it carried, the device's last accepted seq, and a sentence for the log.</summary>
public sealed record ReplayRejection(ReplayRule Rule, long Seq, long? LastSeq, string Detail);

using NodaTime;

namespace AccessControl.Events;

/// <summary>
/// Replay protection for device events: the last accepted <c>seq</c> per device (by source, <c>readers/{id}</c> or
/// <c>doors/{id}</c>), the clock-skew rule, and the per-device rate limit of the <c>replay_suspected</c> alarm.
/// </summary>
/// <remarks>
/// <para>An event is new (its eventId was never seen: redeliveries are answered before this check) and is accepted only if
/// its <c>seq</c> was never used by that device and is above the last accepted one (or within a small window below it, for
/// an event the broker lost and the reader re-sent late), and its <c>at</c> is within <see cref="PipelineOptions.MaxClockSkew"/>
/// of the service clock, unless it is a marked offline replay stamped within <see cref="PipelineOptions.OfflineWindow"/>
/// before now. A captured message re-published under a new eventId, or an old one re-sent much later, fails one of these.</para>
/// <para>Owned by the pipeline's single loop: not thread-safe. The baselines come from the entry log at start-up
/// (<see cref="DeviceSeqBaselines"/>), so a restart does not reopen the window.</para>
/// </remarks>
public sealed class ReplayGuard
{
    private readonly Dictionary<string, Window> windows = new(StringComparer.Ordinal);
    private readonly AlarmThrottle alarms;
    private readonly Duration maxSkew;
    private readonly Duration offlineWindow;
    private readonly int width;

    /// <param name="history">Per source, the seqs accepted lately (at least the highest; the ones within <see cref="PipelineOptions.ReplayWindow"/> below it for late deliveries).</param>
    public ReplayGuard(PipelineOptions options, IReadOnlyDictionary<string, IReadOnlyCollection<long>>? history = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        maxSkew = options.MaxClockSkew;
        offlineWindow = options.OfflineWindow;
        alarms = new AlarmThrottle(options.ReplayAlarmInterval);
        width = options.ReplayWindow;
        foreach (var (source, seqs) in history ?? new Dictionary<string, IReadOnlyCollection<long>>())
        {
            if (seqs.Count > 0)
            {
                var window = new Window(seqs.Max());
                foreach (var seq in seqs.Where(s => s >= window.Last - width))
                {
                    window.Seen.Add(seq);
                }

                windows[source] = window;
            }
        }
    }

    /// <summary>The highest accepted seq of a device, or null when it has sent nothing yet (or was reset to nothing).</summary>
    public long? LastSeq(string source) => windows.TryGetValue(source, out var w) ? w.Last : null;

    /// <summary>
    /// Checks a new event (its eventId was never seen) and, when it is accepted, notes its seq. Returns null when
    /// accepted, or why it is refused.
    /// </summary>
    /// <remarks>
    /// A seq above the highest accepted one is accepted. One at or below it is accepted only if it is at most
    /// <see cref="PipelineOptions.ReplayWindow"/> below the highest (reader-protocol.md §7.7 refuses "more than 1024
    /// below") and was never accepted before: an event the broker lost and
    /// the reader re-sent after later ones got through (the anti-replay window of IPsec, RFC 4303 §3.4.3). A seq used
    /// before, or older than the window, is refused.
    /// </remarks>
    public ReplayRejection? Check(string source, long seq, Instant at, bool offline, Instant now)
    {
        windows.TryGetValue(source, out var window);
        if (window is not null && seq <= window.Last && (seq < window.Last - width || window.Seen.Contains(seq)))
        {
            var why = window.Seen.Contains(seq) ? $"seq {seq} was already used by an earlier event" : $"seq {seq} is more than {width} below the last seen seq {window.Last}";
            return new ReplayRejection(ReplayRule.StaleSeq, seq, window.Last, why);
        }

        var offlineReplay = offline && at <= now && now - at <= offlineWindow;
        if (!offlineReplay && (at > now + maxSkew || at < now - maxSkew))
        {
            var ahead = at > now;
            var off = ahead ? at - now : now - at;
            return new ReplayRejection(ahead ? ReplayRule.TimeAhead : ReplayRule.TimeBehind, seq, window?.Last,
                $"at is {FormatMinutes(off)} {(ahead ? "ahead of" : "behind")} the service clock (allowed {FormatMinutes(maxSkew)}"
                + (offline ? $"; an offline replay may be up to {FormatMinutes(offlineWindow)} old" : "") + ")");
        }

        if (window is null)
        {
            windows[source] = window = new Window(seq);
        }

        window.Accept(seq, width);
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
            var window = new Window(b);
            window.Seen.UnionWith(Enumerable.Range(0, (int)Math.Min(width + 1L, b + 1)).Select(i => b - i));
            windows[source] = window;
        }
        else
        {
            windows.Remove(source);
        }

        alarms.Forget(source);
    }

    /// <summary>Whether a replay_suspected alarm for this device may be raised now (one per <see cref="PipelineOptions.ReplayAlarmInterval"/>); notes it if so.</summary>
    public bool ShouldAlarm(string source, Instant now) => alarms.ShouldAlarm(source, now);

    private static string FormatMinutes(Duration d) =>
        d.TotalMinutes >= 1 ? $"{d.TotalMinutes.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} min"
            : $"{d.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} s";

    /// <summary>The highest accepted seq and the accepted seqs within the window below it.</summary>
    private sealed class Window(long last)
    {
        public long Last { get; private set; } = last;

        public HashSet<long> Seen { get; } = [];

        public void Accept(long seq, int width)
        {
            Seen.Add(seq);
            if (seq > Last)
            {
                Last = seq;
                if (Seen.Count > 2 * width)
                {
                    Seen.RemoveWhere(s => s < Last - width);
                }
            }
        }
    }
}

/// <summary>Which replay rule an event broke.</summary>
public enum ReplayRule
{
    /// <summary>The seq was already used by an accepted event of the device, or is older than the replay window.</summary>
    StaleSeq,

    /// <summary>The event's time is further ahead of the service clock than the allowed skew.</summary>
    TimeAhead,

    /// <summary>The event's time is further behind the service clock than the allowed skew, and it is not a marked offline replay within the window.</summary>
    TimeBehind,

    /// <summary>
    /// The eventId was already used by another event of the device (one with another seq): an eventId names one event, and
    /// under it the device would only hear the other event's answer again, this one never decided nor logged.
    /// </summary>
    EventIdReused,
}

/// <summary>Why an event was refused as a suspected replay: the rule, the seq it carried, the device's last accepted seq, and a sentence for the log.</summary>
public sealed record ReplayRejection(ReplayRule Rule, long Seq, long? LastSeq, string Detail);

using System.Diagnostics.Tracing;

namespace AccessControl.Events;

/// <summary>
/// Writes every garbage-collection pause of this process into the <see cref="LatencyTrace"/> as a <c>gc</c> span, from
/// the runtime's own events (suspension begun to threads restarted), so that a slow round trip can be matched with a
/// pause. On only while the trace is. The runtime hands its events to listeners a little later, each with the wall-clock
/// time it happened; that time is turned into monotonic ticks from one reading of both clocks taken at the start, which
/// is exact enough for a bench run (a step of the wall clock meanwhile would shift the spans).
/// </summary>
public sealed class GcPauseTrace : EventListener
{
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const long GcKeyword = 0x1;
    private readonly LatencyTrace trace;
    private readonly DateTimeOffset baseUtc;
    private readonly long baseTicks;
    private long suspendedAt;

    // EventListener's constructor enables sources that already exist before this constructor's body runs; the fields
    // that OnEventSourceCreated needs are none, and events wait for `ready`.
    private volatile bool ready;

    public GcPauseTrace(LatencyTrace trace, TimeProvider time)
    {
        this.trace = trace;
        baseUtc = time.GetUtcNow();
        baseTicks = time.GetTimestamp();
        ready = true;
    }

    /// <summary>Raised after each pause is written (on the runtime's event thread).</summary>
    public event Action<LatencyTrace.SpanLine>? Recorded;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSource)
        {
            EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!ready)
        {
            return;
        }

        switch (eventData.EventName)
        {
            case "GCSuspendEEBegin_V1":
                suspendedAt = Ticks(eventData.TimeStamp);
                break;
            case "GCRestartEEEnd_V1" when suspendedAt != 0:
                var span = new LatencyTrace.SpanLine("gc", suspendedAt, Ticks(eventData.TimeStamp));
                suspendedAt = 0;
                trace.Span(span.Name, span.Start, span.End);
                Recorded?.Invoke(span);
                break;
        }
    }

    private long Ticks(DateTime at)
    {
        var utcTicks = (at.Kind == DateTimeKind.Local ? at.ToUniversalTime() : at).Ticks;
        return baseTicks + (long)((utcTicks - baseUtc.UtcTicks) * (double)System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond);
    }
}

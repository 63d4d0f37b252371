using System.Globalization;

namespace AccessControl.Events;

/// <summary>
/// Where each answered swipe's time went inside the service, one line per decision, for latency breakdowns
/// (<c>aclab bench --breakdown</c> joins it with the readers' own send and receive times). Off unless
/// <see cref="PipelineOptions.TraceFile"/> is set: it writes a line per decision and a write per batch on the pipeline's
/// thread, which a production edge does not need (its histograms are <see cref="PipelineMetrics"/>).
/// </summary>
/// <remarks>
/// A line is tab-separated: reader id, eventId, then four monotonic timestamps in <see cref="System.Diagnostics.Stopwatch"/>
/// ticks: received by the service's MQTT client, its batch's commit started, committed, its decision handed to the MQTT
/// client. On Linux the ticks are nanoseconds of <c>CLOCK_MONOTONIC</c>, the same clock in every process on the machine,
/// so they can be compared with another process's <c>Stopwatch.GetTimestamp()</c>. No card number or person is written.
/// The service also writes what ran beside the decisions, so that a slow round trip can be matched with it: a span line
/// is <c>span</c>, a name (a periodic job <c>job:NAME</c>, <c>wal-checkpoint</c>, <c>index-round</c>, <c>gc</c> for a
/// garbage-collection pause), and its start and end in the same ticks. Spans come from other threads than the pipeline's:
/// every write takes a lock, which only the pipeline's thread and those few others ever take.
/// </remarks>
public sealed class LatencyTrace : IDisposable
{
    private readonly StreamWriter writer;
    private Exception? error;

    public LatencyTrace(string path)
    {
        writer = new StreamWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read), System.Text.Encoding.UTF8, 64 * 1024);
    }

    /// <summary>
    /// The write error that stopped the trace (a full disk, say), or null. A diagnostic never fails the pipeline: after
    /// the first error nothing more is written, and the pipeline logs it once.
    /// </summary>
    public Exception? Error => error;

    public void Record(string readerId, string eventId, long received, long commitStarted, long committed, long handed) =>
        Try(() => writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{readerId}\t{eventId}\t{received}\t{commitStarted}\t{committed}\t{handed}")));

    /// <summary>Something that ran from <paramref name="start"/> to <paramref name="end"/> (monotonic ticks) beside the decisions.</summary>
    public void Span(string name, long start, long end) =>
        Try(() => writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{SpanMarker}\t{name}\t{start}\t{end}")));

    /// <summary>Makes the lines so far readable by another process (once per batch).</summary>
    public void Flush() => Try(writer.Flush);

    public void Dispose()
    {
        lock (writer)
        {
            // A span from another thread after this (a periodic job finishing late) is dropped, as after a write error.
            error ??= new IOException("The latency trace is closed.");
            try
            {
                writer.Dispose();
            }
            catch (IOException)
            {
                // What could not be flushed is lost; the trace is a diagnostic.
            }
        }
    }

    /// <summary>One span line read back; null when it is not a span line.</summary>
    public static SpanLine? ParseSpan(string text)
    {
        var parts = text.Split('\t');
        return parts.Length == 4 && parts[0] == SpanMarker
            && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            && long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var end)
            ? new SpanLine(parts[1], start, end)
            : null;
    }

    /// <summary>One line read back; null when it is not a trace line.</summary>
    public static Line? Parse(string text)
    {
        var parts = text.Split('\t');
        if (parts.Length != 6)
        {
            return null;
        }

        var stamps = new long[4];
        for (var i = 0; i < 4; i++)
        {
            if (!long.TryParse(parts[i + 2], NumberStyles.None, CultureInfo.InvariantCulture, out stamps[i]))
            {
                return null;
            }
        }

        return new Line(parts[0], parts[1], stamps[0], stamps[1], stamps[2], stamps[3]);
    }

    private void Try(Action write)
    {
        lock (writer)
        {
            if (error is not null)
            {
                return;
            }

            try
            {
                write();
            }
            catch (IOException ex)
            {
                error = ex;
            }
        }
    }

    private const string SpanMarker = "span";

    public sealed record Line(string ReaderId, string EventId, long Received, long CommitStarted, long Committed, long Handed);

    public sealed record SpanLine(string Name, long Start, long End);
}

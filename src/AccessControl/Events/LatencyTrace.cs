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

    /// <summary>Makes the lines so far readable by another process (once per batch).</summary>
    public void Flush() => Try(writer.Flush);

    public void Dispose()
    {
        try
        {
            writer.Dispose();
        }
        catch (IOException)
        {
            // What could not be flushed is lost; the trace is a diagnostic.
        }
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

    public sealed record Line(string ReaderId, string EventId, long Received, long CommitStarted, long Committed, long Handed);
}

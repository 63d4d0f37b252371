namespace AccessControl.Events;

/// <summary>
/// Where a swipe's time goes inside the service, always on (each record is one array increment): what an operator
/// watches when decisions slow down (a failing disk shows in <see cref="Commit"/>, an overloaded box in
/// <see cref="QueueWait"/>) and what the benchmark reports beside its round trips. <c>GET /api/v1/metrics/pipeline</c>.
/// </summary>
public sealed class PipelineMetrics
{
    private long batches;
    private long rows;

    /// <summary>From the service's MQTT client receiving a message to the pipeline picking it up.</summary>
    public LatencyHistogram QueueWait { get; } = new();

    /// <summary>One durable group commit of the entry log (insert, chain, fsync), per batch.</summary>
    public LatencyHistogram Commit { get; } = new();

    /// <summary>From receiving a reader event to handing its decision to the MQTT client: all the service adds.</summary>
    public LatencyHistogram Decision { get; } = new();

    /// <summary>From handing a decision to the MQTT client to the broker's PUBACK.</summary>
    public LatencyHistogram PublishAck { get; } = new();

    public long Batches => Interlocked.Read(ref batches);

    public long Rows => Interlocked.Read(ref rows);

    internal void Committed(int count)
    {
        Interlocked.Increment(ref batches);
        Interlocked.Add(ref rows, count);
    }

    /// <summary>The whole set at one moment.</summary>
    public PipelineMetricsSnapshot Snapshot() =>
        new(QueueWait.Snapshot(), Commit.Snapshot(), Decision.Snapshot(), PublishAck.Snapshot(), Batches, Rows);
}

/// <summary>A <see cref="PipelineMetrics"/> reading; <see cref="Since"/> gives the window between two readings.</summary>
public sealed record PipelineMetricsSnapshot(
    HistogramSnapshot QueueWait, HistogramSnapshot Commit, HistogramSnapshot Decision, HistogramSnapshot PublishAck, long Batches, long Rows)
{
    public PipelineMetricsSnapshot Since(PipelineMetricsSnapshot earlier) =>
        new(QueueWait.Since(earlier.QueueWait), Commit.Since(earlier.Commit), Decision.Since(earlier.Decision),
            PublishAck.Since(earlier.PublishAck), Batches - earlier.Batches, Rows - earlier.Rows);
}

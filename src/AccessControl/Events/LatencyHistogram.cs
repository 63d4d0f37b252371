namespace AccessControl.Events;

/// <summary>
/// A lock-free latency histogram for a hot path: recording is one array increment, so it can stay on in production.
/// Buckets are log-linear in microseconds (exact below 64 µs, then 32 sub-buckets per power of two: within about 3 %),
/// from 0 to about 18 minutes; longer values land in the last bucket.
/// </summary>
/// <remarks>Counts only grow; a reader takes a <see cref="Snapshot"/> and subtracts an earlier one for a window.</remarks>
public sealed class LatencyHistogram
{
    private const int Linear = 64;
    private const int SubBuckets = 32;
    private const int Octaves = 25;

    /// <summary>Number of buckets; bucket i covers values up to <see cref="UpperMicros"/>(i).</summary>
    public const int BucketCount = Linear + (Octaves * SubBuckets);

    private readonly long[] counts = new long[BucketCount];
    private long maxMicros;

    /// <summary>Records one value (negative values count as 0).</summary>
    public void Record(TimeSpan value)
    {
        var micros = Math.Max(0L, value.Ticks / TimeSpan.TicksPerMicrosecond);
        Interlocked.Increment(ref counts[IndexOf(micros)]);
        var max = Volatile.Read(ref maxMicros);
        while (micros > max)
        {
            var seen = Interlocked.CompareExchange(ref maxMicros, micros, max);
            if (seen == max)
            {
                break;
            }

            max = seen;
        }
    }

    /// <summary>The counts so far (not atomic across buckets; exact enough for monitoring).</summary>
    public HistogramSnapshot Snapshot()
    {
        var copy = new long[BucketCount];
        for (var i = 0; i < BucketCount; i++)
        {
            copy[i] = Volatile.Read(ref counts[i]);
        }

        return new HistogramSnapshot(copy, Volatile.Read(ref maxMicros));
    }

    /// <summary>Largest value bucket <paramref name="index"/> holds, in microseconds.</summary>
    public static long UpperMicros(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        var octave = (index - Linear) / SubBuckets;
        var sub = (index - Linear) % SubBuckets;
        var shift = octave + 1;
        return ((SubBuckets + sub + 1L) << shift) - 1;
    }

    /// <summary>The bucket a value in microseconds falls into.</summary>
    public static int IndexOf(long micros)
    {
        if (micros < Linear)
        {
            return (int)micros;
        }

        // 64 <= micros: the top six bits select the octave's sub-bucket (32..63), the rest is dropped.
        var shift = 63 - (int)long.LeadingZeroCount(micros) - 5;
        var index = Linear + ((shift - 1) * SubBuckets) + (int)((micros >> shift) - SubBuckets);
        return Math.Min(index, BucketCount - 1);
    }
}

/// <summary>Counts of a <see cref="LatencyHistogram"/> at one moment, with percentiles.</summary>
public sealed class HistogramSnapshot(long[] counts, long maxMicros)
{
    private readonly long[] counts = counts;

    public long Count { get; } = counts.Sum();

    /// <summary>Largest value ever recorded (not per window), in microseconds.</summary>
    public long MaxMicros { get; } = maxMicros;

    /// <summary>Rebuilds a snapshot from its non-empty buckets (as <see cref="Buckets"/> lists them).</summary>
    public static HistogramSnapshot FromBuckets(IEnumerable<(long UpperMicros, long Count)> buckets, long maxMicros)
    {
        var counts = new long[LatencyHistogram.BucketCount];
        foreach (var (upper, count) in buckets)
        {
            counts[LatencyHistogram.IndexOf(upper)] += count;
        }

        return new HistogramSnapshot(counts, maxMicros);
    }

    /// <summary>The non-empty buckets, by their upper bound in microseconds.</summary>
    public IEnumerable<(long UpperMicros, long Count)> Buckets()
    {
        for (var i = 0; i < counts.Length; i++)
        {
            if (counts[i] != 0)
            {
                yield return (LatencyHistogram.UpperMicros(i), counts[i]);
            }
        }
    }

    /// <summary>The counts recorded since <paramref name="earlier"/>, a snapshot of the same histogram.</summary>
    public HistogramSnapshot Since(HistogramSnapshot earlier)
    {
        var window = new long[counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            window[i] = counts[i] - earlier.counts[i];
        }

        return new HistogramSnapshot(window, MaxMicros);
    }

    /// <summary>Nearest-rank percentile (0 &lt; p &lt;= 1) as its bucket's upper bound, in milliseconds; 0 when empty.</summary>
    public double Percentile(double p)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(p * Count);
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= rank)
            {
                return LatencyHistogram.UpperMicros(i) / 1000.0;
            }
        }

        return LatencyHistogram.UpperMicros(counts.Length - 1) / 1000.0;
    }
}

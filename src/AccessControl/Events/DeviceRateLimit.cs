namespace AccessControl.Events;

/// <summary>
/// How fast one device's messages are taken: a token bucket per device id (one instance for readers, one for doors) over the
/// machine's monotonic time of each message's arrival, <see cref="PipelineOptions.DeviceBurst"/> deep and refilled one
/// token per <see cref="PipelineOptions.DeviceInterval"/>.
/// </summary>
/// <remarks>
/// <para>Without it one device with valid credentials (a stolen reader secret) could send as fast as the broker takes
/// messages, and every one became a durable row decided in the one queue all doors share: the other doors' swipes
/// waited behind it, the disk filled, and a reader could try card UIDs by the thousand a second, hearing which ones
/// exist from the deny reasons. Real devices send a card a second at most and replay a buffer once after an outage.</para>
/// <para>Owned by the pipeline's single loop: not thread-safe. Forgotten at a restart.</para>
/// </remarks>
internal sealed class DeviceRateLimit(int burst, TimeSpan interval)
{
    private readonly Dictionary<string, Bucket> buckets = new(StringComparer.Ordinal);

    /// <summary>Whether a message of <paramref name="device"/> that arrived at <paramref name="received"/> (a <see cref="TimeProvider.GetTimestamp"/>) is taken; uses a token if so.</summary>
    public bool TryTake(string device, long received, TimeProvider time)
    {
        if (!buckets.TryGetValue(device, out var bucket))
        {
            buckets[device] = new Bucket(burst - 1, received);
            return true;
        }

        // Whole intervals since the last refill; the remainder carries over. Arrival times from several producers may be a
        // little out of order: an earlier one refills nothing.
        var elapsed = received > bucket.Refilled ? time.GetElapsedTime(bucket.Refilled, received) : TimeSpan.Zero;
        var earned = elapsed.Ticks / interval.Ticks;
        if (earned > 0)
        {
            bucket.Tokens = (int)Math.Min(burst, bucket.Tokens + earned);
            bucket.Refilled = bucket.Tokens == burst ? received : bucket.Refilled + (long)(earned * interval.Ticks * (time.TimestampFrequency / (double)TimeSpan.TicksPerSecond));
        }

        if (bucket.Tokens == 0)
        {
            bucket.Dropped++;
            return false;
        }

        bucket.Tokens--;
        return true;
    }

    /// <summary>How many messages of <paramref name="device"/> were not taken since the service started.</summary>
    public long Dropped(string device) => buckets.TryGetValue(device, out var bucket) ? bucket.Dropped : 0;

    private sealed class Bucket(int tokens, long refilled)
    {
        public int Tokens { get; set; } = tokens;

        public long Refilled { get; set; } = refilled;

        public long Dropped { get; set; }
    }
}

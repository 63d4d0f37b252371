using AccessControl.Protocol;

namespace AccessControl.HardwareSim.Devices;

/// <summary>
/// Tunables every simulated device shares: where the broker is, how the connection is kept alive and how events
/// are retried and buffered. Durations are <see cref="TimeSpan"/>s measured on the device's injected
/// <see cref="TimeProvider"/>, so that tests can drive them without sleeping; only <see cref="ConnectTimeout"/>,
/// which bounds real network I/O, is real time.
/// </summary>
public sealed record DeviceOptions
{
    public BrokerEndpoint Broker { get; init; } = BrokerEndpoint.Default;

    /// <summary>TLS with the site CA and a per-device client certificate; null: plain TCP with the password only.</summary>
    public DeviceTlsOptions? Tls { get; init; }

    /// <summary>Topic root of protocol v1; see <see cref="Topics"/>.</summary>
    public string TopicRoot { get; init; } = Topics.DefaultRoot;

    /// <summary>Reported in status messages, like real firmware reports its build.</summary>
    public string Firmware { get; init; } = "hardware-sim/1.0";

    /// <summary>How often the connection loop pings the broker to find a dead connection.</summary>
    public TimeSpan ConnectionCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay between reconnection attempts; doubles up to <see cref="MaxReconnectDelay"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Time allowed for one network operation: a connection attempt (TCP, CONNECT, subscriptions, status), a ping or
    /// a publish. Unlike every other duration here it is real time, because it bounds real I/O.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>MQTT keep-alive; the broker publishes the last will when it hears nothing for 1.5 times this.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Whether seq starts from the first event's time in microseconds (true, the default: like firmware that persists its
    /// counter, it never goes back across restarts, which replay protection requires) or from 1 (protocol examples in tests).
    /// </summary>
    public bool SeqFromClock { get; init; } = true;

    /// <summary>
    /// An event that awaits a decision is re-sent (same eventId and seq) when none came within this time; the wait
    /// then doubles at each re-send up to <see cref="MaxResendInterval"/> (reader-protocol §7.2).
    /// </summary>
    public TimeSpan ResendInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest wait between two re-sends of an event: firmware keeps re-sending at this pace until the decision arrives.</summary>
    public TimeSpan MaxResendInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// An event still held this long after it was made (no decision, or not taken by the broker) is re-sent with
    /// <c>"offline":true</c>, otherwise unchanged (reader-protocol §7.2): the service refuses a live event whose <c>at</c>
    /// is more than 5 minutes old (<c>replay_suspected</c>), but takes an offline replay up to 24 hours old.
    /// </summary>
    public TimeSpan MarkOfflineAfter { get; init; } = TimeSpan.FromMinutes(4);

    /// <summary>
    /// How long a device goes on re-sending (every <see cref="MaxResendInterval"/>) while the broker answers PUBACK
    /// <c>0x87</c> before it stops and disconnects (reader-protocol §3): re-sending does not change a <c>0x87</c>.
    /// </summary>
    public TimeSpan NotAuthorizedTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// After a <c>pending</c> decision (card accepted, fingerprint wanted), how long the device waits for the final
    /// decision before it gives up on the event and goes back to idle, as a reader's display does. 70 s, as
    /// reader-protocol §6.3 says: longer than the longest fingerprint timeout a zone may have (60 s), after which the
    /// service sends the final deny itself, a moment later (it checks about once a second).
    /// </summary>
    public TimeSpan FinalDecisionTimeout { get; init; } = TimeSpan.FromSeconds(70);

    /// <summary>Events held (unsent or unacknowledged) at most; the oldest is overwritten when full, like a ring buffer.</summary>
    public int BufferCapacity { get; init; } = 1000;

    /// <summary>
    /// Receives one line per notable thing the device does (connections, re-sends, faults), with control, bidi and other
    /// invisible characters already escaped (<c>\x1B</c>, <c>\n</c>, <c>\u202E</c>): safe to print. Null: silent.
    /// </summary>
    public Action<string>? Log { get; init; }

    /// <summary>Throws when a value would make the device misbehave; called by every device constructor.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Broker);
        _ = new Topics(TopicRoot);
        Positive(ConnectionCheckInterval, nameof(ConnectionCheckInterval));
        Positive(ReconnectDelay, nameof(ReconnectDelay));
        Positive(MaxReconnectDelay, nameof(MaxReconnectDelay));
        Positive(ConnectTimeout, nameof(ConnectTimeout));
        Positive(KeepAlive, nameof(KeepAlive));
        Positive(ResendInterval, nameof(ResendInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxResendInterval, ResendInterval);
        Positive(FinalDecisionTimeout, nameof(FinalDecisionTimeout));
        Positive(NotAuthorizedTimeout, nameof(NotAuthorizedTimeout));
        Positive(MarkOfflineAfter, nameof(MarkOfflineAfter));
        ArgumentOutOfRangeException.ThrowIfLessThan(BufferCapacity, 1);
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
        }
    }
}

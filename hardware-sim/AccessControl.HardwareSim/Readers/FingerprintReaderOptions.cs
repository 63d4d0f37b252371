using AccessControl.Fingerprints;

namespace AccessControl.HardwareSim.Readers;

/// <summary>What is particular to a fingerprint reader, beyond <see cref="Devices.DeviceOptions"/>.</summary>
public sealed record FingerprintReaderOptions
{
    /// <summary>How often the reader says it is alive. <see cref="TimeSpan.Zero"/> turns heartbeats off (handy in tests).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a presented finger stays on the sensor waiting for a verify request, for a person who puts their finger
    /// down right after the card, a moment before the service's request arrives. Then it is lifted, unused.
    /// </summary>
    public TimeSpan FingerDwell { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a verify request is held when its command says no positive <c>timeoutSeconds</c>.</summary>
    public TimeSpan DefaultRequestTimeout { get; init; } = FingerprintPolicy.Default.Timeout.ToTimeSpan();

    /// <summary>Seed of the capture noise. Null: derived from the reader id, so that every run of a scenario scores alike.</summary>
    public int? Seed { get; init; }

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(HeartbeatInterval, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(FingerDwell, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DefaultRequestTimeout, TimeSpan.Zero);
    }
}

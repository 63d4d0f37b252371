namespace AccessControl.HardwareSim.Readers;

/// <summary>What is particular to a card reader, beyond <see cref="Devices.DeviceOptions"/>.</summary>
public sealed record CardReaderOptions
{
    /// <summary>How often the reader says it is alive. <see cref="TimeSpan.Zero"/> turns heartbeats off (handy in tests).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(30);

    public void Validate() => ArgumentOutOfRangeException.ThrowIfLessThan(HeartbeatInterval, TimeSpan.Zero);
}

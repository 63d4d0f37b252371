namespace AccessControl.HardwareSim.Doors;

/// <summary>
/// How the simulated door hardware and the simulated person behave. A real controller only reports what its
/// door-position sensor sees; here a simulated person decides when that changes.
/// </summary>
public sealed record DoorControllerOptions
{
    /// <summary>Whether a person walks through every time the strike is released (as after a granted swipe).</summary>
    public bool AutoOpenOnUnlock { get; init; } = true;

    /// <summary>From the strike releasing to the person pulling the door open. Zero: at once.</summary>
    public TimeSpan OpenDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the door stays open when a person walks through (or forces it) before it swings shut.</summary>
    public TimeSpan OpenFor { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How often the controller says it is alive (on its first door's events topic). <see cref="TimeSpan.Zero"/>, the
    /// default, sends none, like a controller whose site file entry has no <c>heartbeatSeconds</c>.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.Zero;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(OpenDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(OpenFor, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(HeartbeatInterval, TimeSpan.Zero);
    }
}

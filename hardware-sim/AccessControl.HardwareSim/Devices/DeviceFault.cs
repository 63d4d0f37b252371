namespace AccessControl.HardwareSim.Devices;

/// <summary>What a device reports as a fault on its display or LED: something only a technician can fix.</summary>
public enum DeviceFaultKind
{
    /// <summary>The broker refused an event as too large (PUBACK <c>0x95</c>): it can never be taken, so it was dropped.</summary>
    PayloadTooLarge,

    /// <summary>
    /// The broker refused an event as not authorized (PUBACK <c>0x87</c>): the device may no longer use its topic
    /// (removed by a site reload, or firmware on a wrong topic). The event is kept and re-sent at the longest interval.
    /// </summary>
    NotAuthorized,

    /// <summary>
    /// Refusals <c>0x87</c> went on for <see cref="DeviceOptions.NotAuthorizedTimeout"/>: the device stopped re-sending
    /// and disconnected. Its events stay in the buffer for the next connection, if the broker lets it in again.
    /// </summary>
    GaveUpNotAuthorized,
}

/// <summary>A fault a device reported about one of its events (reader-protocol §3, PUBACK reason codes).</summary>
/// <param name="Elapsed">From the moment the event was made to the fault, on the device's time provider.</param>
/// <param name="Detail">The broker's reason code and reason string, as firmware would show them.</param>
public sealed record DeviceFault(DeviceFaultKind Kind, string EventId, long Seq, TimeSpan Elapsed, string Detail);

namespace AccessControl.HardwareSim.Devices;

/// <summary>A snapshot of what a device has done with its events since it was created.</summary>
/// <param name="Sent">Events published for the first time (the broker acknowledged the publish).</param>
/// <param name="Acked">Events retired by their acknowledgement: a decision for a card event, the broker's PUBACK for the rest.</param>
/// <param name="Resent">Publishes of an event that had been published before (no decision in time, or a reconnection).</param>
/// <param name="Buffered">Events made while the device was offline and so held in its buffer.</param>
/// <param name="Dropped">Events overwritten because the buffer was full.</param>
/// <param name="Pending">Events held right now: not yet sent, or sent and awaiting their decision.</param>
public readonly record struct DeviceCounters(long Sent, long Acked, long Resent, long Buffered, long Dropped, int Pending);

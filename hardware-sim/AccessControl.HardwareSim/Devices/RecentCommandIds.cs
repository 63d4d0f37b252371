namespace AccessControl.HardwareSim.Devices;

/// <summary>
/// The commandIds a device handled last: QoS 1 may deliver a command twice, and reader-protocol §6.5 and §6.7 ask a
/// device to ignore a commandId it has already handled. Bounded, as firmware memory is: the oldest is forgotten first.
/// Not thread-safe: the device calls it under its own lock.
/// </summary>
internal sealed class RecentCommandIds(int capacity = 64)
{
    private readonly Queue<string> order = new();
    private readonly HashSet<string> ids = new(StringComparer.Ordinal);

    /// <summary>Remembers <paramref name="commandId"/>; false when it was already remembered (a repeat).</summary>
    public bool Add(string commandId)
    {
        if (!ids.Add(commandId))
        {
            return false;
        }

        order.Enqueue(commandId);
        if (order.Count > capacity)
        {
            ids.Remove(order.Dequeue());
        }

        return true;
    }
}

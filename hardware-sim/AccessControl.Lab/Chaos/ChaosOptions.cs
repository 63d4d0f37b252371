namespace AccessControl.Lab.Chaos;

/// <summary>What a chaos run does: how many card events the readers present, and how many times each fault strikes.</summary>
public sealed record ChaosOptions
{
    public int Events { get; init; } = 10_000;

    /// <summary>Mosquitto killed (SIGKILL) and started again 2 s later.</summary>
    public int BrokerRestarts { get; init; } = 3;

    /// <summary>The service killed (SIGKILL) and started again on the same data folder.</summary>
    public int ServiceKills { get; init; } = 2;

    /// <summary>
    /// Steps of the service's wall clock (libfaketime), its monotonic clock untouched: to 3 min behind, back to the real
    /// time, to 3 min ahead, back, and so on: each a step of 3 min, all within the readers' 5-minute skew window.
    /// </summary>
    public int ClockJumps { get; init; }

    /// <summary>One reader at a time cut off from the broker (its last will published) while a wave of cards is presented on it.</summary>
    public int ReaderOutages { get; init; }

    /// <summary>The data folder on a small tmpfs, filled to ENOSPC once mid-run and freed again.</summary>
    public bool DiskFull { get; init; }

    public int Faults => BrokerRestarts + ServiceKills + ClockJumps + ReaderOutages + (DiskFull ? 1 : 0);

    /// <summary>
    /// The faults in the order they strike: one of each kind in turn (broker, service, clock, outage, disk) while any
    /// are left, so that different faults follow each other.
    /// </summary>
    public IReadOnlyList<ChaosFault> Schedule()
    {
        var counts = new (ChaosFault Fault, int Count)[]
        {
            (ChaosFault.BrokerRestart, BrokerRestarts), (ChaosFault.ServiceKill, ServiceKills), (ChaosFault.ClockJump, ClockJumps),
            (ChaosFault.ReaderOutage, ReaderOutages), (ChaosFault.DiskFull, DiskFull ? 1 : 0),
        };
        var schedule = new List<ChaosFault>();
        for (var round = 0; schedule.Count < Faults; round++)
        {
            schedule.AddRange(counts.Where(c => round < c.Count).Select(c => c.Fault));
        }

        return schedule;
    }

    public void Validate()
    {
        if (Events < 4 || BrokerRestarts < 0 || ServiceKills < 0 || ClockJumps < 0 || ReaderOutages < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Events), "at least 4 events, and no negative fault counts");
        }
    }
}

/// <summary>The faults a chaos run knows.</summary>
public enum ChaosFault
{
    BrokerRestart,
    ServiceKill,
    ClockJump,
    ReaderOutage,
    DiskFull,
}

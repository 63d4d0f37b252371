using AccessControl.Protocol;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>
/// Tracks when each reader was last heard from. A reader is offline after three missed heartbeat intervals or
/// when its last will says so; it is back online when heard from again. Readers never heard from since the service
/// started count from the start, so a reader that never connects is reported too. Owned by the event pipeline.
/// </summary>
public sealed class ReaderWatch(Instant startedAt)
{
    private Instant startedAt = startedAt;

    /// <summary>
    /// Readers of <paramref name="topology"/> reported offline and not heard from since (one taken out of the site file
    /// while offline is no longer counted). Asked after every commit: nothing to count while all are online.
    /// </summary>
    public int OfflineCount(SiteTopology topology) => offline.Count == 0 ? 0 : offline.Count(topology.Readers.ContainsKey);

    /// <summary>Missed heartbeat intervals before a reader is declared offline.</summary>
    public const int MissedHeartbeats = 3;

    private readonly Dictionary<ReaderId, Instant> lastSeen = [];
    private readonly HashSet<ReaderId> offline = [];
    private readonly RefusedMessages<ReaderId> refused = new();

    /// <summary>
    /// Readers reported offline before the service started and not heard from since (<see cref="OfflineHistory"/>): still
    /// offline, so that they are counted, not reported again while silent, and reported back online when heard from.
    /// </summary>
    public void Restore(IEnumerable<ReaderId> offlineBefore) => offline.UnionWith(offlineBefore);

    /// <summary>The reader sent something. Returns a reader_online alarm if it had been reported offline.</summary>
    public Alarm? Seen(Reader reader, Door door, Instant at)
    {
        lastSeen[reader.Id] = at;
        refused.Forget(reader.Id);
        return offline.Remove(reader.Id)
            ? new Alarm(AlarmTypes.ReaderOnline, door.Site.Value, door.Id.Value, reader.Id.Value, "reader is back online")
            : null;
    }

    /// <summary>
    /// A heartbeat or event of the reader was refused as a suspected replay, <paramref name="why"/>: not a sign of life,
    /// but its silence alarm will say that its messages arrive and are refused.
    /// </summary>
    public void Refused(Reader reader, Instant at, string why) => refused.Note(reader.Id, at, why);

    /// <summary>The reader's last will or its own offline status arrived.</summary>
    public Alarm? WentOffline(Reader reader, Door door, string why) =>
        offline.Add(reader.Id)
            ? new Alarm(AlarmTypes.ReaderOffline, door.Site.Value, door.Id.Value, reader.Id.Value, why)
            : null;

    /// <summary>
    /// The service clock stepped (NTP, an operator): silence is counted again from <paramref name="now"/> for every
    /// reader not already reported offline. A step forward would otherwise make every quiet reader look silent at once,
    /// and a step back would hide a silent one; the price is that a reader that fell silent just before the step is
    /// reported up to three heartbeat intervals later. Readers already offline stay offline until heard from.
    /// </summary>
    public void ClockStepped(Instant now)
    {
        // Every reader then counts as last heard at the step, as readers never heard do from the start.
        startedAt = now;
        lastSeen.Clear();
        refused.Clear();
    }

    /// <summary>Readers silent for more than three heartbeat intervals, each reported once until heard from again.</summary>
    public IEnumerable<Alarm> Check(Instant now, SiteTopology topology)
    {
        foreach (var reader in topology.Readers.Values)
        {
            if (offline.Contains(reader.Id) || !topology.Doors.TryGetValue(reader.Door, out var door))
            {
                continue;
            }

            var seen = lastSeen.TryGetValue(reader.Id, out var at) ? at : startedAt;
            if (now - seen > reader.HeartbeatInterval * MissedHeartbeats)
            {
                offline.Add(reader.Id);
                yield return new Alarm(AlarmTypes.ReaderOffline, door.Site.Value, door.Id.Value, reader.Id.Value,
                    refused.Silence(reader.Id, "reader", MissedHeartbeats, reader.HeartbeatInterval * MissedHeartbeats, now));
            }
        }
    }
}

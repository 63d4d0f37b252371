using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;

namespace AccessControl.Events;

/// <summary>
/// Who is inside which anti-passback zone, rebuilt from the entry log at start-up, so that a restart does not let a
/// card be passed back through a hard anti-passback door: for each person and zone, the latest live grant at a door
/// into that zone says, by the zone its row names, whether they went in or came out. Offline replays never moved anyone (they open
/// nothing) and are left out, as the pipeline leaves them out. The log's index keeps the newest grant of each person at
/// each reader (<see cref="LogIndex"/>), so a start reads one row per person and reader, not every grant ever logged.
/// </summary>
public static class PassbackHistory
{
    // Past the index's watermark the log itself; up to it the index's newest grant per person and reader (not purged).
    // Each with the door it opened and the zone it led into, from its row (by seq, the log's key).
    private const string IndexedLatestGrantsSql = $"""
        SELECT g.person_id, g.reader_id, g.seq, e.door_id, e.zone_id FROM (
            SELECT person_id, reader_id, seq FROM ix.latest_grants
            WHERE seq > (SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge)
            UNION ALL
            SELECT person_id, reader_id, MAX(seq) FROM entry_log
            WHERE seq > @w AND {LogIndex.LiveGrant}
            GROUP BY person_id, reader_id) g
        JOIN entry_log e ON e.seq = g.seq
        """;

    // Without an index (a log no service has indexed yet), every grant of the log.
    private const string LatestGrantsSql = $"""
        SELECT g.person_id, g.reader_id, g.seq, e.door_id, e.zone_id FROM (
            SELECT person_id, reader_id, MAX(seq) AS seq FROM entry_log
            WHERE {LogIndex.LiveGrant}
            GROUP BY person_id, reader_id) g
        JOIN entry_log e ON e.seq = g.seq
        """;

    /// <summary>Reads the state for the zones of <paramref name="topology"/> that track anti-passback.</summary>
    public static PassbackState Load(Database database, SiteTopology topology)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(topology);
        var latest = new Dictionary<(PersonId Person, ZoneId Zone), (long Seq, bool Inside)>();
        foreach (var (person, _, seq, doorId, zoneId) in LatestGrants(database))
        {
            // Read from the row (the door it opened, the zone it led into), not from where its reader is now: a site file
            // that moved the reader to another door, or turned it round, must not rewrite who went where. Otherwise a
            // card that went in through a reader since moved away counts as never seen, and is passed back in.
            if (doorId is null
                || !topology.Doors.TryGetValue(new DoorId(doorId), out var door)
                || !topology.Zones.TryGetValue(door.To, out var zone)
                || zone.AntiPassback == AntiPassbackMode.Off)
            {
                continue;
            }

            var key = (new PersonId(person), zone.Id);
            if (!latest.TryGetValue(key, out var known) || known.Seq < seq)
            {
                latest[key] = (seq, door.DirectionInto(zoneId) == Direction.In);
            }
        }

        return latest.Aggregate(PassbackState.Empty, (state, entry) => state.Apply(new PassbackMove(entry.Key.Person, entry.Key.Zone, entry.Value.Inside)));
    }

    /// <summary>
    /// The newest live grant of each person at each reader (through the log's index when there is one), with the door
    /// and the zone its row names (the zone is null for leaving the site).
    /// </summary>
    internal static IReadOnlyList<(string Person, string Reader, long Seq, string? Door, string? Zone)> LatestGrants(Database database)
    {
        using var log = LogSnapshot.Open(database);
        var rows = log.Connection.Query<(string Person, string Reader, long Seq, string? Door, string? Zone)>(
            log.Indexed ? IndexedLatestGrantsSql : LatestGrantsSql, new { w = log.Watermark }, log.Transaction);

        // A person and reader can come from both sides (indexed, and granted again since): the newer one counts.
        return [.. rows.GroupBy(r => (r.Person, r.Reader)).Select(g => g.MaxBy(r => r.Seq))];
    }
}

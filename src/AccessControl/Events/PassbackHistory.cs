using System.Runtime.InteropServices;
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
/// Past its watermark (the whole log when there is no usable index: a restore, a deleted or damaged file, a schema
/// upgrade) one pass down the log, newest first, keeps the first grant of each person and reader: no sort, so the
/// time grows with the log, linearly, and the doors are shut no longer than that.
/// </summary>
public static class PassbackHistory
{
    // Up to the index's watermark, the index's newest grant per person and reader (not purged), with the door it opened
    // and the zone it led into, from its row (by seq, the log's key).
    private const string IndexedLatestGrantsSql = """
        SELECT g.person_id, g.reader_id, g.seq, e.door_id, e.zone_id FROM ix.latest_grants g
        JOIN entry_log e ON e.seq = g.seq
        WHERE g.seq > (SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge)
        """;

    // Past the watermark (the whole log without an index), every live grant, newest first: the first row of a person
    // and reader is their newest. One pass down the log's rowid b-tree, no sort: a GROUP BY person and reader sorted
    // every grant ever logged in a temporary b-tree (2.3 s of a 2-million-row log's start; minutes for a year's log).
    private const string TailSql = $"""
        SELECT person_id, reader_id, seq, door_id, zone_id FROM entry_log
        WHERE seq > $w AND {LogIndex.LiveGrant}
        ORDER BY seq DESC
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
            if (doorId is null || !topology.Doors.TryGetValue(new DoorId(doorId), out var door))
            {
                continue;
            }

            // The door's inner zone and, at a perimeter door, every zone around it (as the engine moves them).
            // A door written outwards guards its from zone (as the engine reads it): its row went inside when it led there.
            var inside = door.DirectionInto(zoneId) == (topology.IsWrittenOutwards(door) ? Direction.Out : Direction.In);
            foreach (var zone in topology.ZonesCrossedBy(door))
            {
                var key = (new PersonId(person), zone.Id);
                if (zone.AntiPassback != AntiPassbackMode.Off && (!latest.TryGetValue(key, out var known) || known.Seq < seq))
                {
                    latest[key] = (seq, inside);
                }
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
        var latest = new Dictionary<(string Person, string Reader), (long Seq, string? Door, string? Zone)>();
        using (var pass = new LogPass(log, TailSql, ("$w", log.Watermark)))
        {
            while (pass.Read())
            {
                ref var newest = ref CollectionsMarshal.GetValueRefOrAddDefault(latest, (pass.GetString(0)!, pass.GetString(1)!), out var seen);
                if (!seen)
                {
                    newest = (pass.GetInt64(2), pass.GetString(3), pass.GetString(4));
                }
            }
        }

        if (log.Indexed)
        {
            // A person and reader granted again past the watermark has a newer row there than any the index holds.
            foreach (var (person, reader, seq, door, zone) in log.Connection.Query<(string, string, long, string?, string?)>(IndexedLatestGrantsSql, transaction: log.Transaction))
            {
                latest.TryAdd((person, reader), (seq, door, zone));
            }
        }

        return [.. latest.Select(g => (g.Key.Person, g.Key.Reader, g.Value.Seq, g.Value.Door, g.Value.Zone))];
    }
}

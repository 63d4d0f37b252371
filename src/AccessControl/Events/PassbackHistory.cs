using AccessControl.Decisions;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;

namespace AccessControl.Events;

/// <summary>
/// Who is inside which anti-passback zone, rebuilt from the entry log at start-up, so that a restart does not let a
/// card be passed back through a hard anti-passback door: for each person and zone, the latest live grant at a reader
/// of a door into that zone says whether they went in or came out. Offline replays never moved anyone (they open
/// nothing) and are left out, as the pipeline leaves them out.
/// </summary>
public static class PassbackHistory
{
    private const string LatestGrantsSql = """
        SELECT person_id AS Person, reader_id AS Reader, MAX(seq) AS Seq FROM entry_log
        WHERE kind = 'access' AND decision = 'grant' AND offline = 0 AND person_id IS NOT NULL AND reader_id IS NOT NULL
        GROUP BY person_id, reader_id
        """;

    /// <summary>Reads the state for the zones of <paramref name="topology"/> that track anti-passback.</summary>
    public static PassbackState Load(Database database, SiteTopology topology)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(topology);
        using var connection = database.Open();
        var latest = new Dictionary<(PersonId Person, ZoneId Zone), (long Seq, bool Inside)>();
        foreach (var (person, readerId, seq) in connection.Query<(string Person, string Reader, long Seq)>(LatestGrantsSql))
        {
            if (!topology.Readers.TryGetValue(new ReaderId(readerId), out var reader)
                || !topology.Doors.TryGetValue(reader.Door, out var door)
                || !topology.Zones.TryGetValue(door.To, out var zone)
                || zone.AntiPassback == AntiPassbackMode.Off)
            {
                continue;
            }

            var key = (new PersonId(person), zone.Id);
            if (!latest.TryGetValue(key, out var known) || known.Seq < seq)
            {
                latest[key] = (seq, reader.Direction == Direction.In);
            }
        }

        return latest.Aggregate(PassbackState.Empty, (state, entry) => state.Apply(new PassbackMove(entry.Key.Person, entry.Key.Zone, entry.Value.Inside)));
    }
}

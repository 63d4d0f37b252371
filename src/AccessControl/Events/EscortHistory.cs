using System.Text.Json;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Events;

/// <summary>
/// Who is inside the escort-tracked zones, and who brought them, rebuilt from the entry log when the service starts:
/// without it a restart forgets that a visitor is in the server room, and the escort who then walks out alone raises no
/// <c>visitor_unescorted</c> alarm (NIST PE-2(3), PCI DSS 9.3).
/// </summary>
/// <remarks>
/// The granted, live (not offline-replayed) access rows of the last <see cref="PipelineOptions.EscortRebuildWindow"/> are
/// replayed in log order through the engine's own occupancy rule (<see cref="DecisionEngine.Occupancy"/>), each at the
/// door its row names and in the way its row's zone says (the door's <c>to</c> zone, or its <c>from</c> one), not where its
/// reader is now, as <see cref="PassbackHistory"/> does; the engine's rule then moves the zone the door guards and, at
/// a perimeter door, every zone around it. The escort comes from the row's
/// <c>escort</c> detail. Escort windows are not rebuilt: they last seconds, and without one a visitor is refused
/// (<c>escort_required</c>) until the escort badges again, which fails closed.
/// </remarks>
public static class EscortHistory
{
    private const string GrantsSql = $"""
        SELECT seq AS Seq, door_id AS Door, zone_id AS Zone, person_id AS Person, detail AS Detail FROM entry_log
        WHERE {LogIndex.LiveGrant} AND seq >= @first AND at >= @since
        ORDER BY seq
        """;

    /// <summary>
    /// The state rebuilt from the grants since <paramref name="since"/>. A grant whose detail the service did not write
    /// (a changed database) is left out, with an error naming it on <paramref name="logger"/>: without it the visitor
    /// it let in counts as outside, and an escort who walks out alone raises no alarm for them, but every other door works.
    /// </summary>
    public static EscortState Load(Database database, SiteTopology topology, Instant since, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(logger);
        using var log = LogSnapshot.Open(database);
        var state = EscortState.Empty;
        if (log.FirstSeqSince(since) is not { } first)
        {
            return state;
        }

        var rows = log.Connection.Query<(long Seq, string? Door, string? Zone, string Person, string? Detail)>(GrantsSql, new { first, since = since.ToUnixTimeMilliseconds() }, log.Transaction);
        foreach (var (seq, doorId, zoneId, personId, detail) in rows)
        {
            // Read from the row (the door it opened, the zone it led into), not from where its reader is now: a site file
            // that moved the reader to another door, or turned it round, must not rewrite who went where. Otherwise a
            // visitor escorted in through a reader since moved away counts as somewhere else, and their escort walks out
            // alone with no visitor_unescorted alarm. A row whose door leads neither into nor out of its zone any more
            // (the door's zones changed) says nothing about the door as it is now.
            if (doorId is null || !topology.Doors.TryGetValue(new DoorId(doorId), out var door)
                || door.DirectionInto(zoneId) is not { } direction)
            {
                continue;
            }

            var person = new PersonId(personId);
            if (!TryEscortOf(seq, detail, logger, out var escort))
            {
                continue;
            }

            var used = escort is null ? null : new EscortWindow(escort.Value, door.Id, direction, door.To, Instant.MinValue, Instant.MinValue, 0, []);
            var outcome = DecisionEngine.Occupancy(person, door, direction, used, topology, state);
            state = state.Apply(outcome);
        }

        return state;
    }

    /// <summary>The escort a grant's detail names, if any; false for a detail the service did not write (reported).</summary>
    private static bool TryEscortOf(long seq, string? detail, ILogger logger, out PersonId? escort)
    {
        escort = null;
        // Most grants came in without an escort: only those rows are worth parsing (start-up reads a day of grants).
        if (detail is null || !detail.Contains("\"escort\":", StringComparison.Ordinal))
        {
            return true;
        }

        using var json = StoredDetail.ParseObject(seq, detail, logger, "the person it let in is not counted inside the escort-tracked zones");
        if (json is null)
        {
            return false;
        }

        if (json.RootElement.TryGetProperty("escort", out var named) && named.ValueKind == JsonValueKind.String && named.GetString() is { Length: > 0 } id)
        {
            escort = new PersonId(id);
        }

        return true;
    }
}

using AccessControl.People;
using AccessControl.Sites;

namespace AccessControl.Decisions;

/// <summary>
/// Decides whether a card may open a door. Pure: no I/O, no clock, no mutable state; everything it needs is
/// passed in, so the same inputs always give the same decision and a test can reach every reason.
/// </summary>
/// <remarks>
/// Deny by default: a grant is returned only after every check passed. Checks run in the order of
/// <see cref="AccessReason"/> and the first failing one names the reason.
/// </remarks>
public static class DecisionEngine
{
    public static AccessDecision Decide(in AccessRequest request, SiteTopology topology, Cardholders cardholders, PassbackState passback)
    {
        if (!topology.Readers.TryGetValue(request.Reader, out var reader)
            || reader.Kind != ReaderKind.Card
            || !topology.Doors.TryGetValue(reader.Door, out var door)
            || !topology.Sites.TryGetValue(door.Site, out var site))
        {
            return AccessDecision.Deny(AccessReason.UnknownReader);
        }

        var destination = door.Destination(reader.Direction);
        var deny = (AccessReason reason, PersonId? person) => AccessDecision.Deny(reason, site.Id, door.Id, destination, person);

        if (!cardholders.Credentials.TryGetValue(request.CardUid, out var credential)
            || !cardholders.People.TryGetValue(credential.Person, out var person))
        {
            return deny(AccessReason.UnknownCredential, null);
        }

        if (credential.Status == CredentialStatus.Revoked || person.Status == PersonStatus.Terminated)
        {
            return deny(AccessReason.CredentialRevoked, person.Id);
        }

        if (credential.Status == CredentialStatus.Suspended || person.Status == PersonStatus.Suspended)
        {
            return deny(AccessReason.CredentialSuspended, person.Id);
        }

        if (credential.ValidFrom is { } from && request.At < from)
        {
            return deny(AccessReason.CredentialNotYetValid, person.Id);
        }

        if (credential.ValidUntil is { } until && request.At >= until)
        {
            return deny(AccessReason.CredentialExpired, person.Id);
        }

        // Leaving the site (an exit reader on a perimeter door) needs no zone right: nobody is held inside.
        if (destination is { } zoneId)
        {
            if (!topology.Zones.TryGetValue(zoneId, out var zone)
                || !zone.AllowsTechnology(credential.Technology)
                || !string.Equals(credential.Technology, request.Technology, StringComparison.Ordinal))
            {
                return deny(AccessReason.CredentialTechnologyNotAllowed, person.Id);
            }

            var scheduleCheck = CheckAccessLevels(person, zoneId, request, site, topology, cardholders);
            if (scheduleCheck != AccessReason.Granted)
            {
                return deny(scheduleCheck, person.Id);
            }
        }

        // Anti-passback is tracked for the door's inner zone, whichever way the reader faces.
        PassbackMove? move = null;
        var violation = false;
        if (topology.Zones.TryGetValue(door.To, out var inner) && inner.AntiPassback != AntiPassbackMode.Off)
        {
            var entering = reader.Direction == Direction.In;
            var known = passback.IsInside(person.Id, inner.Id);
            violation = known == entering;
            if (violation && inner.AntiPassback == AntiPassbackMode.Hard)
            {
                return deny(AccessReason.AntiPassback, person.Id);
            }

            move = new PassbackMove(person.Id, inner.Id, entering);
        }

        return new AccessDecision(AccessReason.Granted, site.Id, door.Id, destination, person.Id, door.UnlockFor, move, violation);
    }

    private static AccessReason CheckAccessLevels(Person person, ZoneId zone, in AccessRequest request, Site site, SiteTopology topology, Cardholders cardholders)
    {
        var hasZone = false;
        foreach (var levelId in person.AccessLevels)
        {
            if (!cardholders.AccessLevels.TryGetValue(levelId, out var level) || !level.Zones.Contains(zone))
            {
                continue;
            }

            hasZone = true;

            // A schedule the topology does not know is never active: fail closed.
            if (topology.Schedules.TryGetValue(level.Schedule, out var schedule) && schedule.IsActive(request.At, site.TimeZone))
            {
                return AccessReason.Granted;
            }
        }

        return hasZone ? AccessReason.OutsideSchedule : AccessReason.NoAccessToZone;
    }
}

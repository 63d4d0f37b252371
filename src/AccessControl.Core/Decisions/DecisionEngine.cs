using System.Collections.Immutable;
using AccessControl.People;
using AccessControl.Sites;
using NodaTime;

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
    /// <summary>Decides without escort state: nobody can be escorted in, so whoever needs an escort is denied.</summary>
    public static AccessDecision Decide(in AccessRequest request, SiteTopology topology, Cardholders cardholders, PassbackState passback) =>
        Decide(request, topology, cardholders, passback, EscortState.Empty);

    /// <summary>
    /// Decides one card presentation. A grant carries, in <see cref="AccessDecision.Escort"/>, how it changes
    /// <paramref name="escorts"/> (a window opened, a place used, a zone entered or left, people left unescorted).
    /// </summary>
    public static AccessDecision Decide(in AccessRequest request, SiteTopology topology, Cardholders cardholders, PassbackState passback, EscortState escorts) =>
        Decide(request, topology, cardholders, passback, escorts, FingerprintState.Empty);

    /// <summary>
    /// Decides one card presentation with the whole decision state. At a door into a two-factor zone, a card that passes
    /// every other check is answered <see cref="AccessReason.FingerprintRequired"/> (<see cref="AccessDecision.IsPending"/>)
    /// unless <see cref="AccessRequest.FingerprintVerified"/> is set; a card locked by <paramref name="fingerprints"/>
    /// after repeated mismatches is denied <see cref="AccessReason.FingerprintLockout"/> at every entry.
    /// </summary>
    public static AccessDecision Decide(in AccessRequest request, SiteTopology topology, Cardholders cardholders, PassbackState passback, EscortState escorts, FingerprintState fingerprints)
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
            return deny(cardholders.Visitors.PooledBadges.Contains(request.CardUid) ? AccessReason.VisitNotCheckedIn : AccessReason.UnknownCredential, null);
        }

        // A transfer dated for now or before counts from its instant, not from when the job that applies it runs.
        person = cardholders.InForceAt(person, request.At);

        if (cardholders.Visitors.Watchlisted.Contains(person.Id))
        {
            return deny(AccessReason.Watchlisted, person.Id);
        }

        // A visitor's badge is a credential of a per-visit person: its reasons say what happened to the visit.
        var visitor = person.Kind == PersonKind.Visitor;
        // A termination dated for now or before counts from its instant, not from when the job that applies it runs.
        if (credential.Status == CredentialStatus.Revoked || person.Status == PersonStatus.Terminated || cardholders.HasLeftBy(person.Id, request.At))
        {
            return deny(visitor ? AccessReason.BadgeReturned : AccessReason.CredentialRevoked, person.Id);
        }

        if (credential.Status == CredentialStatus.Suspended || person.Status == PersonStatus.Suspended)
        {
            return deny(AccessReason.CredentialSuspended, person.Id);
        }

        if (credential.ValidFrom is { } from && request.At < from)
        {
            return deny(visitor ? AccessReason.VisitOutsideWindow : AccessReason.CredentialNotYetValid, person.Id);
        }

        if (credential.ValidUntil is { } until && request.At >= until)
        {
            return deny(visitor ? AccessReason.VisitOutsideWindow : AccessReason.CredentialExpired, person.Id);
        }

        // A card being guessed at with someone else's fingers is locked for a while (PCI 8.3.4-style lockout), at every
        // entry. Out-readers stay open to it: a lockout must never hold anyone inside.
        if (reader.Direction == Direction.In && fingerprints.IsLocked(request.CardUid, request.At))
        {
            return deny(AccessReason.FingerprintLockout, person.Id);
        }

        // Leaving the site (an exit reader on a perimeter door) needs no zone right: nobody is held inside.
        var rights = ZoneRights.None;
        Zone? zone = null;
        if (destination is { } zoneId)
        {
            if (!topology.Zones.TryGetValue(zoneId, out zone)
                || !zone.AllowsTechnology(credential.Technology)
                || !string.Equals(credential.Technology, request.Technology, StringComparison.Ordinal))
            {
                return deny(AccessReason.CredentialTechnologyNotAllowed, person.Id);
            }

            rights = CheckAccessLevels(person, zoneId, request, site, topology, cardholders);
            if (rights.Reason != AccessReason.Granted)
            {
                return deny(visitor && rights.Reason == AccessReason.NoAccessToZone ? AccessReason.VisitorZoneNotApproved : rights.Reason, person.Id);
            }
        }

        // Two factors (card + fingerprint): the finger is only ever a second factor, matched against the templates of the
        // person whose card this is (NIST SP 800-63B 5.2.3). Nobody enrolled means no second factor: denied, except a
        // visitor, who may enter right behind an escort if the site allows it.
        // Asked on the way in only: whoever leaves a zone into a two-factor zone around it gave their finger entering it.
        // A finger matched for the card's former holder proves nothing about its new one (it changed hands meanwhile).
        if (request.FingerprintVerified && request.FingerprintOf is { } verifiedFor && verifiedFor != person.Id)
        {
            return deny(AccessReason.FingerprintMismatch, person.Id);
        }

        var secondFactor = zone?.Fingerprint is not null && reader.Direction == Direction.In && !request.FingerprintVerified;
        var enrolled = cardholders.FingerprintEnrolled.Contains(person.Id);
        var escortInsteadOfFinger = false;
        if (secondFactor && !enrolled)
        {
            if (!visitor || site.Fingerprints.Visitors != Fingerprints.VisitorFingerprintFallback.EscortOnly)
            {
                return deny(AccessReason.FingerprintNotEnrolled, person.Id);
            }

            escortInsteadOfFinger = true;
        }

        // Anti-passback is tracked for the door's inner zone, whichever way the reader faces; at a perimeter door (no from)
        // for every zone around it too: who comes in from outside straight into a cage is in its hall as well, and who
        // leaves the site out of the cage has left the hall. Otherwise the hall would hold them forever (hard: denied at
        // its door next morning) or never (their card passed back through the hall's door unnoticed).
        PassbackMove? move = null;
        var enclosing = ImmutableArray<PassbackMove>.Empty;
        var violation = false;
        // A door written outwards (from an inner zone to the one around it) guards its from zone: its in readers lead out
        // of it, into a zone the person never left.
        var entering = IsEntering(door, reader.Direction, topology);
        var steps = 0;
        foreach (var inner in topology.ZonesCrossedBy(door))
        {
            if (inner.AntiPassback != AntiPassbackMode.Off)
            {
                var zoneViolation = passback.IsInside(person.Id, inner.Id) == entering;
                if (zoneViolation && inner.AntiPassback == AntiPassbackMode.Hard)
                {
                    return deny(AccessReason.AntiPassback, person.Id);
                }

                violation |= zoneViolation;
                var zoneMove = new PassbackMove(person.Id, inner.Id, entering);
                if (steps == 0)
                {
                    move = zoneMove;
                }
                else
                {
                    enclosing = enclosing.Add(zoneMove);
                }
            }

            steps++;
        }

        // Escorts (NIST PE-2(3), PE-3, PCI 9.3): the last check. Visitors in an escort-required zone, and anyone whose
        // only right to the zone is an escorted-only level, enter right behind an escort or not at all.
        var needsEscort = zone is not null && (rights.EscortedOnly || escortInsteadOfFinger || (person.Kind == PersonKind.Visitor && zone.EscortRequired));
        EscortWindow? used = null;
        if (needsEscort)
        {
            // Only behind an escort still active: a window opened before its escort's termination (or suspension) admits
            // nobody from the moment that is in flight, as their own card is refused (a removal in force no later than its row).
            var at = request.At;
            used = escorts.FindWindow(door.Id, reader.Direction, zone!.Id, person.Id, at, cardholders.DesignatedEscorts.GetValueOrDefault(person.Id),
                escort => cardholders.People.TryGetValue(escort, out var holder) && cardholders.IsActiveAt(holder, at));
            if (used is null)
            {
                return deny(AccessReason.EscortRequired, person.Id);
            }
        }

        // Every card check passed: the door's fingerprint reader decides the rest (the pipeline asks it, then decides
        // the card again with the answer). Nothing changes until then: no passback move, no escort window.
        if (secondFactor && enrolled)
        {
            return AccessDecision.Pending(site.Id, door.Id, destination, person.Id);
        }

        var escort = EscortOutcomeOf(person, door, reader.Direction, zone, rights, needsEscort, used, request.At, topology, escorts);
        return new AccessDecision(AccessReason.Granted, site.Id, door.Id, destination, person.Id, door.UnlockFor, move, violation) { Escort = escort, EnclosingMoves = enclosing };
    }

    /// <summary>
    /// What a grant changes for escorting. A window opens when an eligible escort enters a zone their escort level
    /// lists. Occupancy is tracked, like anti-passback, for the door's inner zone: from its in-reader and out-reader,
    /// when that zone is escort-required or someone was escorted into it.
    /// </summary>
    private static EscortOutcome? EscortOutcomeOf(
        Person person, Door door, Direction direction, Zone? zone, ZoneRights rights, bool needsEscort, EscortWindow? used, Instant at, SiteTopology topology, EscortState escorts)
    {
        EscortWindow? opened = null;
        if (zone is not null && rights.CanEscort && !needsEscort && person.Kind != PersonKind.Visitor)
        {
            var policy = zone.Escort ?? EscortPolicy.Default;
            opened = new EscortWindow(person.Id, door.Id, direction, zone.Id, at, at + policy.Window, policy.MaxEscorted, []);
        }

        // Leaving the zone a door guards ends the escort's windows into it: otherwise a visitor could still follow, for the
        // rest of the window, an escort who badged in and straight out again, and be inside alone with no alarm. So too
        // the windows into zones inside it (who walked out of the hall is not in its vault either) and, at a perimeter
        // door, into every zone around it (who left the site out of the vault is not in the hall around it either).
        var windows = IsEntering(door, direction, topology) ? [] : escorts.WindowZonesOf(person.Id);
        var closes = windows.IsEmpty ? [] : ZonesWithin(windows, OutermostCrossedBy(door, topology), topology);
        var outcome = Occupancy(person.Id, door, direction, used, topology, escorts, opened, closes);
        return outcome.IsEmpty ? null : outcome;
    }

    /// <summary>Those of <paramref name="zones"/> that are <paramref name="outer"/> or lie inside it. A loop, not a lambda: this is on every grant's path, and a lambda over the parameters would allocate on each.</summary>
    private static ImmutableArray<ZoneId> ZonesWithin(ImmutableArray<ZoneId> zones, ZoneId outer, SiteTopology topology)
    {
        if (zones.IsEmpty)
        {
            return [];
        }

        var within = ImmutableArray.CreateBuilder<ZoneId>(zones.Length);
        foreach (var zone in zones)
        {
            if (topology.IsWithin(zone, outer))
            {
                within.Add(zone);
            }
        }

        return within.ToImmutable();
    }

    /// <summary>
    /// How a granted passage changes who is inside an escort-tracked zone: occupancy is tracked, like anti-passback, for
    /// the zone the door guards (<see cref="SiteTopology.ZonesCrossedBy"/>: its <c>to</c>, or its <c>from</c> when written
    /// outwards) and, at a perimeter door, for every zone around it, when that zone is escort-required or the person came
    /// in under escort. Who comes in from outside straight into the vault is in the hall around it too, and who leaves the
    /// site out of the vault has left the hall, with whomever they brought into it. Also what the service replays from the
    /// log at start to rebuild occupancy (its <c>EscortHistory</c>). The outcome opens no window and closes none.
    /// </summary>
    /// <param name="used">The escort window the person came in under (null: unescorted); only its escort is read.</param>
    public static EscortOutcome Occupancy(PersonId person, Door door, Direction direction, EscortWindow? used, SiteTopology topology, EscortState escorts) =>
        Occupancy(person, door, direction, used, topology, escorts, opened: null, closes: []);

    /// <summary><see cref="Occupancy(PersonId, Door, Direction, EscortWindow?, SiteTopology, EscortState)"/>, with the window a grant opens and those it closes: one outcome per grant.</summary>
    private static EscortOutcome Occupancy(
        PersonId person, Door door, Direction direction, EscortWindow? used, SiteTopology topology, EscortState escorts, EscortWindow? opened, ImmutableArray<ZoneId> closes)
    {
        ArgumentNullException.ThrowIfNull(door);
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentNullException.ThrowIfNull(escorts);
        var entering = IsEntering(door, direction, topology);
        ZoneId? entered = null;
        ZoneId? left = null;
        var leftBehind = ImmutableArray<PersonId>.Empty;
        var enclosingEntered = ImmutableArray<ZoneId>.Empty;
        var enclosingLeft = ImmutableArray<ZoneLeft>.Empty;
        var guarded = true;
        foreach (var zone in topology.ZonesCrossedBy(door))
        {
            if (entering && (zone.EscortRequired || used is not null))
            {
                if (guarded)
                {
                    entered = zone.Id;
                }
                else
                {
                    enclosingEntered = enclosingEntered.Add(zone.Id);
                }
            }
            else if (!entering)
            {
                // An escort is not tracked inside a zone that is not escort-required, but whom they brought in is.
                var behind = escorts.BroughtIn(person, zone.Id);
                if (zone.EscortRequired || !behind.IsEmpty || escorts.IsInside(person, zone.Id))
                {
                    if (guarded)
                    {
                        (left, leftBehind) = (zone.Id, behind);
                    }
                    else
                    {
                        enclosingLeft = enclosingLeft.Add(new ZoneLeft(zone.Id, behind));
                    }
                }
            }

            guarded = false;
        }

        return new EscortOutcome(person, opened, used, entered, left, leftBehind) { EnclosingEntered = enclosingEntered, EnclosingLeft = enclosingLeft, ClosesWindowsInto = closes };
    }

    /// <summary>Whether passing <paramref name="door"/> in <paramref name="direction"/> enters the zone it guards (a door written outwards guards its from zone, which its in readers leave).</summary>
    private static bool IsEntering(Door door, Direction direction, SiteTopology topology) => (direction == Direction.In) != topology.IsWrittenOutwards(door);

    /// <summary>The outermost zone a crossing of <paramref name="door"/> moves someone out of: the zone it guards, or at a perimeter door the outermost around it.</summary>
    private static ZoneId OutermostCrossedBy(Door door, SiteTopology topology)
    {
        var outermost = topology.IsWrittenOutwards(door) ? door.From!.Value : door.To;
        foreach (var zone in topology.ZonesCrossedBy(door))
        {
            outermost = zone.Id;
        }

        return outermost;
    }

    private static ZoneRights CheckAccessLevels(Person person, ZoneId zone, in AccessRequest request, Site site, SiteTopology topology, Cardholders cardholders)
    {
        var hasZone = false;
        var active = false;
        var unescorted = false;
        var canEscort = false;
        foreach (var levelId in person.AccessLevels)
        {
            if (!cardholders.AccessLevels.TryGetValue(levelId, out var level) || !level.Zones.Contains(zone))
            {
                continue;
            }

            hasZone = true;

            // The level's schedule is the one of that id at this door's site (each site has its own hours); one the site
            // does not have is never active: fail closed.
            if (topology.ScheduleOf(site.Id, level.Schedule) is { } schedule && schedule.IsActive(request.At, site.TimeZone))
            {
                active = true;

                // A level that is (wrongly) both escorted-only and escort counts as escorted-only: fail closed.
                unescorted |= !level.EscortedOnly;
                canEscort |= level.Escort && !level.EscortedOnly;
            }
        }

        return !active
            ? new ZoneRights(hasZone ? AccessReason.OutsideSchedule : AccessReason.NoAccessToZone, false, false)
            : new ZoneRights(AccessReason.Granted, EscortedOnly: !unescorted, CanEscort: canEscort);
    }

    /// <summary>What a person's active access levels allow in one zone.</summary>
    /// <param name="EscortedOnly">Every active level for the zone is escorted-only: the person enters only under escort.</param>
    /// <param name="CanEscort">An active level for the zone carries escort privilege.</param>
    private readonly record struct ZoneRights(AccessReason Reason, bool EscortedOnly, bool CanEscort)
    {
        public static ZoneRights None { get; } = new(AccessReason.Granted, false, false);
    }
}

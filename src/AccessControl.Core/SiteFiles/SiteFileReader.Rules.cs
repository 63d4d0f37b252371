using AccessControl.Sites;

namespace AccessControl.SiteFiles;

/// <summary>
/// The rules that look across sections: ids unique per kind (readers and controllers in one namespace), references
/// resolve, zones form one tree under the site zone, a door joins a zone to its direct parent, and every door has a reader.
/// </summary>
internal sealed partial class SiteFileReader
{
    /// <summary>Registers an id; a second declaration is an error and is not registered (null).</summary>
    private Located? Declare(IdSpace space, Located? id)
    {
        if (id is not { } value)
        {
            return null;
        }

        if (space.Declared.TryGetValue(value.Text, out var first))
        {
            errors.Add(value.Node, value.Path, $"duplicate {space.Noun} id '{value.Text}': already declared at {first.Path} (line {first.Node.Start.Line})");
            return null;
        }

        // Held by another site: an error, but declared here all the same, so that this file's references to it resolve
        // and the one collision is the one error.
        if (space.AcrossSites is { } idNamespace && otherSites.HeldElsewhere(idNamespace, value.Text, siteId) is { } holder)
        {
            var why = idNamespace switch
            {
                SiteIdsInUse.Device => "a device's id is its MQTT username, unique across every site of this service",
                SiteIdsInUse.AccessLevel => $"it gives access at site '{holder.Site}', and importing this file would replace it with this site's zones, for everyone who holds it; give this site's level an id of its own",
                SiteIdsInUse.Person => $"a site file changes only its own site's cardholders, and importing this one would replace their access levels and status, at site '{holder.Site}' too; take them out of that site's file first, or give them access here through the admin API",
                _ => $"{space.Noun} ids are unique across every site of this service (topics, alarms and log rows name them by id)",
            };
            errors.Add(value.Node, value.Path, $"{space.Noun} id '{value.Text}' is already used by the {holder}; {why}");
        }

        space.Declared.Add(value.Text, value);
        return value;
    }

    /// <summary>
    /// Whether this entry takes over a stored person or card that no site file declares (one made through the admin API, or
    /// left out of its file since): only with <c>adopt: true</c>. Without it the file is refused at the entry, saying
    /// who changed the record last: an import would quietly overwrite what an operator made by hand, and from then on
    /// the file would own it.
    /// </summary>
    /// <param name="adopt">The entry's <c>adopt</c>; null when it is not a flag (reported).</param>
    /// <param name="loss">What importing the entry would do to the record, for the error.</param>
    private bool Adopts(string idNamespace, string id, Located at, string what, bool? adopt, string loss)
    {
        if (otherSites.Undeclared(idNamespace, id) is not { } change)
        {
            return false;
        }

        if (adopt == false)
        {
            errors.Add(at.Node, at.Path, $"{what} is stored but no site file declares it: it was made through the admin API (or left out of its site's file since), "
                + $"{change}; importing this file {loss}. Add 'adopt: true' to this entry to hand it to this file (the import records the adoption), or leave it out");
        }

        return adopt == true;
    }

    /// <summary>
    /// Registers a reader or controller id. Both log in to the broker with their id as MQTT username, so the two
    /// share one namespace, and the service's own usernames are off limits.
    /// </summary>
    private Located? DeclareDevice(IdSpace space, Located? id)
    {
        if (id is not { } value)
        {
            return null;
        }

        if (ReservedDeviceIds.Contains(value.Text))
        {
            errors.Add(value.Node, value.Path, $"'{value.Text}' is reserved: it is the MQTT username of the service itself, not of a device");
            return null;
        }

        if (!Protocol.WireFormat.IsValidDeviceId(value.Text))
        {
            errors.Add(value.Node, value.Path,
                $"'{value.Text}' cannot name a device: a device's id is its MQTT username, and ':' separates a username from its password hash in Mosquitto's password file; use . _ or - instead");
            return null;
        }

        foreach (var other in new[] { readerIds, controllerIds, firePanelIds }.Where(s => !ReferenceEquals(s, space)))
        {
            if (other.Declared.TryGetValue(value.Text, out var first))
            {
                errors.Add(value.Node, value.Path, $"id '{value.Text}' is already used by the {other.Noun} at {first.Path} (line {first.Node.Start.Line}); readers, controllers and fire panels share one namespace because a device's id is its MQTT username");
                return null;
            }
        }

        return Declare(space, value);
    }

    /// <summary>Records a reference to check once every section has been read (references may point forward).</summary>
    private Located? Reference(IdSpace space, Located? id)
    {
        if (id is { } value)
        {
            references.Add((space, value));
        }

        return id;
    }

    private void ResolveReferences()
    {
        foreach (var (space, at) in references)
        {
            if (space.Declared.ContainsKey(at.Text) || (ReferenceEquals(space, scheduleIds) && at.Text == ScheduleId.Always.Value))
            {
                continue;
            }

            var candidates = ReferenceEquals(space, scheduleIds) ? space.Declared.Keys.Append(ScheduleId.Always.Value) : space.Declared.Keys;
            var hint = ReferenceEquals(space, controllerIds) && readerIds.Declared.ContainsKey(at.Text)
                ? " ('" + at.Text + "' is a reader; a door names the controller that drives it)"
                : Suggestions.DidYouMean(at.Text, candidates);
            errors.Add(at.Node, at.Path, $"{space.Noun} '{at.Text}' is not declared in {space.Section}{hint}");
        }
    }

    /// <summary>
    /// Zones nest by containment into one tree: exactly one zone has no parent, it is of kind site (the site's own
    /// zone), no other zone is of kind site, and following parents never comes back to where it started.
    /// </summary>
    private void CheckZoneTree(YamlMap root)
    {
        var byId = ZonesById();
        if (byId.Count == 0)
        {
            return;
        }

        // The root is the parentless zone of kind site if there is one, so that a zone whose parent was forgotten
        // is reported as such rather than as "the root has the wrong kind".
        var roots = byId.Values.Where(z => z.Parent is null).OrderBy(z => z.Kind == ZoneKind.Site ? 0 : 1).ThenBy(z => z.Order).ToList();
        if (roots.Count == 0)
        {
            errors.Add(root.Value("zones", required: false) ?? root.Node, "zones", "no zone is the root: exactly one zone, of kind site, must have no parent");
        }
        else if (roots[0].Kind is { } rootKind && rootKind != ZoneKind.Site)
        {
            var kind = roots[0].Map.Scalar("kind")!.Value;
            errors.Add(kind.Node, kind.Path, $"the root zone (the one without a parent) must be of kind site, not {kind.Text}");
        }

        foreach (var extra in roots.Skip(1))
        {
            errors.Add(extra.Map.Node, extra.Map.PathOf("parent"), $"zone '{extra.Id!.Value.Text}' has no parent, but zone '{roots[0].Id!.Value.Text}' at {roots[0].Map.Path} (line {roots[0].Map.Node.Start.Line}) is already the root; every zone except the site zone needs a parent");
        }

        foreach (var zone in byId.Values.Where(z => z.Kind == ZoneKind.Site && z.Parent is not null))
        {
            var kind = zone.Map.Scalar("kind")!.Value;
            errors.Add(kind.Node, kind.Path, $"only the root zone can be of kind site; '{zone.Id!.Value.Text}' is inside '{zone.Parent!.Value.Text}'");
        }

        CheckContainmentCycles(byId);
    }

    private void CheckContainmentCycles(Dictionary<string, ZoneDraft> byId)
    {
        var done = new HashSet<string>(StringComparer.Ordinal);
        foreach (var start in byId.Values)
        {
            var chain = new List<string>();
            var current = start.Id!.Value.Text;
            while (!done.Contains(current))
            {
                var index = chain.IndexOf(current);
                if (index >= 0)
                {
                    ReportCycle(byId, chain[index..]);
                    break;
                }

                chain.Add(current);
                if (byId[current].Parent is not { } parent || !byId.ContainsKey(parent.Text))
                {
                    break;
                }

                current = parent.Text;
            }

            done.UnionWith(chain);
        }
    }

    /// <summary>Reports a cycle once, at the parent of its member declared first, listing the cycle from there.</summary>
    private void ReportCycle(Dictionary<string, ZoneDraft> byId, List<string> cycle)
    {
        var first = cycle.Select(id => byId[id]).MinBy(z => z.Order)!;
        var start = cycle.IndexOf(first.Id!.Value.Text);
        var ordered = cycle[start..].Concat(cycle[..start]).Append(first.Id.Value.Text);
        var parent = first.Parent!.Value;
        errors.Add(parent.Node, parent.Path, $"zones form a containment cycle ({string.Join(" -> ", ordered)}, each inside the next); a zone cannot be inside itself");
    }

    /// <summary>
    /// A door joins two different zones of which one is the direct parent of the other (normally <c>from</c> is the
    /// parent). A door without <c>from</c> is on the site perimeter and may lead into any zone. Every door has a reader.
    /// </summary>
    private void CheckDoors()
    {
        var byId = ZonesById();
        string? ParentOf(string zone) => byId.TryGetValue(zone, out var draft) ? draft.Parent?.Text : null;

        foreach (var door in doorDrafts)
        {
            if (door.From is { } from && door.To is { } to && zoneIds.Declared.ContainsKey(from.Text) && zoneIds.Declared.ContainsKey(to.Text))
            {
                if (from.Text == to.Text)
                {
                    errors.Add(to.Node, to.Path, $"from and to are both '{to.Text}'; a door joins two different zones");
                }
                else if (ParentOf(to.Text) != from.Text && ParentOf(from.Text) != to.Text)
                {
                    errors.Add(to.Node, to.Path, $"zones '{from.Text}' and '{to.Text}' are not neighbours: a door leads from a zone into a zone directly inside it, so one must be the parent of the other");
                }
                else if (ParentOf(from.Text) == to.Text && LapsesAtAnOutwardDoor(byId[from.Text]) is { } lapses)
                {
                    errors.Add(from.Node, from.Path, $"door '{door.Id?.Text}' goes from '{from.Text}' out to its parent '{to.Text}', so its out readers let people into '{from.Text}'; "
                        + $"but the service keeps a zone's {lapses} only at the doors written into it (to: {from.Text}), so '{from.Text}' would be entered here past them. "
                        + $"Write the door the usual way round (from: {to.Text}, to: {from.Text}) and turn its readers' directions round");
                }
            }

            else if (door.From is null && door.To is { } entered && byId.TryGetValue(entered.Text, out var enteredZone)
                && RulesAroundLapsingAtAPerimeterDoor(byId, enteredZone) is { } around)
            {
                errors.Add(entered.Node, entered.Path, $"door '{door.Id?.Text}' leads from outside the site into '{entered.Text}', inside the {around.Rules} zone '{around.Zone}'; "
                    + $"being in '{entered.Text}' is being in '{around.Zone}', but the service asks for {around.Asks} only at the doors written into '{around.Zone}' (to: {around.Zone}), "
                    + $"so this door would let people into '{around.Zone}' without {around.Asks}. "
                    + $"Give '{entered.Text}' {around.Keys} itself, or lead the door into '{around.Zone}'");
            }

            if (door.Id is { } id && !doorsWithReaders.Contains(id.Text))
            {
                errors.Add(door.Map.Node, door.Map.Path, $"door '{id.Text}' has no reader; every door needs at least one (a reader with door: {id.Text})");
            }
            else if (door.Id is { } fingerOnly && !doorsWithCardReaders.Contains(fingerOnly.Text))
            {
                // A fingerprint reader only verifies the holder of a card swiped at the door: with no card reader, the door
                // could never be opened, and would only ever raise alarms.
                errors.Add(door.Map.Node, door.Map.Path,
                    $"door '{fingerOnly.Text}' has no card reader; a fingerprint reader only verifies the holder of a card presented at the same door, so every door needs a card reader (a reader with type: card, door: {fingerOnly.Text})");
            }

            // A door into a two-factor zone with a card reader facing in but no fingerprint reader beside it, or with a
            // fingerprint reader facing in but no card reader (the finger verifies a card presented there), would deny
            // everyone at it, forever. One with readers facing out only (an emergency exit that records who leaves, as
            // hard anti-passback needs) lets nobody in, and needs neither.
            if (door.Id is { } doorId && door.To is { } inner && byId.TryGetValue(inner.Text, out var innerZone) && innerZone.TwoFactor)
            {
                if (doorsWithCardIn.Contains(doorId.Text) && !doorsWithFingerprintIn.Contains(doorId.Text))
                {
                    errors.Add(door.Map.Node, door.Map.Path,
                        $"door '{doorId.Text}' leads into the two-factor zone '{inner.Text}' but has no fingerprint reader facing in (a reader with type: fingerprint, door: {doorId.Text}, direction: in)");
                }

                if (doorsWithFingerprintIn.Contains(doorId.Text) && doorsWithCardReaders.Contains(doorId.Text) && !doorsWithCardIn.Contains(doorId.Text))
                {
                    errors.Add(door.Map.Node, door.Map.Path,
                        $"door '{doorId.Text}' leads into the two-factor zone '{inner.Text}' but has no card reader facing in; the finger verifies a card presented there (a reader with type: card, door: {doorId.Text}, direction: in)");
                }
            }
        }
    }

    /// <summary>
    /// The nearest zone around <paramref name="zone"/> (its parent, or further out) with a rule that <paramref name="zone"/>
    /// lacks and that the service applies only at the doors written into that zone: two factors (asked at in readers, and
    /// not at the out readers that lead back into it from a zone inside) and escorts. A door from outside the site straight
    /// into <paramref name="zone"/> lets people past them; a door from a zone's parent cannot, since whoever is in the
    /// parent passed them already. Null when there is none.
    /// </summary>
    private static (string Zone, string Rules, string Asks, string Keys)? RulesAroundLapsingAtAPerimeterDoor(Dictionary<string, ZoneDraft> byId, ZoneDraft zone)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var outer = zone.Parent; outer is { } parent && seen.Add(parent.Text) && byId.TryGetValue(parent.Text, out var around); outer = around.Parent)
        {
            var lapses = new[]
                {
                    (around.TwoFactor && !zone.TwoFactor, "two-factor", "the finger", "twoFactor: true"),
                    (around.EscortRequired && !zone.EscortRequired, "escort-required", "the escort", "escortRequired: true"),
                }
                .Where(r => r.Item1).ToList();
            if (lapses.Count > 0)
            {
                return (parent.Text, string.Join(" and ", lapses.Select(r => r.Item2)), string.Join(" and ", lapses.Select(r => r.Item3)), string.Join(" and ", lapses.Select(r => r.Item4)));
            }
        }

        return null;
    }

    /// <summary>
    /// What of a zone the service applies only where the zone is a door's <c>to</c>: a fingerprint is asked at in readers,
    /// and anti-passback and escort occupancy are kept for the door's to zone. A door written outwards (from the zone to
    /// its parent) would let people into the zone past all three; null when the zone has none of them.
    /// </summary>
    private static string? LapsesAtAnOutwardDoor(ZoneDraft zone)
    {
        var rules = new[] { (zone.TwoFactor, "two-factor rule"), (zone.EscortRequired, "escort occupancy (the visitor_unescorted alarm)"), (zone.AntiPassback, "anti-passback") }
            .Where(r => r.Item1).Select(r => r.Item2).ToList();
        return rules.Count == 0 ? null : string.Join(" and ", rules);
    }

    /// <summary>The first declaration of each valid zone id, in file order.</summary>
    private Dictionary<string, ZoneDraft> ZonesById()
    {
        var byId = new Dictionary<string, ZoneDraft>(StringComparer.Ordinal);
        foreach (var zone in zoneDrafts)
        {
            if (zone.Id is { } id)
            {
                byId.TryAdd(id.Text, zone);
            }
        }

        return byId;
    }

    /// <summary>The ids declared for one kind of thing, and how to name it in messages.</summary>
    /// <param name="acrossSites">The namespace (<see cref="SiteIdsInUse"/>) in which the id must also be unique across the service's sites; null for ids of one site.</param>
    private sealed class IdSpace(string noun, string section, string? acrossSites = null)
    {
        public string? AcrossSites => acrossSites;

        public Dictionary<string, Located> Declared { get; } = new(StringComparer.Ordinal);

        public string Noun => noun;

        public string Section => section;
    }
}

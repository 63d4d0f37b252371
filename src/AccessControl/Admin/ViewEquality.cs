namespace AccessControl.Admin;

/// <summary>
/// Whether two admin views would read the same in an audit row's <c>before</c> and <c>after</c>: every member that
/// <see cref="AdminJson"/> writes, compared as it writes it (text ordinally, instants exactly, lists element by element
/// in their order, a null list apart from an empty one since a null one is left out). It decides that a change is
/// "unchanged" and records nothing, so it must never call equal what the JSON tells apart; it replaces comparing the two
/// JSON texts, which at a site file of 200,000 people cost seconds of every start with <c>--site</c>.
/// </summary>
/// <remarks>
/// A record's own <c>Equals</c> would compare the lists by reference (always "changed"). A member added to a view must
/// be added here too: <c>ViewEqualityTests</c> checks every member against the JSON comparison.
/// </remarks>
internal static class ViewEquality
{
    public static bool Same(PersonView? before, PersonView after) =>
        before is not null
        && string.Equals(before.Id, after.Id, StringComparison.Ordinal)
        && string.Equals(before.Name, after.Name, StringComparison.Ordinal)
        && string.Equals(before.Kind, after.Kind, StringComparison.Ordinal)
        && string.Equals(before.Status, after.Status, StringComparison.Ordinal)
        && SameList(before.AccessLevels, after.AccessLevels, static (a, b) => string.Equals(a, b, StringComparison.Ordinal))
        && SameList(before.Credentials, after.Credentials, static (a, b) => Same(a, b));

    public static bool Same(CredentialView? before, CredentialView after) =>
        before is not null
        && string.Equals(before.Card, after.Card, StringComparison.Ordinal)
        && string.Equals(before.Technology, after.Technology, StringComparison.Ordinal)
        && string.Equals(before.PersonId, after.PersonId, StringComparison.Ordinal)
        && before.ValidFrom == after.ValidFrom
        && before.ValidUntil == after.ValidUntil
        && string.Equals(before.Status, after.Status, StringComparison.Ordinal);

    public static bool Same(AccessLevelView? before, AccessLevelView after) =>
        before is not null
        && string.Equals(before.Id, after.Id, StringComparison.Ordinal)
        && string.Equals(before.Name, after.Name, StringComparison.Ordinal)
        && SameList(before.Zones, after.Zones, static (a, b) => string.Equals(a, b, StringComparison.Ordinal))
        && string.Equals(before.Schedule, after.Schedule, StringComparison.Ordinal)
        && before.Escort == after.Escort
        && before.EscortedOnly == after.EscortedOnly;

    private static bool SameList<T>(IReadOnlyList<T>? before, IReadOnlyList<T>? after, Func<T, T, bool> same)
    {
        if (before is null || after is null)
        {
            return before is null && after is null;
        }

        if (before.Count != after.Count)
        {
            return false;
        }

        for (var i = 0; i < before.Count; i++)
        {
            if (!same(before[i], after[i]))
            {
                return false;
            }
        }

        return true;
    }
}

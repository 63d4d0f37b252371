using System.Collections.Immutable;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.People;
using NodaTime;

namespace AccessControl.Admin;

// The JSON shapes of the admin API. Requests carry enums as text so that a wrong value is reported with the
// field's name instead of failing deserialization; responses and audit details use the same views, so an
// audit row's "after" is exactly what GET returns.

/// <summary>Body of <c>PUT /api/v1/people/{id}</c>. Omitted status keeps the current one (new: active); omitted access levels keep the current ones (new: none).</summary>
public sealed record PersonInput(string? Name, string? Kind, string? Status = null, IReadOnlyList<string>? AccessLevels = null);

/// <summary>
/// Body of <c>PUT /api/v1/credentials/{card}</c>. Validity is the half-open range [validFrom, validUntil). Omitted status,
/// validFrom and validUntil keep the current ones (new: active, unbounded): a bound is moved, never lifted by leaving it out.
/// </summary>
public sealed record CredentialInput(string? Technology, string? PersonId, Instant? ValidFrom = null, Instant? ValidUntil = null, string? Status = null);

/// <summary>
/// Body of <c>POST /api/v1/credentials/{card}/reissue</c>: a new binding (active; omitted bounds are unbounded, nothing is
/// kept from the card's previous binding) and why it is made, recorded in the <c>credential.reissue</c> row.
/// </summary>
public sealed record CredentialReissueInput(string? Technology, string? PersonId, Instant? ValidFrom = null, Instant? ValidUntil = null, string? Reason = null)
{
    public CredentialInput Binding => new(Technology, PersonId, ValidFrom, ValidUntil);
}

/// <summary>
/// Body of <c>PUT /api/v1/access-levels/{id}</c>. <see cref="Escort"/> and <see cref="EscortedOnly"/> default to false
/// (a PUT replaces the level, so leaving them out clears them); a level cannot be both.
/// </summary>
public sealed record AccessLevelInput(string? Name, IReadOnlyList<string>? Zones, string? Schedule, bool? Escort = null, bool? EscortedOnly = null);

/// <summary>Body of the <c>.../status</c> endpoints.</summary>
public sealed record StatusInput(string? Status);

/// <summary>A person as the API shows it. <see cref="Credentials"/> is only filled in by <c>GET /people/{id}</c>.</summary>
public sealed record PersonView(string Id, string Name, string Kind, string Status, IReadOnlyList<string> AccessLevels, IReadOnlyList<CredentialView>? Credentials = null)
{
    public static PersonView From(Person p) =>
        new(p.Id.Value, p.Name, p.Kind.ToCode(), p.Status.ToCode(), [.. p.AccessLevels.Select(l => l.Value).Order(StringComparer.Ordinal)]);
}

/// <summary>A credential as the API shows it. The card UID is an identifier, not a secret (the entry log records it too).</summary>
public sealed record CredentialView(string Card, string Technology, string PersonId, Instant? ValidFrom, Instant? ValidUntil, string Status)
{
    public static CredentialView From(Credential c) =>
        new(c.CardUid, c.Technology, c.Person.Value, c.ValidFrom, c.ValidUntil, c.Status.ToCode());
}

/// <summary>An access level as the API shows it.</summary>
public sealed record AccessLevelView(string Id, string Name, IReadOnlyList<string> Zones, string Schedule, bool Escort, bool EscortedOnly)
{
    public static AccessLevelView From(AccessLevel l) =>
        new(l.Id.Value, l.Name, [.. l.Zones.Select(z => z.Value).Order(StringComparer.Ordinal)], l.Schedule.Value, l.Escort, l.EscortedOnly);
}

/// <summary>One page of a listing; <see cref="Next"/> is the cursor for the following page (null on the last).</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? Next);

/// <summary>
/// One page of the entry log (<c>GET /log</c>): a <see cref="Page{T}"/>, and <see cref="Purged"/> (omitted when null)
/// when the query reaches into rows the retention purge deleted, so that "no rows" there is not read as "none happened".
/// </summary>
public sealed record LogPage(IReadOnlyList<LogEntry> Items, string? Next, PurgeHorizon? Purged);

/// <summary>What an import of a site file's cardholders changed. Unchanged items write nothing and record nothing.</summary>
/// <param name="Removed">Changes that took away what the site's previous file declared and this one does not.</param>
public sealed record ImportSummary(int AccessLevelsChanged, int PeopleChanged, int CredentialsChanged, int Unchanged, int Removed = 0)
{
    public int Changed => AccessLevelsChanged + PeopleChanged + CredentialsChanged + Removed;
}

/// <summary>
/// A site file's import against the site's previous one: the file's SHA-256 (named in the row of each removal) and what
/// the site's last imported file declared (the file itself when given again; null for a site's first file).
/// </summary>
public sealed record SiteFileVersion(string Sha256, SiteFiles.SiteDefinition? Previous)
{
    /// <summary>Who loaded the file (the actor of its <c>site.load</c> row), named in the row of each adoption; null if unknown.</summary>
    public string? LoadedBy { get; init; }

    /// <summary>
    /// Stored people no site file declared, that this file takes over (<c>adopt: true</c>,
    /// <see cref="SiteFiles.SiteDefinition.AdoptedPeople"/>): each one's import is recorded, even when it changes nothing.
    /// </summary>
    public ImmutableHashSet<Sites.PersonId> AdoptedPeople { get; init; } = [];

    /// <summary>Stored cards no site file declared, that this file takes over (<c>adopt: true</c>).</summary>
    public ImmutableHashSet<string> AdoptedCards { get; init; } = ImmutableHashSet.Create<string>(StringComparer.Ordinal);
}

/// <summary>An authenticated operator and what they may do.</summary>
/// <param name="PersonId">The person (employee) behind the token, when the token names one: required for hosts and
/// approvers, so that segregation of duties compares people, not account names.</param>
/// <param name="Site">The one site this operator acts for; null for every site.</param>
public sealed record OperatorIdentity(string Operator, OperatorRole Role, string? PersonId = null, string? Site = null)
{
    /// <summary>Whether this operator may act for a site.</summary>
    public bool ActsFor(string site) => Site is null || string.Equals(Site, site, StringComparison.Ordinal);
}

/// <summary>
/// What an operator's token allows. Admins change cardholders; auditors only read (log and cardholders).
/// The visitor roles (see <c>Visitors/VisitorApi.cs</c>): hosts request visits, approvers approve or reject them,
/// the front desk checks visitors in and out, security keeps the watch list. Enrollment operators enroll, list and
/// revoke fingerprint templates and nothing else (see <c>Fingerprints/FingerprintApi.cs</c>). Each token has one role.
/// </summary>
public enum OperatorRole
{
    Admin,
    Auditor,
    Host,
    Approver,
    Frontdesk,
    Security,
    Enrollment,
}

internal static class ImmutableExtensions
{
    public static ImmutableArray<T> OrEmpty<T>(this ImmutableArray<T> array) => array.IsDefault ? [] : array;
}

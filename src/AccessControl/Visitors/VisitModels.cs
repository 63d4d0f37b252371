using AccessControl.Admin;
using System.Collections.Immutable;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Visitors;

/// <summary>Where a visit request stands. Only an approved visit can be checked in.</summary>
public enum VisitStatus
{
    Requested,
    Approved,
    Rejected,

    /// <summary>The approval was withdrawn before anyone checked in; final.</summary>
    Withdrawn,
}

/// <summary>Where one visitor of a visit stands.</summary>
public enum VisitorStatus
{
    /// <summary>Not checked in (yet).</summary>
    Expected,

    /// <summary>Checked in, holding a pooled badge.</summary>
    OnSite,

    /// <summary>Checked out; the badge is back in the pool.</summary>
    Left,
}

/// <summary>A decision on a request (approve or reject): who, as which person, when, with what note.</summary>
public sealed record VisitDecision(string By, string? ByPerson, Instant At, string? Note);

/// <summary>A visit request with its visitors, as stored.</summary>
/// <param name="Interval">The window resolved to instants in the site's zone when it was requested.</param>
/// <param name="Escorts">Designated escorts; empty means any authorized escort.</param>
/// <param name="ApprovedSnapshot">JSON of exactly what was approved (<see cref="VisitSnapshot"/>), when approved.</param>
public sealed record Visit(
    long Id,
    SiteId Site,
    PersonId Host,
    string RequestedBy,
    string RequestedByPerson,
    Instant RequestedAt,
    string Purpose,
    VisitWindow Window,
    Interval Interval,
    ImmutableArray<ZoneId> Zones,
    ImmutableArray<PersonId> Escorts,
    VisitStatus Status,
    VisitDecision? Decision,
    string? ApprovedSnapshot,
    string? WithdrawnBy,
    Instant? WithdrawnAt,
    ImmutableArray<VisitVisitor> Visitors)
{
    /// <summary>The per-visit access level created at the first check-in: exactly the approved zones.</summary>
    public AccessLevelId AccessLevel => VisitCodes.AccessLevelOf(Id);

    /// <summary>
    /// Whether an operator may read this visit: it is of a site they act for and, for a host, one they host, requested or
    /// escort. A host's token is an employee's own; other hosts' visitors (names, organisations, who vouched for them)
    /// are not theirs to read. Every other reading role (approver, front desk, security, auditor) reads every visit of
    /// its sites.
    /// </summary>
    public bool IsReadableBy(OperatorIdentity who) =>
        who.ActsFor(Site.Value)
        && (who.Role != OperatorRole.Host
            || who.PersonId is { } person && (Host.Value == person || RequestedByPerson == person || Escorts.Contains(new PersonId(person))));
}

/// <summary>What the desk recorded of a presented document: never the number, only its keyed hash and last four characters.</summary>
public sealed record DocumentRecord(DocumentType Type, string Country, string NumberHmac, string LastFour, LocalDate Expiry);

/// <summary>One visitor of a visit.</summary>
/// <param name="Number">1, 2, ... within the visit.</param>
/// <param name="PersonId">The per-visit cardholder (kind visitor) created at check-in.</param>
/// <param name="Badge">The pooled badge's card UID bound at check-in.</param>
public sealed record VisitVisitor(
    int Number,
    string Name,
    string Organization,
    VisitorStatus Status,
    string? PersonId,
    string? Badge,
    DocumentRecord? Document,
    Instant? CheckedInAt,
    string? CheckedInBy,
    Instant? CheckedOutAt,
    string? CheckedOutBy,
    Instant? OverdueAlarmAt);

/// <summary>A visitor badge of a site's pool: a card the front desk hands out and takes back.</summary>
public sealed record PooledBadge(string Card, SiteId Site, string Technology, Instant AddedAt, string AddedBy);

/// <summary>What the watch list names: a person (matched like a document name) or an organization.</summary>
public enum WatchlistKind
{
    Person,
    Organization,
}

/// <summary>An entry of the watch list, kept by security.</summary>
public sealed record WatchlistEntry(long Id, WatchlistKind Kind, string Value, string Normalized, string? Note, Instant AddedAt, string AddedBy);

/// <summary>Ids and codes derived from a visit; one place so the store, the service and the tests agree.</summary>
public static class VisitCodes
{
    public static AccessLevelId AccessLevelOf(long visit) => new($"visit-{visit}");

    public static string PersonOf(long visit, int number) => $"visitor-{visit}-{number}";

    public static string Code(VisitStatus status) => status switch
    {
        VisitStatus.Requested => "requested",
        VisitStatus.Approved => "approved",
        VisitStatus.Rejected => "rejected",
        VisitStatus.Withdrawn => "withdrawn",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static string Code(VisitorStatus status) => status switch
    {
        VisitorStatus.Expected => "expected",
        VisitorStatus.OnSite => "on_site",
        VisitorStatus.Left => "left",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static string Code(WatchlistKind kind) => kind == WatchlistKind.Person ? "person" : "organization";

    public static VisitStatus ParseVisitStatus(string code) => code switch
    {
        "requested" => VisitStatus.Requested,
        "approved" => VisitStatus.Approved,
        "rejected" => VisitStatus.Rejected,
        "withdrawn" => VisitStatus.Withdrawn,
        _ => throw new InvalidDataException($"Unknown visit status '{code}'."),
    };

    public static VisitorStatus ParseVisitorStatus(string code) => code switch
    {
        "expected" => VisitorStatus.Expected,
        "on_site" => VisitorStatus.OnSite,
        "left" => VisitorStatus.Left,
        _ => throw new InvalidDataException($"Unknown visitor status '{code}'."),
    };

    public static bool TryParseWatchlistKind(string? code, out WatchlistKind kind)
    {
        kind = code == "organization" ? WatchlistKind.Organization : WatchlistKind.Person;
        return code is "person" or "organization";
    }
}

/// <summary>
/// Why the desk or an approver was refused: closed codes, shared by the API's problem bodies, the CLI and the
/// security rows of the entry log. The first four are also decision reasons of the door rules.
/// </summary>
public static class VisitRefusals
{
    public const string NotApproved = "visit_not_approved";
    public const string OutsideWindow = "visit_outside_window";
    public const string Watchlisted = "watchlisted";
    public const string DocumentExpired = "document_expired";
    public const string NameMismatch = "name_mismatch";
    public const string NoBadgeAvailable = "no_badge_available";
    public const string SegregationOfDuties = "segregation_of_duties";
    /// <summary>The token is limited to another site (<c>--site</c>): <see cref="Admin.SiteLimit.Code"/>.</summary>
    public const string NotForThisSite = Admin.SiteLimit.Code;
    public const string WindowStarted = "window_started";

    /// <summary>The visit's host is no longer an active employee (suspended or terminated since the request).</summary>
    public const string HostNotActive = "host_not_active";

    /// <summary>The presented document is already checked in on a visit whose badge is still out.</summary>
    public const string AlreadyOnSite = "already_on_site";
}

/// <summary>Alarm types raised by visitor management (see <see cref="VisitorService.CheckOverdueBadgesAsync"/>).</summary>
public static class VisitorAlarms
{
    /// <summary>A visitor badge was not returned by the end of its visit window (its credential has expired anyway).</summary>
    public const string BadgeNotReturned = AccessControl.Protocol.AlarmTypes.VisitorBadgeNotReturned;
}

/// <summary>
/// What <see cref="VisitorService.EndInvolvementAsync"/> did for a person who left: visits cancelled, visits that lost
/// them as escort, visitors checked out (<c>visit/number</c>), and visits in progress left to the front desk.
/// </summary>
public sealed record VisitsEnded(IReadOnlyList<long> Cancelled, IReadOnlyList<long> EscortRemoved, IReadOnlyList<string> CheckedOut, IReadOnlyList<long> InProgress);

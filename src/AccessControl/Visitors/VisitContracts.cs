using AccessControl.Sites;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Visitors;

// The JSON shapes of the visitor API (camelCase, instants RFC 3339, see Admin/AdminJson). Requests carry text, so a
// wrong value is reported with its field's name. Views never carry a document number or its hash.

/// <summary>Body of <c>POST /api/v1/visits</c>. The host defaults to the person behind the requesting token.</summary>
/// <param name="Date">The visit day, <c>yyyy-MM-dd</c>, in the site's time zone.</param>
/// <param name="Start">Wall-clock start <c>HH:mm</c>.</param>
/// <param name="End">Wall-clock end <c>HH:mm</c>; not after the start means the next day.</param>
/// <param name="Escorts">Designated escorts (person ids); omitted or empty: any authorized escort.</param>
public sealed record VisitRequestInput(
    string? Site,
    string? Purpose,
    string? Date,
    string? Start,
    string? End,
    IReadOnlyList<string?>? Zones,
    IReadOnlyList<VisitorInput?>? Visitors,
    IReadOnlyList<string?>? Escorts = null,
    string? Host = null);

/// <summary>A visitor named in a request.</summary>
public sealed record VisitorInput(string? Name, string? Organization);

/// <summary>Body of approve, reject and withdraw.</summary>
public sealed record DecisionInput(string? Note = null);

/// <summary>Body of <c>POST /api/v1/visits/{id}/check-in</c>.</summary>
/// <param name="Visitor">The visitor's number within the visit (1, 2, ...).</param>
/// <param name="Name">The name as printed on the document.</param>
/// <param name="Badge">A specific pooled badge (the one in the desk's hand); omitted: any free badge of the site.</param>
public sealed record CheckInInput(int? Visitor, string? Name, DocumentInput? Document, string? Badge = null);

/// <summary>The document the visitor presents. The number is used for its keyed hash and last four characters, then dropped.</summary>
/// <param name="Expiry"><c>yyyy-MM-dd</c>.</param>
public sealed record DocumentInput(string? Type, string? Country, string? Number, string? Expiry)
{
    /// <summary>Never prints the number (a record's default ToString would).</summary>
    public override string ToString() => $"{Type} {Country} (number withheld) {Expiry}";
}

/// <summary>Body of <c>POST /api/v1/visits/{id}/check-out</c>.</summary>
public sealed record CheckOutInput(int? Visitor);

/// <summary>Body of <c>POST /api/v1/watchlist</c>.</summary>
public sealed record WatchlistInput(string? Kind, string? Value, string? Note = null);

/// <summary>Body of <c>PUT /api/v1/badge-pool/{card}</c>.</summary>
public sealed record PooledBadgeInput(string? Site, string? Technology);

/// <summary>
/// The window as the API shows it: what the host asked for, the instants it means (UTC), and those instants on the
/// site's wall clock with their offset, so that the desk reads which 02:30 of a fall-back night without working it out.
/// </summary>
public sealed record WindowView(string Date, string Start, string End, Instant StartsAt, Instant EndsAt)
{
    /// <summary>The site's time zone (IANA id) of <see cref="StartsLocal"/> and <see cref="EndsLocal"/>; null (omitted) when the site is no longer loaded.</summary>
    public string? TimeZone { get; init; }

    /// <summary><see cref="StartsAt"/> in <see cref="TimeZone"/>, with its offset: <c>2026-10-25T02:30:00+02:00</c>.</summary>
    public OffsetDateTime? StartsLocal { get; init; }

    /// <summary><see cref="EndsAt"/> in <see cref="TimeZone"/>, with its offset.</summary>
    public OffsetDateTime? EndsLocal { get; init; }

    /// <param name="zone">The site's time zone; null when the site is no longer loaded (then only the instants are shown).</param>
    public static WindowView From(VisitWindow window, Interval interval, DateTimeZone? zone) => new(
        LocalDatePattern.Iso.Format(window.Date),
        Time.Format(window.Start),
        Time.Format(window.End),
        interval.Start,
        interval.End)
    {
        TimeZone = zone?.Id,
        StartsLocal = Local(interval.Start, zone),
        EndsLocal = Local(interval.End, zone),
    };

    /// <summary>
    /// An instant on the site's wall clock with its offset (<c>2026-10-25T02:30:00+02:00</c>), as every answer of the
    /// visitor API shows a local time beside its UTC instant; null without an instant or when the site is no longer loaded.
    /// </summary>
    public static OffsetDateTime? Local(Instant? instant, DateTimeZone? zone) =>
        instant is { } at && zone is not null ? at.InZone(zone).ToOffsetDateTime() : null;

    /// <summary>
    /// An instant as the desk's messages name it: on the site's wall clock with offset and zone, then in UTC
    /// (<c>2026-10-25T02:30:00+02:00 Europe/Berlin (2026-10-25T00:30:00Z)</c>); in UTC alone without a zone.
    /// </summary>
    public static string Describe(Instant instant, DateTimeZone? zone) =>
        zone is null
            ? InstantPattern.General.Format(instant)
            : $"{OffsetDateTimePattern.Rfc3339.Format(Local(instant, zone)!.Value)} {zone.Id} ({InstantPattern.General.Format(instant)})";

    internal static LocalTimePattern Time { get; } = LocalTimePattern.CreateWithInvariantCulture("HH':'mm");
}

/// <summary>A visitor as the API shows it.</summary>
public sealed record VisitorView(
    int Number,
    string Name,
    string Organization,
    string Status,
    string? Badge,
    string? PersonId,
    DocumentView? Document,
    Instant? CheckedInAt,
    string? CheckedInBy,
    Instant? CheckedOutAt,
    string? CheckedOutBy)
{
    public static VisitorView From(VisitVisitor v) => new(
        v.Number, v.Name, v.Organization, VisitCodes.Code(v.Status), v.Badge, v.PersonId,
        v.Document is { } d ? DocumentView.From(d) : null,
        v.CheckedInAt, v.CheckedInBy, v.CheckedOutAt, v.CheckedOutBy);
}

/// <summary>A recorded document: type, country, last four characters of the number, expiry. Never the number or its hash.</summary>
public sealed record DocumentView(string Type, string Country, string LastFour, string Expiry)
{
    public static DocumentView From(DocumentRecord d) =>
        new(DocumentRules.Code(d.Type), d.Country, d.LastFour, LocalDatePattern.Iso.Format(d.Expiry));
}

/// <summary>A decision as the API shows it.</summary>
public sealed record DecisionView(string By, string? ByPerson, Instant At, string? Note);

/// <summary>A visit as the API shows it.</summary>
/// <param name="Approved">Exactly what was approved (set once approved; it does not change afterwards).</param>
public sealed record VisitView(
    long Id,
    string Site,
    string Host,
    string RequestedBy,
    Instant RequestedAt,
    string Purpose,
    WindowView Window,
    IReadOnlyList<string> Zones,
    IReadOnlyList<string> Escorts,
    bool AnyEscort,
    string Status,
    DecisionView? Decision,
    VisitSnapshot? Approved,
    string? WithdrawnBy,
    Instant? WithdrawnAt,
    IReadOnlyList<VisitorView> Visitors)
{
    /// <summary>
    /// When the visit closed: the last check-out, once every visitor who came has left and none is still expected.
    /// Null while anyone is on site or expected (PCI 9.3.4: the visit's out-time).
    /// </summary>
    public Instant? ClosedAt { get; init; }

    /// <summary>
    /// What the desk must know about the visit it just acted on (a check-in: designated escorts who cannot escort now);
    /// absent when there is nothing to say. Not stored: said when it matters.
    /// </summary>
    public IReadOnlyList<string>? Warnings { get; init; }

    /// <summary>The same visit without its visitors' identity documents, for a reader whose role does not need them.</summary>
    public VisitView WithoutDocuments() => this with { Visitors = [.. Visitors.Select(v => v with { Document = null })] };

    /// <param name="zone">The visit's site's time zone, for the window's local times; null when the site is no longer loaded.</param>
    public static VisitView From(Visit v, DateTimeZone? zone) => new(
        v.Id,
        v.Site.Value,
        v.Host.Value,
        v.RequestedBy,
        v.RequestedAt,
        v.Purpose,
        WindowView.From(v.Window, v.Interval, zone),
        [.. v.Zones.Select(z => z.Value)],
        [.. v.Escorts.Select(e => e.Value)],
        v.Escorts.IsEmpty,
        VisitCodes.Code(v.Status),
        v.Decision is { } d ? new DecisionView(d.By, d.ByPerson, d.At, d.Note) : null,
        v.ApprovedSnapshot is { } s ? System.Text.Json.JsonSerializer.Deserialize<VisitSnapshot>(s, Admin.AdminJson.Options) : null,
        v.WithdrawnBy,
        v.WithdrawnAt,
        [.. v.Visitors.Select(VisitorView.From)])
    {
        ClosedAt = v.Visitors.Any(x => x.CheckedOutAt is not null) && v.Visitors.All(x => x.CheckedOutAt is not null)
            ? v.Visitors.Max(x => x.CheckedOutAt)
            : null,
    };
}

/// <summary>Exactly what an approver approved: stored with the approval and shown with the visit.</summary>
public sealed record VisitSnapshot(
    long Visit,
    string Site,
    string Host,
    string RequestedBy,
    string Purpose,
    WindowView Window,
    IReadOnlyList<string> Zones,
    IReadOnlyList<string> Escorts,
    IReadOnlyList<VisitorInput> Visitors)
{
    /// <param name="zone">The site's time zone: the window's local times are part of what was approved.</param>
    public static VisitSnapshot From(Visit v, DateTimeZone? zone) => new(
        v.Id, v.Site.Value, v.Host.Value, v.RequestedBy, v.Purpose, WindowView.From(v.Window, v.Interval, zone),
        [.. v.Zones.Select(z => z.Value)], [.. v.Escorts.Select(e => e.Value)],
        [.. v.Visitors.Select(x => new VisitorInput(x.Name, x.Organization))]);
}

/// <summary>One visitor on site now, for the front desk and security (in an evacuation, the muster list).</summary>
/// <param name="LastSeen">The visitor's last granted door, from the entry log (null before the first swipe).</param>
/// <remarks>
/// Each instant is also given on the site's wall clock with its offset (<see cref="WindowView.Local"/>):
/// the desk reads the list on the site's clock, and on a fall-back night only the offset says which 02:30 is meant.
/// </remarks>
public sealed record OnSiteView(
    long Visit,
    int Visitor,
    string Name,
    string Organization,
    string Host,
    string? Badge,
    Instant CheckedInAt,
    Instant WindowEndsAt,
    IReadOnlyList<string> Zones,
    IReadOnlyList<string> Escorts,
    bool AnyEscort,
    LastSeenView? LastSeen)
{
    /// <summary>The site's time zone (IANA id) of the local times; null (omitted, as they are) when the site is no longer loaded.</summary>
    public string? TimeZone { get; init; }

    /// <summary><see cref="CheckedInAt"/> on the site's clock, with its offset.</summary>
    public OffsetDateTime? CheckedInLocal { get; init; }

    /// <summary><see cref="WindowEndsAt"/> on the site's clock, with its offset (the window's <c>endsLocal</c>).</summary>
    public OffsetDateTime? WindowEndsLocal { get; init; }
}

/// <summary>Where a visitor was last let through.</summary>
/// <param name="EscortedBy">The escort who brought the visitor through that door (from the linked log row), if any.</param>
public sealed record LastSeenView(Instant At, string? Door, string? Zone, string? Reader, string? EscortedBy = null)
{
    /// <summary><see cref="At"/> on the site's clock, with its offset (the zone is the on-site row's <c>timeZone</c>); null when the site is no longer loaded.</summary>
    public OffsetDateTime? AtLocal { get; init; }
}

/// <summary>A badge still out after its visit's window ended.</summary>
/// <remarks>The instants are also given on the site's wall clock with their offset, as in <see cref="OnSiteView"/>.</remarks>
public sealed record OverdueBadgeView(string Badge, long Visit, int Visitor, string Name, string Organization, string Host, Instant WindowEndedAt, Instant? AlarmRaisedAt)
{
    /// <summary>The site's time zone (IANA id) of the local times; null (omitted, as they are) when the site is no longer loaded.</summary>
    public string? TimeZone { get; init; }

    /// <summary><see cref="WindowEndedAt"/> on the site's clock, with its offset.</summary>
    public OffsetDateTime? WindowEndedLocal { get; init; }

    /// <summary><see cref="AlarmRaisedAt"/> on the site's clock, with its offset; null until the alarm is raised.</summary>
    public OffsetDateTime? AlarmRaisedLocal { get; init; }
}

/// <summary>A row of the visitor log (PCI DSS 9.3.4): who visited, for whom, why, authorized by whom, with which badge, when.</summary>
public sealed record VisitorLogRow(
    long Visit,
    int Visitor,
    string Site,
    string Name,
    string Organization,
    string Host,
    string? HostName,
    string Purpose,
    string? AuthorizedBy,
    string? AuthorizedByPerson,
    string? Badge,
    Instant? CheckedInAt,
    string? CheckedInBy,
    Instant? CheckedOutAt,
    string? CheckedOutBy,
    string Status);

/// <summary>A pooled badge as the API shows it, with the visit holding it when it is out.</summary>
public sealed record PooledBadgeView(string Card, string Site, string Technology, Instant AddedAt, string AddedBy, long? HeldByVisit = null, int? HeldByVisitor = null);

/// <summary>A watch-list entry as the API shows it.</summary>
public sealed record WatchlistView(long Id, string Kind, string Value, string Normalized, string? Note, Instant AddedAt, string AddedBy)
{
    public static WatchlistView From(WatchlistEntry e) => new(e.Id, VisitCodes.Code(e.Kind), e.Value, e.Normalized, e.Note, e.AddedAt, e.AddedBy);
}

/// <summary>What a retention purge deleted.</summary>
public sealed record PurgeSummary(Instant Cutoff, IReadOnlyList<long> Visits, int Visitors);

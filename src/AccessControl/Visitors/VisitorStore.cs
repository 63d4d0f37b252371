using System.Collections.Immutable;
using System.Data;
using System.Text.Json;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Visitors;

/// <summary>
/// The durable state of visitor management: plain SQL over the tables of <c>Migrations/0007_visits.sql</c>.
/// </summary>
/// <remarks>
/// Like <see cref="Cardholding.CardholderStore"/>, the store neither validates nor audits: <see cref="VisitorService"/>
/// does both and is the only writer. Each write is one SQLite transaction. The unique index on on-site badges makes
/// "a pooled badge is never issued while its previous visit is open" hold in the database itself.
/// </remarks>
public sealed class VisitorStore(Database database)
{
    private const string VisitColumns =
        """
        id AS Id, site_id AS SiteId, host_person AS HostPerson, requested_by AS RequestedBy, requested_by_person AS RequestedByPerson,
        requested_at AS RequestedAt, purpose AS Purpose, window_date AS WindowDate, window_start AS WindowStart, window_end AS WindowEnd,
        starts_at AS StartsAt, ends_at AS EndsAt, zones AS Zones, escorts AS Escorts, status AS Status, decided_by AS DecidedBy,
        decided_by_person AS DecidedByPerson, decided_at AS DecidedAt, decision_note AS DecisionNote, approved_snapshot AS ApprovedSnapshot,
        withdrawn_by AS WithdrawnBy, withdrawn_at AS WithdrawnAt
        """;

    private const string VisitorColumns =
        """
        visit_id AS VisitId, number AS Number, name AS Name, organization AS Organization, status AS Status, person_id AS PersonId,
        badge_card AS BadgeCard, doc_type AS DocType, doc_country AS DocCountry, doc_number_hmac AS DocNumberHmac,
        doc_number_last4 AS DocNumberLast4, doc_expiry AS DocExpiry, checked_in_at AS CheckedInAt, checked_in_by AS CheckedInBy,
        checked_out_at AS CheckedOutAt, checked_out_by AS CheckedOutBy, overdue_alarm_at AS OverdueAlarmAt
        """;

    // ---- visits ------------------------------------------------------------------------------------

    /// <summary>
    /// The id the next visit will get (ids are never reused), so that the audit row, written before the visit, names it.
    /// Only meaningful while the caller is the only writer (<see cref="VisitorService"/> serializes its calls).
    /// </summary>
    public long NextVisitId()
    {
        using var connection = database.Open();
        var used = connection.ExecuteScalar<long?>("SELECT seq FROM sqlite_sequence WHERE name = 'visits'") ?? 0;
        return Math.Max(used, connection.ExecuteScalar<long?>("SELECT MAX(id) FROM visits") ?? 0) + 1;
    }

    /// <summary>Inserts a new request (status requested) with its visitors, with the id of <see cref="Visit.Id"/>.</summary>
    public void InsertVisit(Visit visit)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        var id = visit.Id;
        connection.Execute(
            """
            INSERT INTO visits (id, site_id, host_person, requested_by, requested_by_person, requested_at, purpose, window_date, window_start,
                                window_end, starts_at, ends_at, zones, escorts, status)
            VALUES (@id, @site, @host, @requestedBy, @requestedByPerson, @requestedAt, @purpose, @date, @start, @end, @startsAt, @endsAt,
                    @zones, @escorts, 'requested')
            """,
            new
            {
                id,
                site = visit.Site.Value,
                host = visit.Host.Value,
                requestedBy = visit.RequestedBy,
                requestedByPerson = visit.RequestedByPerson,
                requestedAt = visit.RequestedAt,
                purpose = visit.Purpose,
                date = LocalDatePattern.Iso.Format(visit.Window.Date),
                start = WindowView.Time.Format(visit.Window.Start),
                end = WindowView.Time.Format(visit.Window.End),
                startsAt = visit.Interval.Start,
                endsAt = visit.Interval.End,
                zones = JsonSerializer.Serialize(visit.Zones.Select(z => z.Value)),
                escorts = JsonSerializer.Serialize(visit.Escorts.Select(e => e.Value)),
            },
            transaction);
        connection.Execute(
            "INSERT INTO visit_visitors (visit_id, number, name, organization, status) VALUES (@id, @number, @name, @organization, 'expected')",
            visit.Visitors.Select(v => new { id, number = v.Number, name = v.Name, organization = v.Organization }),
            transaction);
        transaction.Commit();
    }

    public Visit? Get(long id)
    {
        using var connection = database.Open();
        return Load(connection, $"SELECT {VisitColumns} FROM visits WHERE id = @id", new { id }).SingleOrDefault();
    }

    /// <summary>
    /// Visits whose window overlaps [from, to) (it starts before <paramref name="to"/> and ends after
    /// <paramref name="from"/>: a night visit begun the day before is one), optionally of one site and status, in start order.
    /// </summary>
    /// <remarks>
    /// No window lasts longer than <see cref="VisitWindow.MaxLength"/>, so one ending after <paramref name="from"/> starts
    /// after <paramref name="from"/> minus that: the bound lets the list read a range of <c>ix_visits_site_starts</c> (or <c>ix_visits_starts</c> for every site)
    /// (<see cref="ListSql"/>) instead of every visit that ends after <paramref name="from"/>, all the future ones of a past day.
    /// </remarks>
    public IReadOnlyList<Visit> List(Instant from, Instant to, string? site, string? status, int limit)
    {
        using var connection = database.Open();
        return Load(connection, ListSql(site is not null), new { from, to, earliest = from - VisitWindow.MaxLength, site, status, limit });
    }

    /// <summary>
    /// The query of <see cref="List"/>; with a site, <c>site_id = @site</c> plainly, so that SQLite uses the site's index
    /// (<c>ix_visits_site_starts</c>); without one, <c>ix_visits_starts</c>.
    /// </summary>
    internal static string ListSql(bool ofOneSite) =>
        $"""
        SELECT {VisitColumns} FROM visits
        WHERE {(ofOneSite ? "site_id = @site AND " : "")}starts_at >= @earliest AND starts_at < @to AND ends_at > @from
          AND (@status IS NULL OR status = @status)
        ORDER BY starts_at, id LIMIT @limit
        """;

    /// <summary>Visits with at least one visitor on site.</summary>
    public IReadOnlyList<Visit> WithVisitorsOnSite()
    {
        using var connection = database.Open();
        return Load(
            connection,
            $"SELECT {VisitColumns} FROM visits WHERE id IN (SELECT visit_id FROM visit_visitors WHERE status = 'on_site') ORDER BY id",
            null);
    }

    /// <summary>Visits that ended before <paramref name="cutoff"/> and have nobody on site: what a retention purge may delete.</summary>
    public IReadOnlyList<Visit> EndedBefore(Instant cutoff)
    {
        using var connection = database.Open();
        return Load(
            connection,
            $"""
            SELECT {VisitColumns} FROM visits
            WHERE ends_at < @cutoff AND id NOT IN (SELECT visit_id FROM visit_visitors WHERE status = 'on_site')
            ORDER BY id
            """,
            new { cutoff });
    }

    /// <summary>Records an approval or a rejection of a request that is still <c>requested</c>. False when it no longer is.</summary>
    public bool Decide(long id, VisitStatus status, VisitDecision decision, string? snapshot)
    {
        using var connection = database.Open();
        return connection.Execute(
            """
            UPDATE visits SET status = @status, decided_by = @by, decided_by_person = @byPerson, decided_at = @at, decision_note = @note,
                              approved_snapshot = @snapshot
            WHERE id = @id AND status = 'requested'
            """,
            new { id, status = VisitCodes.Code(status), by = decision.By, byPerson = decision.ByPerson, at = decision.At, note = decision.Note, snapshot }) == 1;
    }

    /// <summary>Withdraws an approval while nobody has checked in. False when the visit is not approved or someone has.</summary>
    public bool Withdraw(long id, string by, Instant at)
    {
        using var connection = database.Open();
        return connection.Execute(
            """
            UPDATE visits SET status = 'withdrawn', withdrawn_by = @by, withdrawn_at = @at
            WHERE id = @id AND status = 'approved'
              AND NOT EXISTS (SELECT 1 FROM visit_visitors WHERE visit_id = @id AND status <> 'expected')
            """,
            new { id, by, at }) == 1;
    }

    /// <summary>
    /// The visits a person who leaves is part of (HR termination): requested or approved visits not yet ended that they
    /// host or escort, approved visits not yet ended that they approved, requests not yet decided nor ended that they
    /// made, and any visit where they are a visitor on site.
    /// </summary>
    public IReadOnlyList<Visit> Involving(string personId, Instant now)
    {
        using var connection = database.Open();
        return Load(
            connection,
            $"""
            SELECT {VisitColumns} FROM visits
            WHERE (status IN ('requested', 'approved') AND ends_at > @now
                   AND (host_person = @personId OR (status = 'approved' AND decided_by_person = @personId) OR (status = 'requested' AND requested_by_person = @personId) OR EXISTS (SELECT 1 FROM json_each(visits.escorts) WHERE value = @personId)))
               OR id IN (SELECT visit_id FROM visit_visitors WHERE person_id = @personId AND status = 'on_site')
            ORDER BY id
            """,
            new { personId, now });
    }

    /// <summary>
    /// Cancels a request or an approval while nobody has checked in (its host or sole escort left): status
    /// <c>withdrawn</c>, final. False when the visit is neither or someone has checked in.
    /// </summary>
    public bool Cancel(long id, string by, Instant at)
    {
        using var connection = database.Open();
        return connection.Execute(
            """
            UPDATE visits SET status = 'withdrawn', withdrawn_by = @by, withdrawn_at = @at
            WHERE id = @id AND status IN ('requested', 'approved')
              AND NOT EXISTS (SELECT 1 FROM visit_visitors WHERE visit_id = @id AND status <> 'expected')
            """,
            new { id, by, at }) == 1;
    }

    /// <summary>Replaces the designated escorts of a visit. False when there is no such visit.</summary>
    public bool SetEscorts(long id, IEnumerable<PersonId> escorts)
    {
        using var connection = database.Open();
        return connection.Execute(
            "UPDATE visits SET escorts = @escorts WHERE id = @id",
            new { id, escorts = JsonSerializer.Serialize(escorts.Select(e => e.Value)) }) == 1;
    }

    /// <summary>Marks an expected visitor on site with the badge and document. False when the visitor is not expected.</summary>
    public bool CheckIn(long visit, int number, string personId, string badge, DocumentRecord document, Instant at, string by)
    {
        using var connection = database.Open();
        return connection.Execute(
            """
            UPDATE visit_visitors SET status = 'on_site', person_id = @personId, badge_card = @badge, doc_type = @type, doc_country = @country,
                                      doc_number_hmac = @hmac, doc_number_last4 = @last4, doc_expiry = @expiry,
                                      checked_in_at = @at, checked_in_by = @by
            WHERE visit_id = @visit AND number = @number AND status = 'expected'
            """,
            new
            {
                visit,
                number,
                personId,
                badge,
                type = DocumentRules.Code(document.Type),
                country = document.Country,
                hmac = document.NumberHmac,
                last4 = document.LastFour,
                expiry = LocalDatePattern.Iso.Format(document.Expiry),
                at,
                by,
            }) == 1;
    }

    /// <summary>Undoes a check-in whose cardholder changes failed: the visitor is expected again and the badge free.</summary>
    public void UndoCheckIn(long visit, int number)
    {
        using var connection = database.Open();
        connection.Execute(
            """
            UPDATE visit_visitors SET status = 'expected', person_id = NULL, badge_card = NULL, doc_type = NULL, doc_country = NULL,
                                      doc_number_hmac = NULL, doc_number_last4 = NULL, doc_expiry = NULL, checked_in_at = NULL, checked_in_by = NULL
            WHERE visit_id = @visit AND number = @number AND status = 'on_site'
            """,
            new { visit, number });
    }

    /// <summary>Marks an on-site visitor as left. False when the visitor is not on site.</summary>
    public bool CheckOut(long visit, int number, Instant at, string by)
    {
        using var connection = database.Open();
        return connection.Execute(
            "UPDATE visit_visitors SET status = 'left', checked_out_at = @at, checked_out_by = @by WHERE visit_id = @visit AND number = @number AND status = 'on_site'",
            new { visit, number, at, by }) == 1;
    }

    public void MarkOverdueAlarm(long visit, int number, Instant at)
    {
        using var connection = database.Open();
        connection.Execute(
            "UPDATE visit_visitors SET overdue_alarm_at = @at WHERE visit_id = @visit AND number = @number AND overdue_alarm_at IS NULL",
            new { visit, number, at });
    }

    /// <summary>Deletes visits and their visitors (retention purge).</summary>
    public int DeleteVisits(IReadOnlyCollection<long> ids)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        var deleted = connection.Execute("DELETE FROM visits WHERE id IN @ids", new { ids }, transaction);
        transaction.Commit();
        return deleted;
    }

    /// <summary>
    /// The visitor log: visitors checked in within [from, to), optionally of one site, in check-in order (then visit and
    /// number), after <paramref name="after"/> when given; at most <paramref name="limit"/> of them.
    /// </summary>
    public IReadOnlyList<(Visit Visit, VisitVisitor Visitor)> CheckedInBetween(Instant from, Instant to, string? site, VisitorLogCursor? after, int limit)
    {
        using var connection = database.Open();
        var visits = Load(
                connection,
                $"""
                SELECT {VisitColumns} FROM visits
                WHERE id IN (SELECT visit_id FROM visit_visitors WHERE checked_in_at >= @from AND checked_in_at < @to)
                  AND (@site IS NULL OR site_id = @site)
                """,
                new { from, to, site })
            .ToList();
        return [.. visits
            .SelectMany(v => v.Visitors
                .Where(x => x.CheckedInAt is { } at && at >= from && at < to && (after is not { } cursor || cursor.IsBefore(at, v.Id, x.Number)))
                .Select(x => (v, x)))
            .OrderBy(p => p.x.CheckedInAt)
            .ThenBy(p => p.v.Id)
            .ThenBy(p => p.x.Number)
            .Take(limit)];
    }

    /// <summary>The visitor on site now who checked in with the document of this keyed hash, if any: (visit, number, site).</summary>
    public (long Visit, int Visitor, string Site)? OnSiteWithDocument(string numberHmac)
    {
        using var connection = database.Open();
        var rows = connection.Query<(long Visit, long Number, string Site)>(
            """
            SELECT vv.visit_id, vv.number, v.site_id FROM visit_visitors vv JOIN visits v ON v.id = vv.visit_id
            WHERE vv.status = 'on_site' AND vv.doc_number_hmac = @numberHmac ORDER BY vv.visit_id, vv.number LIMIT 1
            """,
            new { numberHmac }).ToList();
        return rows.Count == 0 ? null : (rows[0].Visit, (int)rows[0].Number, rows[0].Site);
    }

    // ---- badge pool --------------------------------------------------------------------------------

    public IReadOnlyList<PooledBadge> Badges(string? site)
    {
        using var connection = database.Open();
        return [.. connection.Query<BadgeRow>(
                "SELECT card_uid AS Card, site_id AS Site, technology AS Technology, added_at AS AddedAt, added_by AS AddedBy FROM badge_pool WHERE @site IS NULL OR site_id = @site ORDER BY card_uid",
                new { site })
            .Select(r => r.ToBadge())];
    }

    public PooledBadge? Badge(string card) => Badges(null).FirstOrDefault(b => b.Card == card);

    /// <summary>Badges out now: card UID to (visit, visitor number).</summary>
    public IReadOnlyDictionary<string, (long Visit, int Visitor)> BadgesOut()
    {
        using var connection = database.Open();
        return connection.Query<(string Card, long Visit, long Number)>(
                "SELECT badge_card, visit_id, number FROM visit_visitors WHERE status = 'on_site' AND badge_card IS NOT NULL")
            .ToDictionary(r => r.Card, r => (r.Visit, (int)r.Number), StringComparer.Ordinal);
    }

    public void UpsertBadge(PooledBadge badge)
    {
        using var connection = database.Open();
        connection.Execute(
            """
            INSERT INTO badge_pool (card_uid, site_id, technology, added_at, added_by) VALUES (@Card, @site, @Technology, @AddedAt, @AddedBy)
            ON CONFLICT (card_uid) DO UPDATE SET site_id = excluded.site_id, technology = excluded.technology,
                                                 added_at = excluded.added_at, added_by = excluded.added_by
            """,
            new { badge.Card, site = badge.Site.Value, badge.Technology, badge.AddedAt, badge.AddedBy });
    }

    public bool DeleteBadge(string card)
    {
        using var connection = database.Open();
        return connection.Execute("DELETE FROM badge_pool WHERE card_uid = @card", new { card }) == 1;
    }

    // ---- watch list --------------------------------------------------------------------------------

    public IReadOnlyList<WatchlistEntry> Watchlist()
    {
        using var connection = database.Open();
        return [.. connection.Query<WatchlistRow>(
                "SELECT id AS Id, kind AS Kind, value AS Value, normalized AS Normalized, note AS Note, added_at AS AddedAt, added_by AS AddedBy FROM watchlist ORDER BY id")
            .Select(r => r.ToEntry())];
    }

    public long AddToWatchlist(WatchlistKind kind, string value, string normalized, string? note, Instant at, string by)
    {
        using var connection = database.Open();
        return connection.ExecuteScalar<long>(
            """
            INSERT INTO watchlist (kind, value, normalized, note, added_at, added_by) VALUES (@kind, @value, @normalized, @note, @at, @by);
            SELECT last_insert_rowid();
            """,
            new { kind = VisitCodes.Code(kind), value, normalized, note, at, by });
    }

    public bool RemoveFromWatchlist(long id)
    {
        using var connection = database.Open();
        return connection.Execute("DELETE FROM watchlist WHERE id = @id", new { id }) == 1;
    }

    // ---- reading -----------------------------------------------------------------------------------

    private static List<Visit> Load(IDbConnection connection, string sql, object? parameters)
    {
        var rows = connection.Query<VisitRow>(sql, parameters).ToList();
        if (rows.Count == 0)
        {
            return [];
        }

        var ids = rows.Select(r => r.Id).ToArray();
        var visitors = connection.Query<VisitorRow>($"SELECT {VisitorColumns} FROM visit_visitors WHERE visit_id IN @ids ORDER BY visit_id, number", new { ids })
            .ToLookup(v => v.VisitId, v => v.ToVisitor());
        return [.. rows.Select(r => r.ToVisit([.. visitors[r.Id]]))];
    }

    private static Instant At(long ms) => Instant.FromUnixTimeMilliseconds(ms);

    private static Instant? At(long? ms) => ms is { } v ? Instant.FromUnixTimeMilliseconds(v) : null;

    private static LocalDate Date(string text) => LocalDatePattern.Iso.Parse(text).GetValueOrThrow();

    private sealed class VisitRow
    {
        public long Id { get; set; }

        public string SiteId { get; set; } = "";

        public string HostPerson { get; set; } = "";

        public string RequestedBy { get; set; } = "";

        public string RequestedByPerson { get; set; } = "";

        public long RequestedAt { get; set; }

        public string Purpose { get; set; } = "";

        public string WindowDate { get; set; } = "";

        public string WindowStart { get; set; } = "";

        public string WindowEnd { get; set; } = "";

        public long StartsAt { get; set; }

        public long EndsAt { get; set; }

        public string Zones { get; set; } = "[]";

        public string Escorts { get; set; } = "[]";

        public string Status { get; set; } = "";

        public string? DecidedBy { get; set; }

        public string? DecidedByPerson { get; set; }

        public long? DecidedAt { get; set; }

        public string? DecisionNote { get; set; }

        public string? ApprovedSnapshot { get; set; }

        public string? WithdrawnBy { get; set; }

        public long? WithdrawnAt { get; set; }

        public Visit ToVisit(ImmutableArray<VisitVisitor> visitors) => new(
            Id,
            new SiteId(SiteId),
            new PersonId(HostPerson),
            RequestedBy,
            RequestedByPerson,
            At(RequestedAt),
            Purpose,
            new VisitWindow(Date(WindowDate), WindowView.Time.Parse(WindowStart).GetValueOrThrow(), WindowView.Time.Parse(WindowEnd).GetValueOrThrow()),
            new Interval(At(StartsAt), At(EndsAt)),
            [.. (JsonSerializer.Deserialize<string[]>(Zones) ?? []).Select(z => new ZoneId(z))],
            [.. (JsonSerializer.Deserialize<string[]>(Escorts) ?? []).Select(e => new PersonId(e))],
            VisitCodes.ParseVisitStatus(Status),
            DecidedBy is null || DecidedAt is null ? null : new VisitDecision(DecidedBy, DecidedByPerson, At(DecidedAt.Value), DecisionNote),
            ApprovedSnapshot,
            WithdrawnBy,
            At(WithdrawnAt),
            visitors);
    }

    private sealed class VisitorRow
    {
        public long VisitId { get; set; }

        public long Number { get; set; }

        public string Name { get; set; } = "";

        public string Organization { get; set; } = "";

        public string Status { get; set; } = "";

        public string? PersonId { get; set; }

        public string? BadgeCard { get; set; }

        public string? DocType { get; set; }

        public string? DocCountry { get; set; }

        public string? DocNumberHmac { get; set; }

        public string? DocNumberLast4 { get; set; }

        public string? DocExpiry { get; set; }

        public long? CheckedInAt { get; set; }

        public string? CheckedInBy { get; set; }

        public long? CheckedOutAt { get; set; }

        public string? CheckedOutBy { get; set; }

        public long? OverdueAlarmAt { get; set; }

        public VisitVisitor ToVisitor()
        {
            DocumentRecord? document = null;
            if (DocType is not null && DocumentRules.TryParseType(DocType, out var type))
            {
                document = new DocumentRecord(type, DocCountry ?? "", DocNumberHmac ?? "", DocNumberLast4 ?? "", Date(DocExpiry ?? "0001-01-01"));
            }

            return new VisitVisitor(
                (int)Number, Name, Organization, VisitCodes.ParseVisitorStatus(Status), PersonId, BadgeCard, document,
                At(CheckedInAt), CheckedInBy, At(CheckedOutAt), CheckedOutBy, At(OverdueAlarmAt));
        }
    }

    private sealed class BadgeRow
    {
        public string Card { get; set; } = "";

        public string Site { get; set; } = "";

        public string Technology { get; set; } = "";

        public long AddedAt { get; set; }

        public string AddedBy { get; set; } = "";

        public PooledBadge ToBadge() => new(Card, new SiteId(Site), Technology, At(AddedAt), AddedBy);
    }

    private sealed class WatchlistRow
    {
        public long Id { get; set; }

        public string Kind { get; set; } = "";

        public string Value { get; set; } = "";

        public string Normalized { get; set; } = "";

        public string? Note { get; set; }

        public long AddedAt { get; set; }

        public string AddedBy { get; set; } = "";

        public WatchlistEntry ToEntry() =>
            new(Id, Kind == "organization" ? WatchlistKind.Organization : WatchlistKind.Person, Value, Normalized, Note, At(AddedAt), AddedBy);
    }
}

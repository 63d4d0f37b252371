using AccessControl.Sites;
using AccessControl.Storage;
using AccessControl.Tests.Support;
using AccessControl.Visitors;
using Dapper;
using NodaTime;

namespace AccessControl.Tests.Visitors;

/// <summary>
/// <see cref="VisitorStore.List"/> reads only the visits starting at most <see cref="VisitWindow.MaxLength"/> before the
/// range, through the site's index, and still every visit running in it (a real SQLite file).
/// </summary>
public sealed class VisitStoreListTests : IDisposable
{
    private static readonly Instant Day = Instant.FromUtc(2026, 12, 2, 0, 0);

    private readonly DataFolder folder = new();
    private readonly Database database;
    private readonly VisitorStore store;

    public VisitStoreListTests()
    {
        database = new Database(Path.Combine(folder.Path, "visits.db"));
        database.Migrate();
        store = new VisitorStore(database);
    }

    public void Dispose() => folder.Dispose();

    /// <summary>
    /// A night visit begun the day before, and a visit as long as a window can be ending a minute into the range, are
    /// read; one that ended as the range began is not.
    /// </summary>
    [Fact]
    [Trait("control", "PCI-9.3.2")]
    public void List_HasTheNightVisitBegunTheDayBefore_AndAVisitOfTheMaximumLengthEndingInTheRange()
    {
        var night = Insert("demo", Day - Duration.FromHours(3), Day + Duration.FromHours(5));
        var longest = Insert("demo", Day + Duration.FromMinutes(1) - VisitWindow.MaxLength, Day + Duration.FromMinutes(1));
        Insert("demo", Day - VisitWindow.MaxLength, Day); // over as the day begins: half-open

        Assert.Equal([longest, night], store.List(Day, Day + Duration.FromDays(1), "demo", null, 100).Select(v => v.Id));
        Assert.Equal([longest, night], store.List(Day, Day + Duration.FromDays(1), null, null, 100).Select(v => v.Id));
    }

    /// <summary>A past day's list of a site reads a range of <c>ix_visits_site_starts</c>, not every visit ending after that day.</summary>
    [Fact]
    public void ListSql_OfOneSite_SearchesTheSitesStartIndex()
    {
        using var connection = database.Open();

        var plan = connection.Query<(long Id, long Parent, long NotUsed, string Detail)>(
            "EXPLAIN QUERY PLAN " + VisitorStore.ListSql(ofOneSite: true),
            new { from = 0L, to = 1L, earliest = -1L, site = "demo", status = (string?)null, limit = 10 }).Select(row => row.Detail).ToList();

        Assert.Contains(plan, step => step.Contains("USING INDEX ix_visits_site_starts (site_id=? AND starts_at>? AND starts_at<?)", StringComparison.Ordinal));
    }

    /// <summary>A past day's list of every site reads a range of <c>ix_visits_starts</c>, not every visit ending after that day.</summary>
    [Fact]
    public void ListSql_OfEverySite_SearchesTheStartIndex()
    {
        using var connection = database.Open();

        var plan = connection.Query<(long Id, long Parent, long NotUsed, string Detail)>(
            "EXPLAIN QUERY PLAN " + VisitorStore.ListSql(ofOneSite: false),
            new { from = 0L, to = 1L, earliest = -1L, site = (string?)null, status = (string?)null, limit = 10 }).Select(row => row.Detail).ToList();

        Assert.Contains(plan, step => step.Contains("USING INDEX ix_visits_starts (starts_at>? AND starts_at<?)", StringComparison.Ordinal));
    }

    private long Insert(string site, Instant start, Instant end)
    {
        var id = store.NextVisitId();
        var local = start.InUtc().LocalDateTime;
        store.InsertVisit(new Visit(
            id, new SiteId(site), new PersonId("p-host"), "host", "p-host", start - Duration.FromDays(1), "test",
            new VisitWindow(local.Date, local.TimeOfDay, end.InUtc().TimeOfDay), new Interval(start, end),
            [], [], VisitStatus.Approved, null, null, null, null,
            [new VisitVisitor(1, "A Visitor", "Org", VisitorStatus.Expected, null, null, null, null, null, null, null, null)]));
        return id;
    }
}

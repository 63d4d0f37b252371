using AccessControl.EntryLog;

namespace AccessControl.Visitors;

/// <summary>
/// What a visitor change is recorded as (<see cref="VisitorService"/>); <c>&lt;action&gt;.refused</c> when a token
/// limited to another site asks for it, or a rule refuses it (the watch list, segregation of duties, a check-in);
/// <c>&lt;action&gt;.failed</c> when the change could not be written after its row.
/// </summary>
[WrittenAs(ActionRows.Itself | ActionRows.Refused | ActionRows.Failed)]
public static class VisitActions
{
    public const string Request = "visit.request";
    public const string Approve = "visit.approve";
    public const string Reject = "visit.reject";
    public const string Withdraw = "visit.withdraw";
    public const string CheckIn = "visit.check_in";
    public const string CheckOut = "visit.check_out";
    public const string Purge = "visit.purge";
    public const string WatchlistAdd = "watchlist.add";
    public const string WatchlistRemove = "watchlist.remove";
    public const string BadgePoolAdd = "badge_pool.add";
    public const string BadgePoolRemove = "badge_pool.remove";

    /// <summary>The visitor log (<c>GET /visits/log</c>) of another site than a site-limited token's: only ever refused.</summary>
    [WrittenAs(ActionRows.Refused)]
    public const string Log = "visit.log";

    /// <summary>The day's visits (<c>GET /visits</c>) of another site than a site-limited token's: only ever refused.</summary>
    [WrittenAs(ActionRows.Refused)]
    public const string List = "visit.list";

    /// <summary>Who is on site (<c>GET /visits/on-site</c>) at another site than a site-limited token's: only ever refused.</summary>
    [WrittenAs(ActionRows.Refused)]
    public const string OnSite = "visit.on_site";

    /// <summary>The overdue badges (<c>GET /visits/overdue-badges</c>) of another site than a site-limited token's: only ever refused.</summary>
    [WrittenAs(ActionRows.Refused)]
    public const string OverdueBadges = "visit.overdue_badges";

    /// <summary>The badge pool (<c>GET /badge-pool</c>) of another site than a site-limited token's: only ever refused.</summary>
    [WrittenAs(ActionRows.Refused)]
    public const string BadgePoolList = "badge_pool.list";

    /// <summary>A person who left is no longer a visit's co-escort (<see cref="VisitorService.EndInvolvementAsync"/>, for the HR feed).</summary>
    [WrittenAs(ActionRows.Itself | ActionRows.Failed)]
    public const string EscortRemove = "visit.escort_remove";

    /// <summary>
    /// A visit whose host or only escort left is withdrawn (<see cref="VisitorService.EndInvolvementAsync"/>, for the HR
    /// feed); refused, as the whole of that call, to a token limited to one site.
    /// </summary>
    [WrittenAs(ActionRows.Itself | ActionRows.Refused | ActionRows.Failed)]
    public const string Cancel = "visit.cancel";
}

using AccessControl.EntryLog;

namespace AccessControl.Admin;

/// <summary>
/// A query of the entry log (<c>GET /log</c>) that a token limited to one site aims at another site: refused, and only
/// its refusal is written, as <c>&lt;action&gt;.refused</c>. An empty page would read as "nothing happened there".
/// </summary>
[WrittenAs(ActionRows.Refused)]
public static class LogQueryActions
{
    /// <summary>The log's rows of a site, asked with <c>site=</c>.</summary>
    public const string Query = "log.query";
}

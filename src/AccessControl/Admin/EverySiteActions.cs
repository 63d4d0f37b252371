using AccessControl.EntryLog;

namespace AccessControl.Admin;

/// <summary>
/// What spans every site at once and is refused as a whole to a token limited to one site
/// (<see cref="SiteLimit.EverySiteOnly"/>): only their refusal is written, as <c>&lt;action&gt;.refused</c>.
/// </summary>
[WrittenAs(ActionRows.Refused)]
public static class EverySiteActions
{
    /// <summary>
    /// People, credentials and access levels, read and written: a person's levels may name zones of any site. A change
    /// is refused by <see cref="AdminService"/> too, whoever asks it.
    /// </summary>
    public const string Cardholders = "cardholders";

    /// <summary>The list of operator tokens: every site's operators.</summary>
    public const string Tokens = "tokens";

    /// <summary>The log's verification: it walks, and may quote, every site's rows.</summary>
    public const string LogVerify = "log.verify";

    /// <summary>The fingerprint reconciliation: every person with a template, or with a two-factor zone of any site and none.</summary>
    public const string FingerprintReconciliation = "fingerprints.reconciliation";
}

using AccessControl.EntryLog;

namespace AccessControl.Cardholding;

/// <summary>
/// What a change to people, credentials and access levels is recorded as (<see cref="Admin.AdminService"/>), or
/// <c>&lt;action&gt;.failed</c> when the database could not be written after its row. No change is <c>.refused</c>
/// under its own code: a site-limited token is refused cardholders as a whole (<see cref="Admin.EverySiteActions.Cardholders"/>),
/// and the rules that refuse a change have their own codes, <see cref="CredentialReactivate"/> and <see cref="SelfChange"/>.
/// </summary>
[WrittenAs(ActionRows.Itself | ActionRows.Failed)]
public static class CardholderActions
{
    public const string PersonUpsert = "person.upsert";
    public const string PersonActivate = "person.activate";
    public const string PersonSuspend = "person.suspend";
    public const string PersonTerminate = "person.terminate";
    public const string PersonAccessLevels = "person.access_levels";
    public const string CredentialUpsert = "credential.upsert";
    public const string CredentialActivate = "credential.activate";
    public const string CredentialSuspend = "credential.suspend";
    public const string CredentialRevoke = "credential.revoke";

    /// <summary>A card bound afresh, with a reason: the only way back from a revocation (<see cref="Admin.AdminService.ReissueCredentialAsync"/>).</summary>
    public const string CredentialReissue = "credential.reissue";

    /// <summary>
    /// Only ever refused (<c>credential.reactivate.refused</c>, a <c>security</c> row): a revoked card asked back to
    /// active or suspended, by <see cref="CredentialActivate"/>, <see cref="CredentialSuspend"/> or
    /// <see cref="CredentialUpsert"/> (named in the row's detail). One code however it was asked, since the attempt to
    /// bring a lost or terminated card back is what an auditor looks for.
    /// </summary>
    [WrittenAs(ActionRows.Refused)]
    public const string CredentialReactivate = "credential.reactivate";

    /// <summary>
    /// Only ever refused (a <c>security</c> row of this code): an operator's token asked to give its own person access
    /// (segregation of duties, <see cref="Admin.AdminService"/>): a level, a card, a wider level they hold. The change
    /// asked for is named in the row's detail. Taking access away from oneself is not refused.
    /// </summary>
    [WrittenAs(ActionRows.Itself)]
    public const string SelfChange = "cardholders.self_change";

    public const string AccessLevelUpsert = "access_level.upsert";
    public const string AccessLevelDelete = "access_level.delete";
}

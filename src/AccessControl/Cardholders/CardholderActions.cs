using AccessControl.EntryLog;

namespace AccessControl.Cardholding;

/// <summary>
/// What a change to people, credentials and access levels is recorded as (<see cref="Admin.AdminService"/>), or
/// <c>&lt;action&gt;.failed</c> when the database could not be written after its row. No change is <c>.refused</c>
/// under its own code: a site-limited token is refused cardholders as a whole (<see cref="Admin.EverySiteActions.Cardholders"/>),
/// and the one rule that refuses a change has its own code, <see cref="CredentialReactivate"/>.
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

    public const string AccessLevelUpsert = "access_level.upsert";
    public const string AccessLevelDelete = "access_level.delete";
}

using AccessControl.EntryLog;

namespace AccessControl.Cardholding;

/// <summary>
/// What a change to people, credentials and access levels is recorded as (<see cref="Admin.AdminService"/>), or
/// <c>&lt;action&gt;.failed</c> when the database could not be written after its row. Never <c>.refused</c>: a
/// site-limited token is refused cardholders as a whole (<see cref="Admin.EverySiteActions.Cardholders"/>).
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
    public const string AccessLevelUpsert = "access_level.upsert";
    public const string AccessLevelDelete = "access_level.delete";
}

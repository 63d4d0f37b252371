using AccessControl.EntryLog;

namespace AccessControl.Admin;

/// <summary>
/// What a change to operator tokens is recorded as: by <c>accesscontrol token</c> on the edge box, and the revocation
/// of a terminated person's tokens by the HR feed. The command's row is written before the change:
/// <c>&lt;action&gt;.failed</c> when the change could not be made after it (naming the row's seq and the token ids).
/// </summary>
[WrittenAs(ActionRows.Itself | ActionRows.Failed)]
public static class OperatorTokenActions
{
    public const string Create = "operator_token.create";
    public const string Revoke = "operator_token.revoke";
}

using AccessControl.EntryLog;

namespace AccessControl.Admin;

/// <summary>
/// What a change to operator tokens is recorded as: by <c>accesscontrol token</c> on the edge box, and the revocation
/// of a terminated person's tokens by the HR feed. The row is written with the change, so there is no <c>.failed</c>.
/// </summary>
[WrittenAs(ActionRows.Itself)]
public static class OperatorTokenActions
{
    public const string Create = "operator_token.create";
    public const string Revoke = "operator_token.revoke";
}

using AccessControl.Admin;
using AccessControl.EntryLog;

namespace AccessControl.HttpSecurity;

/// <summary>
/// The <c>security</c> rows of the API's sign-in: a request refused for its token (<see cref="AdminApi.OperatorFilter"/>)
/// and a client address locked out for its failed sign-ins (<see cref="HttpSecurityExtensions.RecordFailedSignInAsync"/>).
/// </summary>
[WrittenAs(ActionRows.Itself)]
public static class AuthReasons
{
    /// <summary>No <c>Authorization</c> header (401).</summary>
    public const string MissingToken = "auth.missing_token";

    /// <summary>A token that is malformed, unknown or revoked (401).</summary>
    public const string InvalidToken = "auth.invalid_token";

    /// <summary>A valid token whose role may not call the endpoint (403).</summary>
    public const string Forbidden = "auth.forbidden";

    /// <summary>A client address locked out after too many failed sign-ins (429).</summary>
    public const string Lockout = "auth.lockout";

    /// <summary>A known token refused for its person: <c>auth.&lt;code&gt;</c>, the code of the answer (<see cref="TokenRefusals"/>).</summary>
    public static string TokenRefused(string refusal)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(refusal);
        return "auth." + refusal;
    }
}

using AccessControl.EntryLog;

namespace AccessControl.Fingerprints;

/// <summary>
/// What a fingerprint change is recorded as (<see cref="FingerprintService"/>), or <c>&lt;action&gt;.failed</c> when
/// the store could not be written after its row.
/// </summary>
[WrittenAs(ActionRows.Itself | ActionRows.Failed)]
public static class FingerprintActions
{
    public const string Enroll = "fingerprint.enroll";
    public const string Revoke = "fingerprint.revoke";

    /// <summary>Every site's templates re-encrypted; <c>.refused</c> to a token limited to one site (<see cref="Admin.SiteLimit"/>).</summary>
    [WrittenAs(ActionRows.Itself | ActionRows.Refused | ActionRows.Failed)]
    public const string Rekey = "fingerprint.rekey";

    /// <summary>The <c>security</c> row of an operator's attempt to enroll themselves (<see cref="FingerprintRefusals.SelfEnrollment"/>).</summary>
    [WrittenAs(ActionRows.Itself)]
    public const string SelfEnrollment = "fingerprint.self_enrollment";
}

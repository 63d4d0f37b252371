using AccessControl.People;
using NodaTime;

namespace AccessControl.Fingerprints;

/// <summary>The body of <c>POST /api/v1/people/{personId}/fingerprints</c>. <see cref="Template"/> is base64.</summary>
public sealed record EnrollmentInput(string? Finger, string? Station, string? Format, string? Template, bool? Replace)
{
    /// <summary>Redacted: the template must not reach a log through ToString.</summary>
    public override string ToString() => $"EnrollmentInput {{ Finger = {Finger}, Station = {Station}, Format = {Format}, Template = [{Template?.Length ?? 0} chars], Replace = {Replace} }}";
}

/// <summary>A template's metadata as the API and the CLI show it. Never the template.</summary>
public sealed record FingerprintView(
    string TemplateId,
    string PersonId,
    string Finger,
    string Format,
    string KeyId,
    bool Active,
    Instant EnrolledAt,
    string EnrolledBy,
    string Station,
    Instant? RevokedAt,
    string? RevokedBy,
    string? RevokeReason,
    Instant? LastMatchedAt)
{
    public static FingerprintView From(FingerprintRecord r) =>
        new(r.TemplateId, r.Person.Value, r.Finger, r.Format, r.KeyId, r.Active, r.EnrolledAt, r.EnrolledBy, r.Station, r.RevokedAt, r.RevokedBy, r.RevokeReason, r.LastMatchedAt);
}

/// <summary>What <c>fingerprints rekey</c> did.</summary>
/// <param name="KeyId">The current key: every active template is now encrypted under it.</param>
/// <param name="Rekeyed">How many templates were re-encrypted (0: all already were under <paramref name="KeyId"/>).</param>
/// <param name="PreviousKeys">The keys those templates were under; once rekeyed, their lines can be removed from the key file.</param>
/// <param name="Active">How many active templates there are.</param>
public sealed record RekeySummary(string KeyId, int Rekeyed, IReadOnlyList<string> PreviousKeys, int Active);

/// <summary>
/// The reconciliation of the fingerprint system with the card system (issue 4, item 4), for the monthly review.
/// </summary>
/// <param name="At">When it was computed.</param>
/// <param name="UnusedSince">Templates not matched since this instant are in <see cref="Unused"/>.</param>
/// <param name="Orphans">Active templates whose person has left, is unknown, or has no credential valid now.</param>
/// <param name="NotEnrolled">Active employees and contractors who may enter a two-factor zone but have no active template.</param>
/// <param name="Unused">Active templates not matched (or, never matched, enrolled) before <paramref name="UnusedSince"/>.</param>
public sealed record FingerprintReconciliation(
    Instant At,
    Instant UnusedSince,
    IReadOnlyList<OrphanTemplate> Orphans,
    IReadOnlyList<NotEnrolledPerson> NotEnrolled,
    IReadOnlyList<UnusedTemplate> Unused);

/// <summary>An orphaned template and why: <c>person_unknown</c>, <c>person_terminated</c> or <c>no_active_credential</c>.</summary>
public sealed record OrphanTemplate(FingerprintView Template, string Reason)
{
    public const string PersonUnknown = "person_unknown";
    public const string PersonTerminated = "person_terminated";
    public const string NoActiveCredential = "no_active_credential";
}

/// <summary>A person who can reach two-factor zones (listed) without an enrolled template: they cannot get in there.</summary>
public sealed record NotEnrolledPerson(string PersonId, string Name, PersonKind Kind, IReadOnlyList<string> TwoFactorZones);

/// <summary>A template unused since <see cref="LastUsedAt"/> (its last match, or its enrollment when it never matched).</summary>
public sealed record UnusedTemplate(FingerprintView Template, Instant LastUsedAt, bool NeverMatched);

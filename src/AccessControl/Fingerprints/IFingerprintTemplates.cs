using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Fingerprints;

/// <summary>
/// What the event pipeline needs from the fingerprint store: the templates to send with a verify request, and a note
/// when one matched. Implemented by the store; the pipeline never sees the key or the database.
/// </summary>
public interface IFingerprintTemplates
{
    /// <summary>
    /// The person's active templates, decrypted, in enrollment order; empty when none (or when they cannot be
    /// decrypted: the caller then treats the person as not enrolled, fail closed). Called on the pipeline's thread: fast, no blocking I/O.
    /// </summary>
    IReadOnlyList<FingerprintTemplate> ActiveTemplates(PersonId person);

    /// <summary>
    /// Whether a finger matched on this template of the person may still open a door: false once the template is revoked,
    /// and already while its revocation is in flight (<paramref name="revoking"/>: from before its audit row is written
    /// until it is in force or withdrawn), so a revocation takes effect no later than its audit row. Called on the
    /// pipeline's thread for each finger that matches: fast, no blocking I/O.
    /// </summary>
    bool MayMatch(PersonId person, string templateId, out bool revoking);

    /// <summary>A template matched for a grant at <paramref name="at"/> (for "unused for 90 days"). Must not block.</summary>
    void Matched(string templateId, Instant at);
}

/// <summary>No fingerprint system: nobody is enrolled.</summary>
public sealed class NoFingerprintTemplates : IFingerprintTemplates
{
    public static NoFingerprintTemplates Instance { get; } = new();

    public IReadOnlyList<FingerprintTemplate> ActiveTemplates(PersonId person) => [];

    public bool MayMatch(PersonId person, string templateId, out bool revoking)
    {
        revoking = false;
        return false;
    }

    public void Matched(string templateId, Instant at)
    {
    }
}

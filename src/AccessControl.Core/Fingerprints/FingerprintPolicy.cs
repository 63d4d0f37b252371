using NodaTime;

namespace AccessControl.Fingerprints;

/// <summary>
/// Two-factor entry into a zone (card + fingerprint, PCI 9.2, NIST PE-3): a granted card at a door into the zone is
/// answered <c>pending</c>, and the door opens only when the door's fingerprint reader reports a live finger of the
/// cardholder matching one of their enrolled templates with a score of at least <see cref="Threshold"/> within
/// <see cref="Timeout"/>.
/// </summary>
/// <param name="Threshold">Lowest match score (0 to 100, as the reader reports it) that counts as the cardholder's finger.</param>
/// <param name="Timeout">How long the service waits for the finger after the card.</param>
public sealed record FingerprintPolicy(int Threshold, Duration Timeout)
{
    /// <summary>The default threshold, where the reference matcher has a false-match rate below 1 in 10,000 (docs/fingerprints.md).</summary>
    public const int DefaultThreshold = 60;

    /// <summary>Threshold 60, timeout 10 s.</summary>
    public static FingerprintPolicy Default { get; } = new(DefaultThreshold, Duration.FromSeconds(10));
}

/// <summary>What a visitor without enrolled fingerprints may do at a two-factor door.</summary>
public enum VisitorFingerprintFallback
{
    /// <summary>Enter right behind an escort (the escort rule then applies even if the zone is not escort-required). The default.</summary>
    EscortOnly,

    /// <summary>Never: the visitor is denied <c>fingerprint_not_enrolled</c>.</summary>
    Deny,
}

/// <summary>
/// Site-wide rules of the fingerprint system.
/// </summary>
/// <param name="LockoutAfter">Consecutive fingerprint mismatches for one card that lock the card and raise <c>fingerprint_failures</c>.</param>
/// <param name="LockoutFor">How long such a card is locked (every reader of the site answers <c>fingerprint_lockout</c>).</param>
/// <param name="Visitors">What a visitor without enrolled fingerprints may do at a two-factor door.</param>
public sealed record FingerprintRules(int LockoutAfter, Duration LockoutFor, VisitorFingerprintFallback Visitors)
{
    /// <summary>Three mismatches lock the card for 5 minutes; visitors without templates enter under escort.</summary>
    public static FingerprintRules Default { get; } = new(3, Duration.FromMinutes(5), VisitorFingerprintFallback.EscortOnly);
}

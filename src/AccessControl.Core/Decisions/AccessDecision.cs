using System.Collections.Immutable;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Decisions;

/// <summary>A card presented at a reader, as the engine sees it.</summary>
/// <param name="At">The instant the decision is for: the service clock for live events.</param>
public readonly record struct AccessRequest(ReaderId Reader, string CardUid, string Technology, Instant At)
{
    /// <summary>
    /// The door's fingerprint reader has matched a live finger of this card's holder against their enrolled templates
    /// (set by the pipeline when it decides the card again on the fingerprint answer). Without it, a door into a
    /// two-factor zone answers <see cref="AccessReason.FingerprintRequired"/> at best.
    /// </summary>
    public bool FingerprintVerified { get; init; }

    /// <summary>
    /// Whose templates the finger matched (the card's holder when the verification was asked for). When set, the card
    /// must still be that person's: one given to someone else meanwhile is <see cref="AccessReason.FingerprintMismatch"/>.
    /// </summary>
    public PersonId? FingerprintOf { get; init; }
}

/// <summary>
/// The outcome of one card presentation: grant, or deny with a reason from the closed set.
/// Carries what the pipeline needs to log it and to act on it.
/// </summary>
public sealed record AccessDecision(
    AccessReason Reason,
    SiteId? Site,
    DoorId? Door,
    ZoneId? Zone,
    PersonId? Person,
    Duration UnlockFor,
    PassbackMove? Move,
    bool PassbackViolation)
{
    public bool IsGranted => Reason == AccessReason.Granted;

    /// <summary>Not final: every card check passed and the cardholder's fingerprint is wanted (<see cref="AccessReason.FingerprintRequired"/>).</summary>
    public bool IsPending => Reason == AccessReason.FingerprintRequired;

    /// <summary>
    /// On a grant at a perimeter door into a nested zone: the moves for the anti-passback zones around the door's zone,
    /// which the passage enters or leaves as well (<see cref="Move"/> is the door's own zone). Empty otherwise.
    /// </summary>
    public ImmutableArray<PassbackMove> EnclosingMoves { get; init; } = [];

    /// <summary>Value equality, <see cref="EnclosingMoves"/> by its elements (an array compares by reference).</summary>
    public bool Equals(AccessDecision? other) =>
        other is not null && Reason == other.Reason && Site == other.Site && Door == other.Door && Zone == other.Zone && Person == other.Person
        && UnlockFor == other.UnlockFor && Move == other.Move && PassbackViolation == other.PassbackViolation && Equals(Escort, other.Escort)
        && EnclosingMoves.AsSpan().SequenceEqual(other.EnclosingMoves.AsSpan());

    public override int GetHashCode() => HashCode.Combine(Reason, Site, Door, Zone, Person, UnlockFor, Move, HashCode.Combine(PassbackViolation, Escort, EnclosingMoves.Length));

    /// <summary>On a grant: how it changes the escort state (null when it changes nothing). Never set on a deny.</summary>
    public EscortOutcome? Escort { get; init; }

    public static AccessDecision Deny(AccessReason reason, SiteId? site = null, DoorId? door = null, ZoneId? zone = null, PersonId? person = null)
    {
        if (reason == AccessReason.Granted)
        {
            throw new ArgumentException("A deny needs a deny reason.", nameof(reason));
        }

        return new(reason, site, door, zone, person, Duration.Zero, null, false);
    }

    /// <summary>A card accepted at a two-factor door, waiting for the cardholder's fingerprint.</summary>
    public static AccessDecision Pending(SiteId site, DoorId door, ZoneId? zone, PersonId person) =>
        new(AccessReason.FingerprintRequired, site, door, zone, person, Duration.Zero, null, false);

    /// <summary>The same decision, turned into a deny because it could not be made durable.</summary>
    public AccessDecision FailClosed() => this with { Reason = AccessReason.LogFailure, UnlockFor = Duration.Zero, Move = null, EnclosingMoves = [], Escort = null };
}

using System.Collections.Immutable;
using AccessControl.Fingerprints;
using NodaTime;

namespace AccessControl.Decisions;

/// <summary>
/// Consecutive fingerprint mismatches per card, and the cards locked because of them. Immutable, like
/// <see cref="PassbackState"/>: the pipeline applies a change tentatively and rolls it back with the batch if the
/// batch's rows cannot be committed.
/// </summary>
/// <remarks>
/// Keyed by card, not by person: what is being guessed at is a card in someone's hand. A match resets the count;
/// a lock resets it too, so the next attempts after the lock start from zero.
/// </remarks>
public sealed class FingerprintState
{
    public static FingerprintState Empty { get; } = new(ImmutableDictionary<string, int>.Empty, ImmutableDictionary<string, Instant>.Empty);

    private readonly ImmutableDictionary<string, int> mismatches;
    private readonly ImmutableDictionary<string, Instant> lockedUntil;

    private FingerprintState(ImmutableDictionary<string, int> mismatches, ImmutableDictionary<string, Instant> lockedUntil)
    {
        this.mismatches = mismatches;
        this.lockedUntil = lockedUntil;
    }

    /// <summary>Whether the card is locked at <paramref name="at"/>.</summary>
    public bool IsLocked(string card, Instant at) => lockedUntil.TryGetValue(card, out var until) && at < until;

    /// <summary>Until when the card is locked, if it is at <paramref name="at"/>.</summary>
    public Instant? LockedUntil(string card, Instant at) => IsLocked(card, at) ? lockedUntil[card] : null;

    /// <summary>Consecutive mismatches counted for the card since its last match or lock.</summary>
    public int Mismatches(string card) => mismatches.GetValueOrDefault(card);

    /// <summary>A match: the count starts again.</summary>
    public FingerprintState Matched(string card) => mismatches.ContainsKey(card) ? new(mismatches.Remove(card), lockedUntil) : this;

    /// <summary>
    /// A mismatch. When it is the <see cref="FingerprintRules.LockoutAfter"/>-th in a row, the card is locked until
    /// <paramref name="at"/> + <see cref="FingerprintRules.LockoutFor"/> and <paramref name="locked"/> is set.
    /// </summary>
    public FingerprintState Mismatch(string card, Instant at, FingerprintRules rules, out Instant? locked)
    {
        var count = mismatches.GetValueOrDefault(card) + 1;
        if (count >= rules.LockoutAfter)
        {
            locked = at + rules.LockoutFor;
            return new(mismatches.Remove(card), lockedUntil.SetItem(card, locked.Value));
        }

        locked = null;
        return new(mismatches.SetItem(card, count), lockedUntil);
    }

    /// <summary>Locks a card until <paramref name="until"/> (restoring a lock recorded in the entry log after a restart).</summary>
    public FingerprintState Lock(string card, Instant until) =>
        lockedUntil.TryGetValue(card, out var known) && known >= until ? this : new(mismatches.Remove(card), lockedUntil.SetItem(card, until));

    /// <summary>
    /// Moves every lock's end by <paramref name="by"/>: the service's wall clock was stepped by that much while no time
    /// passed, and a lock keeps the real time it had left (a step forward would otherwise shorten it, a step back
    /// lengthen it).
    /// </summary>
    public FingerprintState Shift(Duration by) =>
        by == Duration.Zero || lockedUntil.IsEmpty
            ? this
            : new(mismatches, lockedUntil.ToImmutableDictionary(l => l.Key, l => l.Value + by, lockedUntil.KeyComparer));

    /// <summary>Forgets locks that have run out.</summary>
    public FingerprintState Prune(Instant now)
    {
        var expired = lockedUntil.Where(l => l.Value <= now).Select(l => l.Key).ToList();
        return expired.Count == 0 ? this : new(mismatches, lockedUntil.RemoveRange(expired));
    }
}

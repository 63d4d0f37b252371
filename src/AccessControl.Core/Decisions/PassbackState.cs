using System.Collections.Immutable;
using AccessControl.Sites;

namespace AccessControl.Decisions;

/// <summary>
/// Who is known to be inside which anti-passback zone. Immutable; the pipeline applies a decision's
/// <see cref="PassbackMove"/> only after the decision's log row is durable.
/// </summary>
public sealed class PassbackState
{
    public static PassbackState Empty { get; } = new(ImmutableDictionary<(PersonId, ZoneId), bool>.Empty);

    private readonly ImmutableDictionary<(PersonId Person, ZoneId Zone), bool> inside;

    private PassbackState(ImmutableDictionary<(PersonId, ZoneId), bool> inside) => this.inside = inside;

    /// <summary>True inside, false outside, null when never seen at this zone's doors.</summary>
    public bool? IsInside(PersonId person, ZoneId zone) => inside.TryGetValue((person, zone), out var value) ? value : null;

    public PassbackState Apply(PassbackMove move) => new(inside.SetItem((move.Person, move.Zone), move.Inside));

    /// <summary>How a decision moves its person (this state itself when it moves no one: a deny, a pending card).</summary>
    public PassbackState Apply(AccessDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        var state = decision.Move is { } move ? Apply(move) : this;
        foreach (var enclosing in decision.EnclosingMoves)
        {
            state = state.Apply(enclosing);
        }

        return state;
    }

    public int Count => inside.Count;
}

/// <summary>A change of a person's known location: now inside (or outside) a zone.</summary>
public readonly record struct PassbackMove(PersonId Person, ZoneId Zone, bool Inside);

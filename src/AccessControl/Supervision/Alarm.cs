namespace AccessControl.Supervision;

/// <summary>An alarm to raise: logged first, then published on the alarms topic.</summary>
public readonly record struct Alarm(string Type, string? SiteId, string? DoorId, string? ReaderId, string Detail)
{
    /// <summary>The card the alarm is about, if any (kept in the row's card column, e.g. for a fingerprint lockout).</summary>
    public string? Card { get; init; }

    /// <summary>The door controller the alarm is about, if any (the entry log has no column for it: kept in the row's detail).</summary>
    public string? ControllerId { get; init; }

    /// <summary>The person the alarm is about, if any.</summary>
    public string? PersonId { get; init; }

    /// <summary>
    /// The escort the alarm is about, if any (one who left a visitor behind); kept in the row's detail as <c>escort</c>,
    /// as an escorted entry's is, so that a query by escort finds it.
    /// </summary>
    public string? Escort { get; init; }

    /// <summary>Until when something the alarm started lasts (a card's fingerprint lockout); kept in the row's detail.</summary>
    public NodaTime.Instant? Until { get; init; }
}

using System.Collections.Immutable;
using NodaTime;

namespace AccessControl.Sites;

/// <summary>A datacenter campus. Schedules of its access levels are read in its time zone.</summary>
public sealed record Site(SiteId Id, string Name, DateTimeZone TimeZone)
{
    /// <summary>Lockout after fingerprint mismatches, and what visitors without templates may do at two-factor doors.</summary>
    public Fingerprints.FingerprintRules Fingerprints { get; init; } = AccessControl.Fingerprints.FingerprintRules.Default;
}

/// <summary>What a zone is; used for reporting and defaults, not for decisions.</summary>
public enum ZoneKind
{
    Site,
    Building,
    DataHall,
    ServerRoom,
    Area,
}

/// <summary>Anti-passback enforcement of a zone.</summary>
public enum AntiPassbackMode
{
    /// <summary>No tracking of who is inside.</summary>
    Off,

    /// <summary>Violations are granted but logged as such.</summary>
    Soft,

    /// <summary>Violations are denied with <c>anti_passback</c>.</summary>
    Hard,
}

/// <summary>
/// An area behind doors. Zones nest by containment (site &gt; building &gt; data hall &gt; server room).
/// </summary>
/// <param name="AllowedTechnologies">Card technologies accepted at doors into this zone; empty means any.</param>
/// <param name="Escort">
/// Set when the zone is escort-required (server rooms, NIST PE-3, PCI 9.3): visitors enter it only right behind an
/// escort at the same door. Null when it is not.
/// </param>
public sealed record Zone(
    ZoneId Id,
    SiteId Site,
    string Name,
    ZoneKind Kind,
    ZoneId? Parent,
    int SecurityLevel,
    AntiPassbackMode AntiPassback,
    ImmutableHashSet<string> AllowedTechnologies,
    EscortPolicy? Escort = null)
{
    /// <summary>Set when entering the zone needs card and fingerprint (server rooms); null when a card is enough.</summary>
    public Fingerprints.FingerprintPolicy? Fingerprint { get; init; }

    /// <summary>Whether entering this zone needs card and fingerprint.</summary>
    public bool TwoFactor => Fingerprint is not null;

    /// <summary>Whether a card of the given technology may be used to enter this zone.</summary>
    public bool AllowsTechnology(string technology) =>
        AllowedTechnologies.IsEmpty || AllowedTechnologies.Contains(technology);

    /// <summary>Whether visitors need an escort to enter this zone.</summary>
    public bool EscortRequired => Escort is not null;
}

/// <summary>
/// How escorting works at the doors into a zone: an eligible escort's granted card opens a window of
/// <see cref="Window"/> at that door, in that direction, for up to <see cref="MaxEscorted"/> people who need an escort.
/// </summary>
/// <remarks>
/// The window looks backwards only (the escort presents first), so a visitor cannot open the door and have the escort
/// follow, and it is short, so an escort's swipe cannot be reused by someone arriving later.
/// </remarks>
public sealed record EscortPolicy(Duration Window, int MaxEscorted)
{
    /// <summary>10 seconds, 3 people per escort entry: the defaults of the site file.</summary>
    public static EscortPolicy Default { get; } = new(Duration.FromSeconds(10), 3);
}

/// <summary>Which way a reader faces: a swipe at an <see cref="In"/> reader means entering the door's inner zone.</summary>
public enum Direction
{
    In,
    Out,
}

/// <summary>
/// A door between an outer zone (<see cref="From"/>, or outside the site when null) and an inner zone (<see cref="To"/>).
/// </summary>
public sealed record Door(
    DoorId Id,
    SiteId Site,
    string Name,
    ZoneId? From,
    ZoneId To,
    ControllerId Controller,
    Duration UnlockFor,
    Duration HeldOpenAfter)
{
    /// <summary>The zone a person passing in <paramref name="direction"/> ends up in; null means leaving the site.</summary>
    public ZoneId? Destination(Direction direction) => direction == Direction.In ? To : From;

    /// <summary>
    /// The way through this door that ends in <paramref name="zone"/> (null: leaving the site), the inverse of
    /// <see cref="Destination"/>; null when the door leads neither into nor out of it (its zones changed since).
    /// </summary>
    public Direction? DirectionInto(string? zone) =>
        zone == To.Value ? Direction.In
        : zone == From?.Value ? Direction.Out
        : null;

    /// <summary>
    /// Released (held unlocked) for egress while a fire alarm of its site is active, until an operator resets it.
    /// False (fail-secure) unless the site file says otherwise: a door that must stay shut in a fire (a server room
    /// with gas suppression) is never released.
    /// </summary>
    public bool FailSafe { get; init; }
}

/// <summary>What a reader reads.</summary>
public enum ReaderKind
{
    Card,
    Fingerprint,
}

/// <summary>A reader mounted on one side of a door.</summary>
public sealed record Reader(
    ReaderId Id,
    ReaderKind Kind,
    DoorId Door,
    Direction Direction,
    Duration HeartbeatInterval);

/// <summary>
/// A fire alarm panel (or its MQTT interface) of a site. Its <see cref="Id"/> is its MQTT username and shares the device
/// id namespace with readers and controllers; an alarm from it releases the site's fail-safe doors.
/// </summary>
public sealed record FirePanel(string Id, SiteId Site);

/// <summary>A door controller: drives the strike and reports door position and exit requests for its doors.</summary>
public sealed record DoorController(ControllerId Id, SiteId Site, string Name)
{
    /// <summary>
    /// How often the controller sends a heartbeat; null when it sends none (firmware of before controller heartbeats),
    /// and then only its MQTT last will tells that it is gone: a controller that hangs with its connection up is not
    /// noticed. With an interval, three missed ones raise <c>door_controller_offline</c> as for a reader.
    /// </summary>
    public Duration? HeartbeatInterval { get; init; }
}

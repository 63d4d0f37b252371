using NodaTime;

namespace AccessControl.HardwareSim.Doors;

/// <summary>What happened at a door, as the controller saw it.</summary>
public enum DoorActivityKind
{
    /// <summary>An unlock command released the strike.</summary>
    Unlocked,

    /// <summary>The strike locked again when the unlock time ran out.</summary>
    Relocked,

    Opened,

    /// <summary>The door was opened while the strike was locked.</summary>
    Forced,

    /// <summary>The door was propped open and will not close by itself.</summary>
    HeldOpen,

    Closed,

    ExitRequested,

    /// <summary>A command the controller did not act on (unknown command, duplicate commandId).</summary>
    CommandIgnored,

    /// <summary>A fire release: the strike is held unlocked, with no timer, until a relock command.</summary>
    Released,
}

/// <summary>One thing that happened at a door, for printers and tests.</summary>
public sealed record DoorActivity(string ControllerId, string DoorId, DoorActivityKind Kind, Instant At, string? Detail = null);

/// <summary>The state of a door as the controller knows it.</summary>
/// <param name="Unlocked">The strike is released.</param>
/// <param name="Open">The door-position sensor reads open.</param>
/// <param name="HeldOpen">The door is propped open and will not close by itself.</param>
public readonly record struct DoorSnapshot(string DoorId, bool Unlocked, bool Open, bool HeldOpen)
{
    /// <summary>Held unlocked by a fire release (no relock timer) until a <c>relock</c> command.</summary>
    public bool Released { get; init; }
}

/// <summary>What came of asking the simulated person to open a door.</summary>
public enum DoorOpenResult
{
    Opened,
    AlreadyOpen,

    /// <summary>The strike is locked; a person without a grant cannot open the door (use a forced open for that).</summary>
    Locked,
}

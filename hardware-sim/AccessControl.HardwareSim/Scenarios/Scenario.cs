using AccessControl.HardwareSim.Sites;

namespace AccessControl.HardwareSim.Scenarios;

/// <summary>
/// A timed script for the simulated hardware: swipe this card here at 0 s and expect a grant, force that door at
/// 12 s... Parsed from YAML by <see cref="ScenarioFile"/>, run by <see cref="ScenarioRunner"/>.
/// </summary>
/// <param name="Wiring">Which controller drives which doors; used to simulate the hardware when no site file is given.</param>
public sealed record Scenario(string Name, IReadOnlyList<ScenarioStep> Steps, IReadOnlyList<ControllerLayout> Wiring)
{
    /// <summary>Card readers the steps use, in order of first use.</summary>
    public IReadOnlyList<string> ReaderIds => [.. Steps.Select(s => s.ReaderId).OfType<string>().Distinct(StringComparer.Ordinal)];

    /// <summary>Fingerprint readers the finger steps use, in order of first use.</summary>
    public IReadOnlyList<string> FingerprintReaderIds => [.. Steps.OfType<FingerStep>().Select(s => s.Reader).Distinct(StringComparer.Ordinal)];

    /// <summary>Doors the steps use, in order of first use.</summary>
    public IReadOnlyList<string> DoorIds => [.. Steps.OfType<DoorStep>().Select(s => s.DoorId).Distinct(StringComparer.Ordinal)];

    /// <summary>The devices to simulate when no site file is given: every reader the steps use and the wired controllers.</summary>
    public DeviceLayout ToLayout() =>
        new([.. ReaderIds.Select(id => new ReaderLayout(id)), .. FingerprintReaderIds.Select(id => new ReaderLayout(id, Kind: AccessControl.Sites.ReaderKind.Fingerprint))], Wiring);
}

/// <summary>One step, run when <see cref="At"/> has passed since the scenario started (and after the step before it).</summary>
/// <param name="Number">1-based position in the file, for messages.</param>
public abstract record ScenarioStep(int Number, TimeSpan At)
{
    /// <summary>The card reader the step acts on, if any.</summary>
    public virtual string? ReaderId => null;
}

/// <summary>What a card step expects back. A null <see cref="Reason"/> accepts any reason.</summary>
public sealed record DecisionExpectation(bool Grant, string? Reason)
{
    public override string ToString() => Reason is null ? (Grant ? "grant" : "deny") : $"{(Grant ? "grant" : "deny")} {Reason}";
}

/// <summary>
/// Present a card at a reader. With an expectation the runner waits for the decision and checks it; without, it moves
/// on and prints the decision whenever it comes. At a two-factor door the first answer is <c>pending</c>: the runner
/// then moves on to the next steps (the finger) and checks the final decision when it comes, waiting the step's
/// timeout plus the service's fingerprint timeout (10 s) for it.
/// </summary>
/// <param name="Pending">True: the first answer must be pending; false: it must not be; null: either.</param>
public sealed record CardStep(int Number, TimeSpan At, string Reader, string Card, string Technology, DecisionExpectation? Expect, TimeSpan Timeout, bool? Pending = null)
    : ScenarioStep(Number, At)
{
    public override string? ReaderId => Reader;
}

public enum ReaderAction
{
    /// <summary>Tamper event (cover opened).</summary>
    Tamper,

    /// <summary>Drop the connection uncleanly (last will fires) and stay offline, buffering events.</summary>
    Disconnect,

    /// <summary>Come back online and replay what was buffered.</summary>
    Reconnect,

    /// <summary>Send a heartbeat now.</summary>
    Heartbeat,
}

public sealed record ReaderStep(int Number, TimeSpan At, string Reader, ReaderAction Action, string? Detail, TimeSpan Timeout)
    : ScenarioStep(Number, At)
{
    public override string? ReaderId => Reader;
}

public enum DoorAction
{
    /// <summary>A person opens the door; fails when the strike is locked.</summary>
    Open,

    Close,

    /// <summary>Open the door without an unlock.</summary>
    Force,

    /// <summary>Prop the door open until a close step.</summary>
    Hold,

    /// <summary>Press the exit button.</summary>
    Exit,
}

public sealed record DoorStep(int Number, TimeSpan At, string DoorId, DoorAction Action)
    : ScenarioStep(Number, At);

/// <summary>
/// Present a finger at a fingerprint reader: <paramref name="Person"/>'s <paramref name="Finger"/> (the right finger,
/// or a wrong one: another finger, another person's), or nothing (both null). A finger rests on the sensor until the
/// reader's verify request comes (or its dwell time passes). With an expectation the runner waits for the decision on
/// the reader's <c>fingerprint_match</c> event and checks it.
/// </summary>
public sealed record FingerStep(int Number, TimeSpan At, string Reader, string? Person, string? Finger, DecisionExpectation? Expect, TimeSpan Timeout)
    : ScenarioStep(Number, At)
{
    /// <summary>Nothing is presented: the service times out.</summary>
    public bool Nothing => Finger is null;
}

/// <summary>Print a line (narration for a demo).</summary>
public sealed record SayStep(int Number, TimeSpan At, string Text)
    : ScenarioStep(Number, At);

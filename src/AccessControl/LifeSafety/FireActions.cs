using AccessControl.EntryLog;

namespace AccessControl.LifeSafety;

/// <summary>
/// A fire reset asked for by a token limited to one site while only other sites are released (<see cref="FireApi"/>).
/// A reset that is done is the <see cref="FireReasons.Reset"/> row of each site it relocks, so only the refusal has this code.
/// </summary>
[WrittenAs(ActionRows.Refused)]
public static class FireActions
{
    public const string Reset = "fire.reset";
}

namespace AccessControl.EntryLog;

/// <summary>The entry-log rows an action code can be written as (<see cref="WrittenAsAttribute"/>).</summary>
[Flags]
public enum ActionRows
{
    /// <summary>The code itself: the change's audit row (kind <c>admin</c>), or the <c>security</c> row of a refusal named for itself.</summary>
    Itself = 1,

    /// <summary><c>&lt;action&gt;.refused</c> (kind <c>security</c>): refused to a token limited to another site, or by a rule of the action.</summary>
    Refused = 2,

    /// <summary><c>&lt;action&gt;.failed</c>: the change could not be written after its audit row, so nothing was changed.</summary>
    Failed = 4,
}

/// <summary>
/// On a class of action codes, the rows every public string constant of it is written as; on one constant, that
/// constant's. <see cref="LogReasons.Known"/> is built from them, so that a log query refuses a row no code can make:
/// an auditor looking for refused changes to people under <c>person.upsert.refused</c> must be told that there is no
/// such row (they are <c>cardholders.refused</c>), not shown none.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Field, Inherited = false)]
public sealed class WrittenAsAttribute(ActionRows rows) : Attribute
{
    public ActionRows Rows { get; } = rows;
}

using System.Collections.Frozen;
using System.Reflection;
using AccessControl.Admin;
using AccessControl.Broker;
using AccessControl.Cardholding;
using AccessControl.Decisions;
using AccessControl.Events;
using AccessControl.Fingerprints;
using AccessControl.Hr;
using AccessControl.HttpSecurity;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Visitors;

namespace AccessControl.EntryLog;

/// <summary>
/// Every reason code the service writes to the entry log, so that a log query can refuse a misspelt one: an auditor
/// reads "no rows" as "never happened", and <c>reason=granetd</c> must not say that.
/// </summary>
/// <remarks>
/// Reasons are not one closed set: an access row carries an <see cref="AccessReason"/>, an alarm row its
/// <see cref="AlarmTypes"/> type, a security row a broker event or a refused action, an admin row the action. The set
/// is built from the constants that write them, so a reason added there is known here: the actions from their
/// features' action classes, each in the forms it is marked as written in (<see cref="WrittenAsAttribute"/>). A
/// source test keeps action codes out of string literals, and the end-to-end harness fails a test whose service wrote
/// a reason missing from this set (docs/operations.md §6).
/// </remarks>
public static class LogReasons
{
    /// <summary>Door rows: the door controller's event.</summary>
    public const string DoorOpened = "opened";

    public const string DoorClosed = "closed";

    public const string ExitRequest = "exit_request";

    /// <summary>Device rows: a reader's or door controller's status.</summary>
    public const string DeviceOnline = "online";

    public const string DeviceOffline = "offline";

    /// <summary>Device row: an empty retained payload on a status topic (MQTT's way to clear a retained status); no sign of life.</summary>
    public const string DeviceStatusCleared = "status_cleared";

    /// <summary>Security row: a fire event from a panel the site does not name.</summary>
    public const string UnknownFirePanel = "unknown_fire_panel";

    /// <summary>The classes whose constants are action codes (or the API's sign-in reasons), or hold some (<see cref="WrittenAsAttribute"/> on the class or on the constant).</summary>
    private static readonly Type[] ActionClasses =
    [
        typeof(CardholderActions), typeof(VisitActions), typeof(HrActions), typeof(FingerprintActions), typeof(OperatorTokenActions),
        typeof(EverySiteActions), typeof(LogQueryActions), typeof(FireActions), typeof(SiteActions), typeof(DeviceSeqBaselines), typeof(AuthReasons),
        typeof(Hosting.ProvisioningActions),
    ];

    /// <summary>Each action code with the rows it is written as.</summary>
    private static readonly IReadOnlyList<(string Code, ActionRows Rows)> ActionCodes = [.. ActionClasses.SelectMany(MarkedConstants)];

    /// <summary>The action codes: what an operator's change is recorded as (kind <c>admin</c>), and what a refusal is named for.</summary>
    public static IReadOnlyList<string> Actions { get; } = [.. ActionCodes.Select(a => a.Code)];

    /// <summary>Security rows that are neither a refused action nor the API's sign-in: a refused purge, a fire panel the site does not name.</summary>
    private static readonly string[] SecurityReasons = [LogPurgeRefusal.Action, UnknownFirePanel];

    /// <summary>The <c>security</c> row of an action refused to a token limited to another site, or by a rule of the action.</summary>
    public static string Refused(string action) => action + ".refused";

    /// <summary>The row that says a change was not made: its write failed after its audit row.</summary>
    public static string Failed(string action) => action + ".failed";

    /// <summary>Every reason code a row can carry.</summary>
    public static FrozenSet<string> Known { get; } = Build();

    private static FrozenSet<string> Build()
    {
        IEnumerable<string> codes =
        [
            .. AccessReasonCodes.All.Select(r => r.ToCode()),
            .. Constants(typeof(AlarmTypes)),
            .. Constants(typeof(FireReasons)),
            .. Constants(typeof(SecurityEvent)),
            .. Constants(typeof(TokenRefusals)).Select(AuthReasons.TokenRefused),
            .. Constants(typeof(HrFeedRefusals)),
            .. ActionCodes.SelectMany(a => Forms(a.Code, a.Rows)),
            .. SecurityReasons,
            DoorOpened, DoorClosed, ExitRequest, DeviceOnline, DeviceOffline, DeviceStatusCleared,
            LogKinds.GenesisReason, LogKinds.PurgeReason, LogKinds.UnsignedAtStartReason, LogKinds.RollbackAcceptedReason, LateRows.OutageReason,
        ];
        return codes.ToFrozenSet(StringComparer.Ordinal);
    }

    private static IEnumerable<string> Forms(string action, ActionRows rows)
    {
        if (rows.HasFlag(ActionRows.Itself))
        {
            yield return action;
        }

        if (rows.HasFlag(ActionRows.Refused))
        {
            yield return Refused(action);
        }

        if (rows.HasFlag(ActionRows.Failed))
        {
            yield return Failed(action);
        }
    }

    /// <summary>The public string constants of a class of codes.</summary>
    private static IEnumerable<string> Constants(Type codes) => StringConstants(codes).Select(f => (string)f.GetRawConstantValue()!);

    /// <summary>The public string constants of a class that are marked with the rows they are written as, themselves or by their class.</summary>
    private static IEnumerable<(string Code, ActionRows Rows)> MarkedConstants(Type codes) =>
        from field in StringConstants(codes)
        let marked = field.GetCustomAttribute<WrittenAsAttribute>() ?? codes.GetCustomAttribute<WrittenAsAttribute>()
        where marked is not null
        select ((string)field.GetRawConstantValue()!, marked.Rows);

    private static IEnumerable<FieldInfo> StringConstants(Type codes) =>
        codes.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f is { IsLiteral: true } && f.FieldType == typeof(string));
}

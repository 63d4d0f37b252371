using System.Collections.Frozen;
using System.Reflection;
using AccessControl.Admin;
using AccessControl.Broker;
using AccessControl.Decisions;
using AccessControl.Events;
using AccessControl.LifeSafety;
using AccessControl.Protocol;

namespace AccessControl.EntryLog;

/// <summary>
/// Every reason code the service writes to the entry log, so that a log query can refuse a misspelt one: an auditor
/// reads "no rows" as "never happened", and <c>reason=granetd</c> must not say that.
/// </summary>
/// <remarks>
/// Reasons are not one closed set: an access row carries an <see cref="AccessReason"/>, an alarm row its
/// <see cref="AlarmTypes"/> type, a security row a broker event or a refused action, an admin row the action. The set
/// is built from the constants that write them, so a reason added there is known here; the actions are written as
/// literals where they are audited, so they are listed here (the end-to-end harness fails a test whose service wrote a
/// reason missing from this set: docs/operations.md §6).
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

    /// <summary>
    /// What an operator's change is recorded as (kind <c>admin</c>). Refused to a token limited to another site it is
    /// <c>&lt;action&gt;.refused</c> (kind <c>security</c>); a change whose row could not follow it, <c>&lt;action&gt;.failed</c>.
    /// </summary>
    public static IReadOnlyList<string> Actions { get; } =
    [
        "person.upsert", "person.activate", "person.suspend", "person.terminate", "person.access_levels",
        "credential.upsert", "credential.activate", "credential.suspend", "credential.revoke",
        "access_level.upsert", "access_level.delete",
        "operator_token.create", "operator_token.revoke",
        "visit.request", "visit.approve", "visit.reject", "visit.withdraw", "visit.check_in", "visit.check_out",
        "visit.escort_remove", "visit.cancel", "visit.purge",
        "watchlist.add", "watchlist.remove", "badge_pool.add", "badge_pool.remove",
        "hr.event", "hr.applied", "hr.failed", "hr.rejected",
        "fingerprint.enroll", "fingerprint.revoke", "fingerprint.rekey", "fingerprint.self_enrollment",
        "fire.reset", DeviceSeqBaselines.ResetReason,
    ];

    /// <summary>Reads a token limited to one site may not make: only their refusal is written, as <c>&lt;read&gt;.refused</c>.</summary>
    private static readonly string[] EverySiteReads = ["cardholders", "tokens", "log.verify"];

    /// <summary>Security rows that are not a refused action: the admin API's sign-in, the HR feed's signature, the site's load.</summary>
    private static readonly string[] SecurityReasons =
    [
        "auth.missing_token", "auth.invalid_token", "auth.forbidden", "auth.lockout",
        "hr.missing_signature", "hr.invalid_signature", "hr.stale_timestamp", "site.load",
        LogPurgeRefusal.Action, UnknownFirePanel,
    ];

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
            .. Constants(typeof(TokenRefusals)).Select(r => "auth." + r),
            .. Actions,
            .. Actions.Concat(EverySiteReads).Select(a => a + ".refused"),
            .. Actions.Select(a => a + ".failed"),
            .. SecurityReasons,
            DoorOpened, DoorClosed, ExitRequest, DeviceOnline, DeviceOffline, DeviceStatusCleared,
            LogKinds.GenesisReason, LogKinds.PurgeReason, LogKinds.UnsignedAtStartReason, LateRows.OutageReason,
        ];
        return codes.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>The public string constants of a class of codes.</summary>
    private static IEnumerable<string> Constants(Type codes) =>
        codes.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f is { IsLiteral: true } && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!);
}

namespace AccessControl.Decisions;

/// <summary>
/// The closed set of reasons a decision can carry. Every deny names exactly one reason, the first check
/// that failed in the order the engine evaluates them (the order of this enum). Wire codes are snake_case
/// and documented in docs/reader-protocol.md; never renumber or rename them.
/// </summary>
public enum AccessReason
{
    /// <summary>The credential holder may pass.</summary>
    Granted,

    /// <summary>The event came from a reader the service does not know (or not bound to a door).</summary>
    UnknownReader,

    /// <summary>The payload could not be understood; the reader is told so it can stop retrying.</summary>
    MalformedEvent,

    /// <summary>No credential with this card UID.</summary>
    UnknownCredential,

    /// <summary>The credential has been revoked, or its holder has left.</summary>
    CredentialRevoked,

    /// <summary>The credential, or its holder, is suspended.</summary>
    CredentialSuspended,

    /// <summary>Before the credential's valid-from instant.</summary>
    CredentialNotYetValid,

    /// <summary>At or after the credential's valid-until instant.</summary>
    CredentialExpired,

    /// <summary>The zone behind the door does not accept this card technology.</summary>
    CredentialTechnologyNotAllowed,

    /// <summary>None of the holder's access levels contains the destination zone.</summary>
    NoAccessToZone,

    /// <summary>An access level contains the zone, but none is active at this time.</summary>
    OutsideSchedule,

    /// <summary>Hard anti-passback: entering a zone the holder is already in, or leaving one they are not in.</summary>
    AntiPassback,

    /// <summary>The decision could not be written durably to the entry log; the service fails closed.</summary>
    LogFailure,

    /// <summary>
    /// The holder may enter this zone only under escort (a visitor, or an access level marked escorted-only), and no
    /// eligible escort was granted at the same door in the same direction within the zone's escort window, or the
    /// escort's window is full, or its escort is no longer active (terminated or suspended since). The engine's last
    /// check, after anti-passback (appended: codes are never renumbered).
    /// </summary>
    EscortRequired,

    /// <summary>A visitor badge that was handed back at check-out (its visit is closed).</summary>
    BadgeReturned,

    /// <summary>A visitor badge used before check-in validity or after its visit window ended.</summary>
    VisitOutsideWindow,

    /// <summary>A visitor badge at a door into a zone the visit was not approved for.</summary>
    VisitorZoneNotApproved,

    /// <summary>A card of a visitor badge pool that is not bound to a checked-in visit.</summary>
    VisitNotCheckedIn,

    /// <summary>A visitor on site who has since been put on the watch list.</summary>
    Watchlisted,

    /// <summary>
    /// Not a final answer: every card check passed at a door into a two-factor zone, and the door's fingerprint reader
    /// has been asked to verify the cardholder (the wire decision is <c>pending</c>). Final answers follow.
    /// </summary>
    FingerprintRequired,

    /// <summary>The live finger did not match the cardholder's enrolled templates well enough.</summary>
    FingerprintMismatch,

    /// <summary>No fingerprint answer arrived within the zone's timeout after the card (or the verification was superseded).</summary>
    FingerprintTimeout,

    /// <summary>The zone wants card and fingerprint, and the cardholder has no active fingerprint template.</summary>
    FingerprintNotEnrolled,

    /// <summary>The card is locked for a while after repeated fingerprint mismatches.</summary>
    FingerprintLockout,

    /// <summary>A fingerprint answer with no pending card verification at that reader: a finger alone never opens a door.</summary>
    FingerprintUnexpected,

    /// <summary>
    /// Refused before any decision as a suspected replay: the event's <c>seq</c> is not above the last one seen from that
    /// device, or its <c>at</c> is too far from the service clock (and it is not a marked offline replay within the offline
    /// window). Set by the event pipeline, never by the engine (appended: codes are never renumbered).
    /// </summary>
    ReplaySuspected,
}

/// <summary>Wire codes of <see cref="AccessReason"/>.</summary>
public static class AccessReasonCodes
{
    private static readonly string[] Codes =
    [
        "granted",
        "unknown_reader",
        "malformed_event",
        "unknown_credential",
        "credential_revoked",
        "credential_suspended",
        "credential_not_yet_valid",
        "credential_expired",
        "credential_technology_not_allowed",
        "no_access_to_zone",
        "outside_schedule",
        "anti_passback",
        "log_failure",
        "escort_required",
        "badge_returned",
        "visit_outside_window",
        "visitor_zone_not_approved",
        "visit_not_checked_in",
        "watchlisted",
        "fingerprint_required",
        "fingerprint_mismatch",
        "fingerprint_timeout",
        "fingerprint_not_enrolled",
        "fingerprint_lockout",
        "fingerprint_unexpected",
        "replay_suspected",
    ];

    /// <summary>Every reason, in evaluation order.</summary>
    public static IReadOnlyList<AccessReason> All { get; } = Enum.GetValues<AccessReason>();

    /// <summary>The snake_case wire code of a reason.</summary>
    public static string ToCode(this AccessReason reason) => Codes[(int)reason];

    /// <summary>Parses a wire code; false when it is not one of the closed set.</summary>
    public static bool TryParse(string? code, out AccessReason reason)
    {
        var index = Array.IndexOf(Codes, code);
        reason = index < 0 ? default : (AccessReason)index;
        return index >= 0;
    }
}

using System.Collections.Immutable;
using System.Text.RegularExpressions;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.People;

/// <summary>Who a person is to the operator.</summary>
public enum PersonKind
{
    Employee,
    Contractor,
    Visitor,
}

/// <summary>Whether a person may use their credentials at all. A person who has left loses access at once.</summary>
public enum PersonStatus
{
    Active,
    Suspended,
    Terminated,
}

/// <summary>A cardholder and the access levels they hold.</summary>
public sealed record Person(
    PersonId Id,
    string Name,
    PersonKind Kind,
    PersonStatus Status,
    ImmutableArray<AccessLevelId> AccessLevels);

/// <summary>State of a credential.</summary>
public enum CredentialStatus
{
    Active,
    Suspended,
    Revoked,
}

/// <summary>
/// A card bound to a person, valid in [ValidFrom, ValidUntil).
/// </summary>
/// <param name="CardUid">Normalized card UID (see <see cref="CardUid.Normalize"/>).</param>
/// <param name="Technology">Card technology token such as <c>desfire-ev3</c>, <c>mifare-classic</c>, <c>prox-125khz</c>.</param>
public sealed record Credential(
    string CardUid,
    string Technology,
    PersonId Person,
    Instant? ValidFrom,
    Instant? ValidUntil,
    CredentialStatus Status)
{
    /// <summary>
    /// A validity bound as the cardholder tables keep it, in whole milliseconds (the wire and the site file take
    /// nanoseconds). Every way in (the admin API, the site file) cuts a bound with this before anything else, so that
    /// what is answered, audited, compared and made live is what is stored, and bounds within one millisecond of each
    /// other are refused as empty where they are read, not by the table's check later.
    /// </summary>
    public static Instant? StoredPrecision(Instant? bound) =>
        bound is { } b ? Instant.FromUnixTimeMilliseconds(b.ToUnixTimeMilliseconds()) : null;
}

/// <summary>A set of zones a person may enter while a schedule is active.</summary>
/// <param name="Escort">
/// Its holders may escort people who need an escort into its zones, while its schedule is active (escort privilege).
/// Visitors never escort, whatever they hold.
/// </param>
/// <param name="EscortedOnly">
/// Its holders may enter its zones only under escort, like visitors (NIST PE-2(3): staff without unescorted access).
/// A level cannot be both: an escort must have unescorted access.
/// </param>
public sealed record AccessLevel(
    AccessLevelId Id,
    string Name,
    ImmutableHashSet<ZoneId> Zones,
    ScheduleId Schedule,
    bool Escort = false,
    bool EscortedOnly = false);

/// <summary>Card UIDs and technology tokens as they appear on the wire and in the database.</summary>
public static partial class CardUid
{
    /// <summary>
    /// Normalizes a card UID to upper-case hexadecimal without separators (<c>04:a1:b2</c> becomes <c>04A1B2</c>).
    /// Returns null when the text is not 2 to 32 hexadecimal digits after removing <c>:</c>, <c>-</c> and spaces.
    /// </summary>
    public static string? Normalize(string? text)
    {
        if (text is null || text.Length > 64)
        {
            return null;
        }

        var compact = text.Replace(":", "", StringComparison.Ordinal)
            .Replace("-", "", StringComparison.Ordinal)
            .Replace(" ", "", StringComparison.Ordinal)
            .ToUpperInvariant();
        return HexUid().IsMatch(compact) ? compact : null;
    }

    /// <summary>Whether a technology token is well formed: lower-case letters, digits and dashes, 1 to 32 characters.</summary>
    public static bool IsTechnologyToken(string? text) => text is not null && TechnologyToken().IsMatch(text);

    // \z, not $: in .NET, $ also matches before a trailing newline.
    [GeneratedRegex(@"^[0-9A-F]{2,32}\z")]
    private static partial Regex HexUid();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,31}\z")]
    private static partial Regex TechnologyToken();
}

using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text.RegularExpressions;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Visitors;

/// <summary>The official identity documents the front desk accepts.</summary>
public enum DocumentType
{
    Passport,
    IdCard,
    DrivingLicence,
    ResidencePermit,
}

/// <summary>
/// An identity document as presented at the front desk, already checked for form (see <see cref="DocumentRules.Check"/>).
/// </summary>
/// <param name="IssuingCountry">ISO 3166-1 alpha-3 code (or an ICAO 9303 code such as <c>UNO</c>), upper case.</param>
/// <param name="Number">The document number, upper case, without spaces or hyphens. A secret of the visitor: stored
/// only as a keyed hash plus its last four characters (<see cref="LastFour"/>), never logged.</param>
public sealed record IdentityDocument(DocumentType Type, string IssuingCountry, string Number, LocalDate Expiry)
{
    /// <summary>
    /// The last four characters of the number, enough for a person to compare with the document in hand; of a number
    /// shorter than eight, only its last half (rounded down). A number may be as short as four: its "last four" would be
    /// the whole number, kept in clear beside its hash, shown in every answer and written to the entry log.
    /// </summary>
    public string LastFour => Number[^Math.Min(4, Number.Length / 2)..];

    /// <summary>The record without its number, so that it can be logged or printed safely.</summary>
    public override string ToString() => $"{DocumentRules.Code(Type)} {IssuingCountry} ****{LastFour} expires {Expiry:uuuu'-'MM'-'dd}";
}

/// <summary>The outcome of checking a presented document: the document, or the fields that are wrong.</summary>
/// <param name="Errors">Field name (<c>type</c>, <c>country</c>, <c>number</c>, <c>expiry</c>) and what is wrong.</param>
/// <param name="Expired">True when the document is well formed but expired (its own outcome: a refusal, not a typo).</param>
public sealed record DocumentCheck(IdentityDocument? Document, ImmutableArray<(string Field, string Message)> Errors, bool Expired)
{
    public bool IsValid => Document is not null && Errors.IsEmpty && !Expired;
}

/// <summary>
/// Form and validity checks of identity documents: type from a closed set, issuing country an ISO 3166-1 alpha-3
/// code, number 4 to 20 letters and digits, not expired on the site's current date.
/// </summary>
/// <remarks>
/// A document is valid through its expiry date (the date printed is the last day of validity), in the site's time
/// zone: a document expiring on 1 December is accepted all of 1 December, local time, and refused from 2 December.
/// The number is compared and stored upper case without spaces and hyphens, as it is printed in the machine-readable
/// zone, so a number typed "c01x 00t47" is "C01X00T47".
/// </remarks>
public static partial class DocumentRules
{
    private static readonly FrozenDictionary<string, DocumentType> ByCode = new Dictionary<string, DocumentType>(StringComparer.Ordinal)
    {
        ["passport"] = DocumentType.Passport,
        ["id_card"] = DocumentType.IdCard,
        ["driving_licence"] = DocumentType.DrivingLicence,
        ["residence_permit"] = DocumentType.ResidencePermit,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The document type codes, as the API spells them.</summary>
    public static IReadOnlyList<string> TypeCodes { get; } = ["passport", "id_card", "driving_licence", "residence_permit"];

    public static string Code(DocumentType type) => type switch
    {
        DocumentType.Passport => "passport",
        DocumentType.IdCard => "id_card",
        DocumentType.DrivingLicence => "driving_licence",
        DocumentType.ResidencePermit => "residence_permit",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not a document type."),
    };

    public static bool TryParseType(string? code, out DocumentType type) => ByCode.TryGetValue(code ?? "", out type);

    /// <summary>The number as stored and hashed: upper case, spaces and hyphens removed. Null when it is not 4 to 20 letters and digits.</summary>
    public static string? NormalizeNumber(string? number)
    {
        if (number is null || number.Length > 64)
        {
            return null;
        }

        var compact = number.Replace(" ", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToUpperInvariant();
        return DocumentNumber().IsMatch(compact) ? compact : null;
    }

    /// <summary>
    /// Checks a presented document. <paramref name="today"/> is the current date in the site's time zone
    /// (<c>clock.GetCurrentInstant().InZone(site.TimeZone).Date</c>).
    /// </summary>
    /// <param name="expiry">ISO date text <c>yyyy-MM-dd</c>, as the API receives it.</param>
    public static DocumentCheck Check(string? type, string? issuingCountry, string? number, string? expiry, LocalDate today)
    {
        var errors = ImmutableArray.CreateBuilder<(string, string)>();
        if (!TryParseType(type, out var documentType))
        {
            errors.Add(("type", $"{(type is null ? "is required" : "is not valid")}: one of {string.Join(", ", TypeCodes)}"));
        }

        var country = issuingCountry?.Trim().ToUpperInvariant();
        if (country is null || !CountryCodes.IsIssuingCountry(country))
        {
            errors.Add(("country", issuingCountry is null ? "is required (ISO 3166-1 alpha-3, such as DEU)" : "must be an ISO 3166-1 alpha-3 country code, such as DEU or FRA"));
        }

        var normalized = NormalizeNumber(number);
        if (normalized is null)
        {
            // The message never repeats the value: it is a document number.
            errors.Add(("number", number is null ? "is required" : "must be 4 to 20 letters and digits (spaces and hyphens are ignored)"));
        }

        LocalDate expiryDate = default;
        var parsed = expiry is null ? null : LocalDatePattern.Iso.Parse(expiry.Trim());
        if (parsed is null || !parsed.Success)
        {
            errors.Add(("expiry", expiry is null ? "is required (yyyy-MM-dd)" : "must be a date yyyy-MM-dd"));
        }
        else
        {
            expiryDate = parsed.Value;
        }

        if (errors.Count > 0)
        {
            return new DocumentCheck(null, errors.ToImmutable(), Expired: false);
        }

        var document = new IdentityDocument(documentType, country!, normalized!, expiryDate);
        return new DocumentCheck(document, [], Expired: IsExpired(expiryDate, today));
    }

    /// <summary>A document is expired from the day after its expiry date, in the site's zone.</summary>
    public static bool IsExpired(LocalDate expiry, LocalDate today) => expiry < today;

    [GeneratedRegex("^[A-Z0-9]{4,20}\\z")]
    private static partial Regex DocumentNumber();
}

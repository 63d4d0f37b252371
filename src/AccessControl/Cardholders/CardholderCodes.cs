using System.Collections.Frozen;
using System.Text.Json;
using AccessControl.People;

namespace AccessControl.Cardholding;

// The folder is Cardholders/, but the namespace cannot be AccessControl.Cardholders: a namespace of that name would
// hide the AccessControl.People.Cardholders type from every file under the AccessControl namespace.

/// <summary>
/// The text codes of the cardholder enums, as written in site files, the database and the admin API
/// (<c>employee</c>, <c>contractor</c>, <c>visitor</c>; <c>active</c>, <c>suspended</c>, <c>terminated</c>, <c>revoked</c>).
/// One mapping for all three places, so a value written by one is always read back by the others.
/// </summary>
public static class CardholderCodes
{
    public static string ToCode(this PersonKind value) => Codes<PersonKind>.ToCode(value);

    public static string ToCode(this PersonStatus value) => Codes<PersonStatus>.ToCode(value);

    public static string ToCode(this CredentialStatus value) => Codes<CredentialStatus>.ToCode(value);

    public static bool TryParse(string? code, out PersonKind value) => Codes<PersonKind>.TryParse(code, out value);

    public static bool TryParse(string? code, out PersonStatus value) => Codes<PersonStatus>.TryParse(code, out value);

    public static bool TryParse(string? code, out CredentialStatus value) => Codes<CredentialStatus>.TryParse(code, out value);

    /// <summary>Every code of an enum, for error messages ("one of active, suspended, terminated").</summary>
    public static IReadOnlyList<string> All<T>()
        where T : struct, Enum => Codes<T>.All;

    private static class Codes<T>
        where T : struct, Enum
    {
        private static readonly FrozenDictionary<T, string> ByValue =
            Enum.GetValues<T>().ToFrozenDictionary(v => v, v => JsonNamingPolicy.KebabCaseLower.ConvertName(v.ToString()));

        private static readonly FrozenDictionary<string, T> ByCode = ByValue.ToFrozenDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

        public static IReadOnlyList<string> All { get; } = [.. Enum.GetValues<T>().Select(v => ByValue[v])];

        public static string ToCode(T value) =>
            ByValue.TryGetValue(value, out var code) ? code : throw new ArgumentOutOfRangeException(nameof(value), value, "Not a defined value.");

        public static bool TryParse(string? code, out T value) => ByCode.TryGetValue(code ?? "", out value);
    }
}

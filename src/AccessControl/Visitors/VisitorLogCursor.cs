using System.Globalization;
using NodaTime;

namespace AccessControl.Visitors;

/// <summary>
/// Where a page of the visitor log ended: the last row's check-in time (ms), visit and visitor number, the log's order.
/// Written <c>1764583200000.12.1</c>; the next page is the rows after it. Visitors checked in at the same millisecond
/// are told apart by visit and number, so a page boundary between them neither repeats nor skips one.
/// </summary>
public readonly record struct VisitorLogCursor(long CheckedInAtMs, long Visit, int Visitor)
{
    public static VisitorLogCursor Of(Instant checkedInAt, long visit, int visitor) => new(checkedInAt.ToUnixTimeMilliseconds(), visit, visitor);

    public static VisitorLogCursor? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('.');
        return parts.Length == 3
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var at)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var visit)
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var visitor)
            ? new VisitorLogCursor(at, visit, visitor)
            : null;
    }

    /// <summary>Whether a row at (<paramref name="checkedInAt"/>, <paramref name="visit"/>, <paramref name="visitor"/>) comes after this cursor in the log's order.</summary>
    public bool IsBefore(Instant checkedInAt, long visit, int visitor) =>
        (checkedInAt.ToUnixTimeMilliseconds(), visit, visitor).CompareTo((CheckedInAtMs, Visit, Visitor)) > 0;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{CheckedInAtMs}.{Visit}.{Visitor}");
}

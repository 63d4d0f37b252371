using System.Xml;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.EntryLog;

/// <summary>
/// How long entry-log rows are kept before the retention purge may delete them (NIST SP 800-53 AU-11, PCI DSS v4.0
/// 10.5.1: audit log history kept at least 12 months, the last 3 immediately available). The purge refuses a cut-off
/// within <see cref="Minimum"/> of now, and records the minimum it applied, with its <see cref="Reason"/>, in its row.
/// </summary>
/// <remarks>
/// A longer minimum (a site with longer legal requirements) is always allowed. A shorter one than <see cref="Standard"/>
/// is a decision someone must be able to answer for: it needs a reason, which every purge under it writes into the
/// hash chain, so an auditor reading the purge rows sees which rule each deletion was checked against and why it
/// differs from PCI's. Below <see cref="Floor"/> nothing is allowed: those rows are the ones PCI wants immediately available.
/// </remarks>
public sealed record LogRetention
{
    /// <summary>PCI DSS 10.5.1's 12 months, as 365 days: the default, and the shortest minimum that needs no reason.</summary>
    public static readonly Duration Standard = Duration.FromDays(365);

    /// <summary>PCI DSS 10.5.1's 3 months immediately available, as 92 days so that any three calendar months are covered.</summary>
    public static readonly Duration Floor = Duration.FromDays(92);

    /// <summary>
    /// The longest minimum, 100 years (36525 days): more than any retention law asks, and far enough from the ends of
    /// time that <c>now - minimum</c> is always a time (a minimum of 10,000,000 days would overflow it).
    /// </summary>
    public static readonly Duration Ceiling = Duration.FromDays(36_525);

    private static readonly InstantPattern Rfc3339 = InstantPattern.CreateWithInvariantCulture("uuuu'-'MM'-'dd'T'HH':'mm':'ss'Z'");

    /// <summary>Throws <see cref="ArgumentException"/> when <see cref="Problem"/> finds one.</summary>
    public LogRetention(Duration minimum, string? reason = null)
    {
        if (Problem(minimum, reason) is { } problem)
        {
            throw new ArgumentException(problem, nameof(minimum));
        }

        Minimum = minimum;
        Reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
    }

    /// <summary>The standard minimum, 365 days.</summary>
    public static LogRetention Default { get; } = new(Standard);

    public Duration Minimum { get; }

    /// <summary>Why the minimum is shorter than <see cref="Standard"/> (null when it is not, or none was given for a longer one).</summary>
    public string? Reason { get; }

    /// <summary>
    /// What is wrong with this minimum and reason, or null: below <see cref="Floor"/>, above <see cref="Ceiling"/>, or
    /// below <see cref="Standard"/> without a reason.
    /// </summary>
    public static string? Problem(Duration minimum, string? reason) => Check(minimum, reason)?.Message;

    /// <summary><see cref="Problem"/>, with the code a refused purge records it under (<see cref="LogPurgeRefusal"/>).</summary>
    internal static (string Code, string Message)? Check(Duration minimum, string? reason)
    {
        if (minimum < Floor)
        {
            return (LogPurgeRefusal.MinimumBelowFloor,
                $"the minimum retention of the entry log must be at least {Format(Floor)} (PCI DSS 10.5.1: the last 3 months immediately available); {Format(minimum)} is shorter");
        }

        if (minimum > Ceiling)
        {
            return (LogPurgeRefusal.MinimumAboveCeiling,
                $"the minimum retention of the entry log must be at most {Format(Ceiling)} (100 years); {Format(minimum)} is longer");
        }

        return minimum < Standard && string.IsNullOrWhiteSpace(reason)
            ? (LogPurgeRefusal.MinimumWithoutReason,
                $"a minimum retention of the entry log shorter than {Format(Standard)} (PCI DSS 10.5.1: 12 months) needs a reason, which every purge records; {Format(minimum)} has none")
            : null;
    }

    /// <summary>The latest cut-off a purge may use at <paramref name="now"/>: rows recorded since then are kept.</summary>
    public Instant LatestCutOff(Instant now) => now - Minimum;

    /// <summary>The minimum as ISO 8601 (<c>P365D</c>), for the purge row's detail.</summary>
    public string Iso => Iso8601(Minimum);

    /// <summary>A minimum as ISO 8601 (<c>P365D</c>), for the rows that record it.</summary>
    internal static string Iso8601(Duration minimum) => XmlConvert.ToString(minimum.ToTimeSpan());

    public override string ToString() => Format(Minimum);

    /// <summary>A refusal's message: the minimum, and the latest <c>--before</c> allowed now.</summary>
    internal string Refusal(Instant before, Instant now) =>
        $"refused: --before {Rfc3339.Format(before)} is within the minimum retention of the entry log, {this}{(Reason is null ? "" : $" ({Reason})")}: "
        + $"--before must be {Rfc3339.Format(LatestCutOff(now))} or earlier. Nothing was purged";

    private static string Format(Duration duration) =>
        duration == Duration.FromDays(duration.Days) ? $"{duration.Days} days" : XmlConvert.ToString(duration.ToTimeSpan());
}

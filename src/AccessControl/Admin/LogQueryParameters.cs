using AccessControl.EntryLog;
using AccessControl.Protocol;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Admin;

/// <summary>
/// Turns the parameters of a log query (HTTP query string or CLI options, same names) into a <see cref="LogFilter"/>,
/// naming each parameter that is wrong. Unknown and repeated parameters are errors too, as on every GET route
/// (<see cref="QueryParameters"/>): a misspelt filter silently ignored would show an auditor rows they did not ask for.
/// </summary>
public static class LogQueryParameters
{
    public const int DefaultLimit = 100;

    /// <summary>The parameters a log query understands.</summary>
    public static IReadOnlyList<string> Names { get; } = ["from", "to", "time", "site", "door", "reader", "person", "escort", "kind", "decision", "reason", "actor", "after", "limit"];

    private static readonly string[] Decisions = ["grant", "deny", "pending"];

    /// <summary>The values of <c>time</c>: which time of a row <c>from</c> and <c>to</c> select on.</summary>
    private static readonly string[] Times = ["recorded", "happened"];

    private static readonly string[] Reasons = [.. LogReasons.Known.Order(StringComparer.Ordinal)];

    private static readonly OffsetDateTimePattern Rfc3339 = OffsetDateTimePattern.ExtendedIso;

    /// <summary>
    /// Parses the parameters. <paramref name="parameters"/> maps each given name to its values (more than one value is an error).
    /// Instants are RFC 3339 with an offset (<c>2025-03-01T08:00:00Z</c>, <c>2025-03-01T09:00:00+01:00</c>); the range is [from, to),
    /// of the time rows were recorded, or with <c>time=happened</c> of the time they happened (<see cref="LogTime"/>).
    /// </summary>
    public static (LogFilter? Filter, IReadOnlyList<FieldError> Errors) Parse(IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> parameters, int defaultLimit = DefaultLimit)
    {
        var errors = new List<FieldError>();
        var given = parameters.ToList();
        QueryParameters.Check(given.Select(p => (p.Key, p.Value.Count)), Names, errors);
        var values = given.Where(p => Names.Contains(p.Key) && p.Value.Count == 1).ToDictionary(p => p.Key, p => p.Value[0], StringComparer.Ordinal);

        var from = ParseInstant("from", values.GetValueOrDefault("from"), errors);
        var to = ParseInstant("to", values.GetValueOrDefault("to"), errors);
        CheckRange(from, to, errors);
        var time = OneOf(values, "time", "time to select on", Times, errors);
        if (time is not null && from is null && to is null && !errors.Any(e => e.Field is "from" or "to"))
        {
            // Alone it selects nothing: read as a filter, it would let an auditor think they had asked a question.
            errors.Add(new FieldError("time", "applies to from and to: give one of them"));
        }

        var kind = OneOf(values, "kind", "kind", LogKinds.All, errors);
        var decision = OneOf(values, "decision", "decision", Decisions, errors);
        var reason = OneOf(values, "reason", "reason code", Reasons, errors);

        long? after = null;
        if (values.TryGetValue("after", out var afterText))
        {
            if (long.TryParse(afterText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq))
            {
                after = seq;
            }
            else
            {
                errors.Add(new FieldError("after", "must be a non-negative sequence number"));
            }
        }

        var limit = defaultLimit;
        if (values.TryGetValue("limit", out var limitText)
            && (!int.TryParse(limitText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit is < 1 or > EntryLogQuery.MaxLimit))
        {
            errors.Add(new FieldError("limit", $"must be an integer from 1 to {EntryLogQuery.MaxLimit}"));
        }

        var filter = new LogFilter
        {
            From = from,
            To = to,
            Time = time == "happened" ? LogTime.Happened : LogTime.Recorded,
            SiteId = Id(values, "site", errors),
            DoorId = Id(values, "door", errors),
            ReaderId = Id(values, "reader", errors),
            PersonId = Id(values, "person", errors),
            Escort = Id(values, "escort", errors),
            Kind = kind,
            Decision = decision,
            Reason = reason,
            Actor = Actor(values.GetValueOrDefault("actor"), errors),
            AfterSeq = after,
            Limit = limit,
        };
        return errors.Count == 0 ? (filter, errors) : (null, errors);
    }

    /// <summary>
    /// Adds an error naming <c>to</c> when the range [from, to) is empty: read as "no rows", it would tell an auditor
    /// nothing happened. Shared by every query of a time range (the visitor log too), so that they agree.
    /// </summary>
    internal static void CheckRange(Instant? from, Instant? to, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (from is { } f && to is { } t && f >= t)
        {
            errors.Add(new FieldError("to", "must be after from (the range is [from, to))"));
        }
    }

    /// <summary>
    /// The instant of parameter <paramref name="name"/> (null when not given), or an error naming it. Shared by every
    /// query of a time range (the visitor log too), so that each takes the same times.
    /// </summary>
    internal static Instant? ParseInstant(string name, string? text, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (text is null)
        {
            return null;
        }

        // An offset can carry a time on the calendar's first or last day past its end (9999-12-31T23:00:00-05:00), which
        // no instant is: those days are refused whole, as no row is ever that far from now.
        var result = Rfc3339.Parse(text);
        if (result.Success && result.Value.Date > LocalDate.MinIsoValue && result.Value.Date < LocalDate.MaxIsoValue)
        {
            return result.Value.ToInstant();
        }

        if (result.Success)
        {
            errors.Add(new FieldError(name, "must be a time after -9998-01-01 and before 9999-12-31"));
            return null;
        }

        errors.Add(new FieldError(name, "must be an RFC 3339 instant with an offset, such as 2025-03-01T08:00:00Z (in a URL, write '+' as %2B)"));
        return null;
    }

    /// <summary>
    /// The value of a parameter that names a code, or an error naming the value and the known codes: a misspelt code
    /// would match no row, and an auditor reads no rows as "never happened".
    /// </summary>
    private static string? OneOf(Dictionary<string, string> values, string name, string what, IReadOnlyList<string> known, List<FieldError> errors)
    {
        var value = values.GetValueOrDefault(name);
        if (value is null || known.Contains(value, StringComparer.Ordinal))
        {
            return value;
        }

        var shown = value.Length <= 64 ? value : value[..64] + "...";
        errors.Add(new FieldError(name, $"'{shown}' is not a {what} (known: {string.Join(", ", known)})"));
        return null;
    }

    /// <summary>The longest actor a query takes: longer than any the service writes (an operator name is at most 64 characters).</summary>
    public const int MaxActorLength = 256;

    /// <summary>
    /// The actor asked for (null when not given), or an error naming it. Any text, compared exactly: actors are operator
    /// names and system names such as <c>site-file:demo.yaml (root)</c>. An empty one is refused: it would match no row,
    /// and an auditor reads no rows as "did nothing".
    /// </summary>
    private static string? Actor(string? actor, List<FieldError> errors)
    {
        if (actor is not null && (actor.Length is 0 or > MaxActorLength || string.IsNullOrWhiteSpace(actor)))
        {
            errors.Add(new FieldError("actor", $"must be 1 to {MaxActorLength} characters, not only spaces"));
            return null;
        }

        return actor;
    }

    private static string? Id(Dictionary<string, string> values, string name, List<FieldError> errors) =>
        ParseId(name, values.GetValueOrDefault(name), errors);

    /// <summary>
    /// The id of parameter <paramref name="name"/> (null when not given), or an error naming it. Shared by every query
    /// that takes a site (the visitor listings too): a site asked for is named in the row of its refusal.
    /// </summary>
    internal static string? ParseId(string name, string? id, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (id is not null && !WireFormat.IsValidId(id))
        {
            errors.Add(new FieldError(name, "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -"));
            return null;
        }

        return id;
    }

}

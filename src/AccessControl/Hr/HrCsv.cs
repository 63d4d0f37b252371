using AccessControl.Protocol;

namespace AccessControl.Hr;

/// <summary>One event of a CSV file with the line it came from (1 is the header).</summary>
public sealed record HrCsvEvent(int Line, HrEventInput Event);

/// <summary>
/// The HR feed's CSV file: a header <c>eventId,type,personId,effectiveAt,accessLevels</c>, then one event per line;
/// <c>effectiveAt</c> may be empty (now), <c>accessLevels</c> is a transfer's new set separated by <c>;</c> (empty for a
/// termination, and for a transfer to no access at all). Fields may be quoted (RFC 4180). Blank lines are skipped.
/// </summary>
/// <remarks>
/// Every line is checked before anything is sent, and a file with any bad line is not sent at all: a half-imported
/// HR batch is hard to reason about, and since events are idempotent by id the corrected file can simply be imported again.
/// </remarks>
public static class HrCsv
{
    public const string Header = "eventId,type,personId,effectiveAt,accessLevels";

    /// <summary>The events of a file, or every problem found, each as <c>line N: field: message</c>.</summary>
    public static (IReadOnlyList<HrCsvEvent> Events, IReadOnlyList<string> Errors) Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var events = new List<HrCsvEvent>();
        var errors = new List<string>();
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        if (lines.Length == 0 || !string.Equals(lines[0].Trim().TrimStart('\uFEFF'), Header, StringComparison.Ordinal))
        {
            errors.Add($"line 1: the header must be exactly '{Header}'");
            return ([], errors);
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 1; i < lines.Length; i++)
        {
            var number = i + 1;
            if (lines[i].Trim().Length == 0)
            {
                continue;
            }

            var fields = SplitLine(lines[i]);
            if (fields is null)
            {
                errors.Add($"line {number}: an unterminated quote");
                continue;
            }

            if (fields.Count != 5)
            {
                errors.Add($"line {number}: {fields.Count} fields, expected 5 ({Header})");
                continue;
            }

            var (eventId, type, personId, effectiveAt, levelText) = (fields[0].Trim(), fields[1].Trim(), fields[2].Trim(), fields[3].Trim(), fields[4].Trim());
            var before = errors.Count;
            if (!WireFormat.IsValidId(eventId))
            {
                errors.Add($"line {number}: eventId: must be 1 to 64 characters of A-Z a-z 0-9 . _ : -");
            }
            else if (seen.TryGetValue(eventId, out var first))
            {
                errors.Add($"line {number}: eventId: '{eventId}' is already on line {first}");
            }
            else
            {
                seen[eventId] = number;
            }

            if (type is not (HrEventTypes.Termination or HrEventTypes.Transfer))
            {
                errors.Add($"line {number}: type: must be {HrEventTypes.Termination} or {HrEventTypes.Transfer}, not '{type}'");
            }

            if (!WireFormat.IsValidId(personId))
            {
                errors.Add($"line {number}: personId: must be 1 to 64 characters of A-Z a-z 0-9 . _ : -");
            }

            if (effectiveAt.Length > 0 && HrFeedService.ParseInstant(effectiveAt) is null)
            {
                errors.Add($"line {number}: effectiveAt: must be empty (now) or RFC 3339 with an offset, such as 2026-12-31T17:00:00+01:00");
            }

            var levels = levelText.Length == 0 ? [] : levelText.Split(';').Select(l => l.Trim()).ToList();
            if (type == HrEventTypes.Termination && levels.Count > 0)
            {
                errors.Add($"line {number}: accessLevels: must be empty for a termination");
            }

            foreach (var level in levels.Where(l => !WireFormat.IsValidId(l)))
            {
                errors.Add($"line {number}: accessLevels: '{level}' is not an access level id");
            }

            if (errors.Count == before)
            {
                events.Add(new HrCsvEvent(number, new HrEventInput(eventId, type, personId, effectiveAt.Length == 0 ? null : effectiveAt,
                    type == HrEventTypes.Transfer ? [.. levels] : null)));
            }
        }

        return (errors.Count == 0 ? events : [], errors);
    }

    /// <summary>Fields of one line, quotes (with <c>""</c> for a quote) removed; null when a quote is not closed.</summary>
    private static List<string>? SplitLine(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        if (quoted)
        {
            return null;
        }

        fields.Add(current.ToString());
        return fields;
    }
}

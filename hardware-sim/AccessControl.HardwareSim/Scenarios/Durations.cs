using System.Globalization;
using System.Text.RegularExpressions;

namespace AccessControl.HardwareSim.Scenarios;

/// <summary>Durations as people write them in scenario files: <c>500ms</c>, <c>2s</c>, <c>1.5s</c>, <c>1m30s</c>, <c>1h</c>. A unit is required.</summary>
public static partial class Durations
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text) || !Whole().IsMatch(text))
        {
            return false;
        }

        foreach (Match part in Part().Matches(text))
        {
            var value = double.Parse(part.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
            duration += part.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(value),
                "s" => TimeSpan.FromSeconds(value),
                "m" => TimeSpan.FromMinutes(value),
                _ => TimeSpan.FromHours(value),
            };
        }

        return true;
    }

    /// <summary>Formats as the shortest of <c>1.5s</c> / <c>2m</c> / <c>250ms</c> that round-trips through <see cref="TryParse"/>.</summary>
    public static string Format(TimeSpan duration) =>
        duration.TotalMilliseconds < 1000 ? $"{duration.TotalMilliseconds:0.###}ms" : $"{duration.TotalSeconds:0.###}s";

    [GeneratedRegex(@"^(?:\d+(?:\.\d+)?(?:ms|h|m|s))+$", RegexOptions.CultureInvariant)]
    private static partial Regex Whole();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|h|m|s)", RegexOptions.CultureInvariant)]
    private static partial Regex Part();
}

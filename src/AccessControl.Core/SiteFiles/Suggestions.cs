namespace AccessControl.SiteFiles;

/// <summary>"Did you mean" hints for misspelt keys and ids: the cheapest way to make a strict file format pleasant.</summary>
public static class Suggestions
{
    /// <summary>
    /// A hint naming the closest candidate (differing only in case, or within one edit for names of 3 to 7 characters and
    /// two edits for longer ones), or an empty string. Candidates that differ only in digits are never suggested:
    /// <c>ctl-2</c> for <c>ctl-1</c> is more likely a different device than a typo, and a wrong hint there is worse than none.
    /// </summary>
    public static string DidYouMean(string text, IEnumerable<string> candidates)
    {
        var limit = text.Length switch
        {
            < 3 => 0,
            < 8 => 1,
            _ => 2,
        };
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var distance = string.Equals(text, candidate, StringComparison.OrdinalIgnoreCase) ? 0 : Distance(text, candidate);
            if (distance < bestDistance && (distance == 0 || !DiffersOnlyInDigits(text, candidate)))
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return best is not null && bestDistance <= limit ? $" (did you mean '{best}'?)" : "";
    }

    /// <summary>The <paramref name="count"/> candidates nearest to <paramref name="text"/> (fewest edits, then ordinal), for "known ids" lists.</summary>
    public static IReadOnlyList<string> Closest(string text, IEnumerable<string> candidates, int count) =>
        [.. candidates
            .Select(c => (Id: c, Distance: string.Equals(text, c, StringComparison.OrdinalIgnoreCase) ? 0 : FullDistance(text, c)))
            .OrderBy(c => c.Distance).ThenBy(c => c.Id, StringComparer.Ordinal)
            .Take(count)
            .Select(c => c.Id)];

    private static bool DiffersOnlyInDigits(string a, string b)
    {
        if (a.Length != b.Length)
        {
            return false;
        }

        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && !(char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[i])))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Edit distance counting a swap of two neighbours as one edit (<c>form</c> for <c>from</c>); inputs are short keys and ids.</summary>
    private static int Distance(string a, string b) => Math.Abs(a.Length - b.Length) > 2 ? int.MaxValue : FullDistance(a, b);

    private static int FullDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}

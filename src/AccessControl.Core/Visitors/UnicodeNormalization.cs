using System.Collections.Frozen;
using System.Text;

namespace AccessControl.Visitors;

/// <summary>
/// Unicode compatibility decomposition (NFKD) of the Basic Multilingual Plane, from tables generated into
/// <see cref="UnicodeTables"/>.
/// </summary>
/// <remarks>
/// The service runs with invariant globalization (no ICU), where <see cref="string.Normalize()"/> leaves non-ASCII text
/// as it is. Names need real normalization, so this carries its own data. Two strings have equal NFKC forms exactly
/// when they have equal NFKD forms, so comparing NFKD forms is "comparing after NFKC". Characters outside the BMP
/// (surrogate pairs) are kept as they are.
/// </remarks>
public static class UnicodeNormalization
{
    private const int HangulBase = 0xAC00, HangulCount = 11172, LeadBase = 0x1100, VowelBase = 0x1161, TrailBase = 0x11A7;
    private const int VowelCount = 21, TrailCount = 28;

    private static readonly FrozenDictionary<char, string> Decompositions = ReadDecompositions();
    private static readonly FrozenDictionary<char, byte> CombiningClasses = ReadCombiningClasses();

    /// <summary>The NFKD form of <paramref name="text"/>: compatibility decomposition, then canonical ordering of marks.</summary>
    public static string Nfkd(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (c - HangulBase is >= 0 and < HangulCount)
            {
                var index = c - HangulBase;
                result.Append((char)(LeadBase + (index / (VowelCount * TrailCount))));
                result.Append((char)(VowelBase + (index % (VowelCount * TrailCount) / TrailCount)));
                if (index % TrailCount != 0)
                {
                    result.Append((char)(TrailBase + (index % TrailCount)));
                }
            }
            else if (Decompositions.TryGetValue(c, out var decomposed))
            {
                result.Append(decomposed);
            }
            else
            {
                result.Append(c);
            }
        }

        // Canonical ordering: within a run of combining marks, a stable sort by combining class.
        for (var i = 1; i < result.Length; i++)
        {
            var ccc = CombiningClass(result[i]);
            for (var j = i; ccc != 0 && j > 0 && CombiningClass(result[j - 1]) > ccc; j--)
            {
                (result[j - 1], result[j]) = (result[j], result[j - 1]);
            }
        }

        return result.ToString();
    }

    /// <summary>The canonical combining class of a BMP character (0 for base characters).</summary>
    public static int CombiningClass(char c) => CombiningClasses.TryGetValue(c, out var ccc) ? ccc : 0;

    private static FrozenDictionary<char, string> ReadDecompositions()
    {
        var data = Convert.FromBase64String(UnicodeTables.Decompositions);
        var map = new Dictionary<char, string>();
        for (var i = 0; i < data.Length;)
        {
            var key = (char)(data[i] | (data[i + 1] << 8));
            int length = data[i + 2];
            map[key] = Encoding.Unicode.GetString(data, i + 3, length * 2);
            i += 3 + (length * 2);
        }

        return map.ToFrozenDictionary();
    }

    private static FrozenDictionary<char, byte> ReadCombiningClasses()
    {
        var data = Convert.FromBase64String(UnicodeTables.CombiningClasses);
        var map = new Dictionary<char, byte>();
        for (var i = 0; i < data.Length; i += 3)
        {
            map[(char)(data[i] | (data[i + 1] << 8))] = data[i + 2];
        }

        return map.ToFrozenDictionary();
    }
}

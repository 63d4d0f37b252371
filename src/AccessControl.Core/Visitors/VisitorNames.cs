using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace AccessControl.Visitors;

/// <summary>How a name on an identity document compares with the name on an approved visit.</summary>
public enum NameMatch
{
    /// <summary>The names differ: the visitor is not the person who was approved (or the request has a typo).</summary>
    Different,

    /// <summary>The normalized names are equal.</summary>
    Same,

    /// <summary>The same normalized tokens in another order ("GARCIA MARIA" for "María García").</summary>
    Reordered,
}

/// <summary>
/// Normalizes and compares people's names, for the front desk (document name against approved visitor) and the watch list.
/// </summary>
/// <remarks>
/// <para>The front desk types the name as printed on the document, often in capitals and without accents (as the
/// machine-readable zone of a passport prints it); the host typed it as they know it. Both must match when they name
/// the same person, and must not match when they do not: every rule below removes only differences that
/// ICAO 9303 transliteration or ordinary typing introduce, never letters.</para>
/// <para><b>Latin-script names</b> are normalized in this order:</para>
/// <list type="number">
/// <item>Unicode compatibility decomposition, NFKD (<see cref="UnicodeNormalization"/>): full-width letters and
/// ligatures such as "ﬁ" become plain letters, é becomes e plus a combining accent.</item>
/// <item>Letters that do not decompose are spelled out: ß and ẞ → ss, Æ → ae, Œ → oe, Ø → o, Đ → d, Ł → l, Þ → th,
/// and the Turkish dotless ı → i (İ decomposes to I plus a dot, which step 3 removes). So "Işıl" matches "ISIL".</item>
/// <item>Every combining mark is removed: é → e, ñ → n, ü → u; so are invisible format characters (zero-width space).</item>
/// <item>Lower case (invariant culture: no Turkish or other locale rules).</item>
/// <item>Hyphens and dashes, dots, commas and underscores become spaces ("Pérez-García" = "PEREZ GARCIA");
/// apostrophes are removed ("O'Brien" = "OBRIEN", as the machine-readable zone writes it).</item>
/// <item>Runs of whitespace become one space; leading and trailing spaces go.</item>
/// </list>
/// <para><b>German umlaut transliteration is accepted</b>: ä, ö, ü (and å) may also be written ae, oe, ue (aa), the
/// ICAO 9303 spelling German passports print in their machine-readable zone. So "Müller" matches "MUELLER" and
/// "MULLER". This is decided token by token: a token matches when any of its spellings equals any spelling of the
/// other token. Plain text is never transliterated backwards, so "Mueller" still does not match "Muller".</para>
/// <para><b>Non-Latin scripts</b> (a name with any letter outside the Latin script: Cyrillic, Greek, Arabic, CJK, ...)
/// are compared exactly after NFKC (as NFKD forms, which are equal exactly when the NFKC forms are) and whitespace folding, with no case folding and no transliteration: those rules
/// differ by language and by issuing country, and a wrong guess would let two different people match. A Latin-script
/// name never matches a non-Latin one; the host should enter the name as the document prints it.</para>
/// <para><b>Matching</b>: the names match when their normalized token lists are equal (<see cref="NameMatch.Same"/>)
/// or are the same multiset of tokens in another order (<see cref="NameMatch.Reordered"/>: given and family names
/// swapped). A missing or extra token (a middle name left out) is <see cref="NameMatch.Different"/>: the desk refuses
/// and the host corrects the request, which then needs a new approval.</para>
/// </remarks>
public static class VisitorNames
{
    /// <summary>
    /// The normalized form of a name (see the class remarks), with umlauts stripped to their base letter.
    /// Used as the stored key of watch-list entries and for display in comparisons. Empty for a blank name.
    /// </summary>
    public static string Normalize(string? name) => string.Join(' ', Tokens(name).Select(t => t.Plain));

    /// <summary>Compares a name as read from a document with the approved visitor's name.</summary>
    public static NameMatch Compare(string? documentName, string? approvedName)
    {
        var document = Tokens(documentName);
        var approved = Tokens(approvedName);
        if (document.Length == 0 || approved.Length == 0 || document.Length != approved.Length)
        {
            return NameMatch.Different;
        }

        var inOrder = true;
        for (var i = 0; i < document.Length; i++)
        {
            if (!document[i].Matches(approved[i]))
            {
                inOrder = false;
                break;
            }
        }

        if (inOrder)
        {
            return NameMatch.Same;
        }

        return SameMultiset(document, approved) ? NameMatch.Reordered : NameMatch.Different;
    }

    /// <summary>Whether two names designate the same person under the rules above (same or reordered).</summary>
    public static bool Matches(string? documentName, string? approvedName) => Compare(documentName, approvedName) != NameMatch.Different;

    /// <summary>Normalizes an organization name for the watch list: the same rules as a person's name, in order.</summary>
    public static string NormalizeOrganization(string? organization) => Normalize(organization);

    /// <summary>Whether two organization names are the same after normalization (token order matters for organizations).</summary>
    public static bool SameOrganization(string? a, string? b)
    {
        var left = Tokens(a);
        var right = Tokens(b);
        return left.Length > 0 && left.Length == right.Length && left.Zip(right).All(p => p.First.Matches(p.Second));
    }

    /// <summary>
    /// Whether each token can be paired with a distinct token of the other name. Token equality with transliteration
    /// is not transitive, so a greedy pairing could miss a valid one; names have few tokens, so a small backtracking
    /// search is cheap.
    /// </summary>
    private static bool SameMultiset(ImmutableArray<NameToken> left, ImmutableArray<NameToken> right)
    {
        var used = new bool[right.Length];
        return Assign(0);

        bool Assign(int i)
        {
            if (i == left.Length)
            {
                return true;
            }

            for (var j = 0; j < right.Length; j++)
            {
                if (!used[j] && left[i].Matches(right[j]))
                {
                    used[j] = true;
                    if (Assign(i + 1))
                    {
                        return true;
                    }

                    used[j] = false;
                }
            }

            return false;
        }
    }

    internal static ImmutableArray<NameToken> Tokens(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return [];
        }

        var decomposed = UnicodeNormalization.Nfkd(name);
        if (!IsLatinScript(decomposed))
        {
            return [.. SplitOnWhitespace(decomposed).Select(t => new NameToken(t, t, Exact: true))];
        }

        var plain = Fold(decomposed, transliterate: false);
        var transliterated = Fold(decomposed, transliterate: true);
        var plainTokens = SplitOnWhitespace(plain);
        var transliteratedTokens = SplitOnWhitespace(transliterated);

        // Both foldings split at the same places (transliteration only replaces letters by letters).
        return [.. plainTokens.Zip(transliteratedTokens, (p, t) => new NameToken(p, t, Exact: false))];
    }

    private static string[] SplitOnWhitespace(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Folds a decomposed (NFKD) Latin name: spelled-out letters, transliteration, marks, case, separators.</summary>
    private static string Fold(string decomposed, bool transliterate)
    {
        var folded = new StringBuilder(decomposed.Length + 8);
        for (var i = 0; i < decomposed.Length; i++)
        {
            var c = decomposed[i];
            var next = i + 1 < decomposed.Length ? decomposed[i + 1] : '\0';
            if (transliterate && Transliteration(c, next) is { } german)
            {
                folded.Append(german);
                continue;
            }

            if (SpelledOut(c) is { } letters)
            {
                folded.Append(letters);
                continue;
            }

            var category = CharUnicodeInfo.GetUnicodeCategory(c);

            // Marks, and invisible format characters (zero-width space, soft hyphen, direction marks) pasted from documents.
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format)
            {
                continue;
            }

            if (IsApostrophe(c))
            {
                continue;
            }

            if (IsSeparator(c, category))
            {
                folded.Append(' ');
                continue;
            }

            folded.Append(char.ToLowerInvariant(c));
        }

        return folded.ToString();
    }

    /// <summary>
    /// ICAO 9303 transliterations that differ from dropping the mark: ä ö ü å (decomposed: a base vowel followed by a
    /// combining diaeresis or ring) become ae oe ue aa.
    /// </summary>
    private static string? Transliteration(char c, char next) => (char.ToLowerInvariant(c), next) switch
    {
        ('a', '\u0308') => "ae",
        ('o', '\u0308') => "oe",
        ('u', '\u0308') => "ue",
        ('a', '\u030A') => "aa",
        _ => null,
    };

    /// <summary>Letters that NFD does not decompose into a base letter and a mark.</summary>
    private static string? SpelledOut(char c) => c switch
    {
        'ß' or 'ẞ' => "ss",
        'Æ' or 'æ' => "ae",
        'Œ' or 'œ' => "oe",
        'Ø' or 'ø' => "o",
        'Đ' or 'đ' => "d",
        'Ł' or 'ł' => "l",
        'Þ' or 'þ' => "th",
        'ı' => "i",
        _ => null,
    };

    private static bool IsApostrophe(char c) => c is '\'' or '’' or '‘' or 'ʼ' or '`' or '´';

    private static bool IsSeparator(char c, UnicodeCategory category) =>
        char.IsWhiteSpace(c)
        || category == UnicodeCategory.DashPunctuation
        || c is '.' or ',' or '_' or '\u2212';

    /// <summary>True when every letter of the text belongs to the Latin script (Basic Latin to Latin Extended).</summary>
    private static bool IsLatinScript(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsLetter(c))
            {
                continue;
            }

            var latin = c <= '\u024F'
                || c is >= '\u1E00' and <= '\u1EFF'   // Latin Extended Additional (Vietnamese)
                || c is >= '\u2C60' and <= '\u2C7F'   // Latin Extended-C
                || c is >= '\uA720' and <= '\uA7FF'   // Latin Extended-D (ẞ is U+1E9E, above)
                || c is >= '\uAB30' and <= '\uAB6F';  // Latin Extended-E
            if (!latin)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>One token of a name in its two Latin spellings (marks dropped; German transliteration), or exact.</summary>
    internal readonly record struct NameToken(string Plain, string Transliterated, bool Exact)
    {
        public bool Matches(NameToken other)
        {
            if (Exact || other.Exact)
            {
                return Exact && other.Exact && string.Equals(Plain, other.Plain, StringComparison.Ordinal);
            }

            return string.Equals(Plain, other.Plain, StringComparison.Ordinal)
                || string.Equals(Transliterated, other.Transliterated, StringComparison.Ordinal)
                || string.Equals(Transliterated, other.Plain, StringComparison.Ordinal)
                || string.Equals(Plain, other.Transliterated, StringComparison.Ordinal);
        }
    }
}

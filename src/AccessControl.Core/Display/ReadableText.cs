using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace AccessControl.Display;

/// <summary>
/// The rule for free text that operators read (names of people, visitors, organisations, zones and access levels, a
/// visit's purpose, notes, reasons), kept in one place for the admin API, the site file and the visitor registration.
/// </summary>
/// <remarks>
/// <para>What an operator sees of a name in the review, at the front desk or in the log must be what it is. A bidi
/// override makes <c>"Alice\u202Egpj.exe"</c> read as "Aliceexe.jpg" and can make one person's name look like another's;
/// a zero-width character makes two names that look the same compare different (so a watch-list entry misses);
/// a control character moves the cursor or forges a line. So every character <see cref="TerminalText"/> would have to
/// escape is refused: controls (C0, DEL, C1), invisible format characters (Unicode category Cf: the bidi embeddings,
/// overrides, isolates and marks U+202A..U+202E, U+2066..U+2069, U+200E, U+200F, U+061C; the zero-width space,
/// non-joiner and joiner U+200B..U+200D; the byte order mark U+FEFF; the soft hyphen; the tag characters), the line and
/// paragraph separators, and lone surrogates.</para>
/// <para>Letters of every script stay allowed, right-to-left ones included (Arabic and Hebrew names display by their own
/// letters' direction, without any control). The zero-width joiner and non-joiner are refused too: some scripts
/// (Persian, several Indic ones) and emoji sequences use them, but a name typed without them keeps its letters, and for
/// a datacenter's people and visitors an invisible character in a name is far likelier a trick than a need.</para>
/// </remarks>
public static class ReadableText
{
    private static readonly FrozenDictionary<int, string> Names = new Dictionary<int, string>
    {
        [0x00AD] = "soft hyphen",
        [0x061C] = "Arabic letter mark",
        [0x200B] = "zero-width space",
        [0x200C] = "zero-width non-joiner",
        [0x200D] = "zero-width joiner",
        [0x200E] = "left-to-right mark",
        [0x200F] = "right-to-left mark",
        [0x2028] = "line separator",
        [0x2029] = "paragraph separator",
        [0x202A] = "left-to-right embedding",
        [0x202B] = "right-to-left embedding",
        [0x202C] = "pop directional formatting",
        [0x202D] = "left-to-right override",
        [0x202E] = "right-to-left override",
        [0x2066] = "left-to-right isolate",
        [0x2067] = "right-to-left isolate",
        [0x2068] = "first strong isolate",
        [0x2069] = "pop directional isolate",
        [0xFEFF] = "zero-width no-break space (byte order mark)",
    }.ToFrozenDictionary();

    /// <summary>
    /// Why <paramref name="text"/> cannot be stored as text an operator reads (see the class remarks), naming the first
    /// offending character and where it is, for a field error; null when it can.
    /// </summary>
    public static string? Problem(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var at = TerminalText.FirstHidden(text);
        if (at < 0)
        {
            return null;
        }

        var what = Rune.DecodeFromUtf16(text.AsSpan(at), out var rune, out _) != System.Buffers.OperationStatus.Done
            ? $"U+{((int)text[at]).ToString("X4", CultureInfo.InvariantCulture)} (a lone surrogate)"
            : $"U+{rune.Value.ToString(rune.Value > 0xFFFF ? "X5" : "X4", CultureInfo.InvariantCulture)} ({Describe(rune)})";
        return $"must not contain control characters or invisible formatting characters such as bidirectional overrides: {what} at character {at + 1}";
    }

    /// <summary>
    /// <paramref name="text"/> with each character <see cref="Problem"/> would name (and each lone surrogate) read as
    /// <paramref name="replacement"/>: for text the service composes from a peer's or a file's, such as a reason naming
    /// a site file, which must be stored, not refused.
    /// </summary>
    public static string Replaced(string text, char replacement = '?')
    {
        var shown = replacement.ToString();
        return TerminalText.Rewrite(text, _ => shown);
    }

    private static string Describe(Rune rune) => Names.TryGetValue(rune.Value, out var name) ? name : Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control => "a control character",
        _ => "an invisible format character",
    };
}

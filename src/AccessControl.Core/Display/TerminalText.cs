using System.Globalization;
using System.Text;

namespace AccessControl.Display;

/// <summary>
/// Text that someone else wrote (an actor a CLI user typed, a trigger name in a database someone had, a reason a broker
/// sent a simulated reader) made safe to print on an operator's terminal: what the log stores stays exact (the chain
/// covers it); what is shown cannot move the cursor, start a second line or colour, link or reorder what follows.
/// </summary>
/// <remarks>
/// It lives in Core so that every program of the tree (the service, its CLI, hardware-sim) shows peer text the same way.
/// What it escapes is exactly what <see cref="ReadableText"/> refuses in names and other stored free text, so a value
/// the service accepted is printed as it is.
/// </remarks>
public static class TerminalText
{
    /// <summary>
    /// <paramref name="text"/> with every control character (C0, DEL, C1: ESC of a colour or OSC 8 link, a <c>\r</c> that
    /// overwrites the line, a newline that forges one), every invisible format character (the bidi overrides such as
    /// U+202E, zero-width ones, the tag characters of plane 14) and the Unicode line and paragraph separators shown as an
    /// escape (<c>\n</c>, <c>\x1B</c>, <c>\u202E</c>, <c>\U000E0041</c>), so that the reader sees that something was
    /// there and what. A lone surrogate (not text at all) is shown as <c>\uD800</c>.
    /// </summary>
    public static string Show(string text) => Rewrite(text, value => value switch
    {
        '\n' => @"\n",
        '\r' => @"\r",
        '\t' => @"\t",
        <= 0xFF => @"\x" + value.ToString("X2", CultureInfo.InvariantCulture),
        <= 0xFFFF => @"\u" + value.ToString("X4", CultureInfo.InvariantCulture),
        _ => @"\U" + value.ToString("X8", CultureInfo.InvariantCulture),
    });

    /// <summary>
    /// <paramref name="text"/> with each hidden character (<see cref="IsHidden"/>) replaced by what <paramref name="shownAs"/>
    /// makes of its code point, and each lone surrogate by what it makes of that UTF-16 unit (0xD800..0xDFFF, never a
    /// code point); the text itself when there is none. The one walk over the text that <see cref="Show"/> and
    /// <see cref="ReadableText.Replaced"/> share.
    /// </summary>
    internal static string Rewrite(string text, Func<int, string> shownAs)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (FirstHidden(text) < 0)
        {
            return text;
        }

        var shown = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var length) != System.Buffers.OperationStatus.Done)
            {
                shown.Append(shownAs(text[i]));
                i++;
                continue;
            }

            if (IsHidden(rune))
            {
                shown.Append(shownAs(rune.Value));
            }
            else
            {
                shown.Append(text, i, length);
            }

            i += length;
        }

        return shown.ToString();
    }

    /// <summary>
    /// Whether a terminal would act on <paramref name="rune"/> or show nothing for it instead of a glyph: a control
    /// character (Cc), an invisible format character (Cf: bidi embeddings, overrides, isolates and marks, zero-width
    /// space and joiners, the byte order mark, tag characters) or a line or paragraph separator (Zl, Zp).
    /// </summary>
    public static bool IsHidden(Rune rune) => Rune.GetUnicodeCategory(rune)
        is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    /// <summary>The index of the first hidden character (see <see cref="IsHidden"/>) or lone surrogate in <paramref name="text"/>; -1 when there is none.</summary>
    public static int FirstHidden(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var length) != System.Buffers.OperationStatus.Done || IsHidden(rune))
            {
                return i;
            }

            i += length;
        }

        return -1;
    }
}

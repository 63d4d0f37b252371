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
    public static string Show(string text)
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
                shown.Append(@"\u").Append(((int)text[i]).ToString("X4", CultureInfo.InvariantCulture));
                i++;
                continue;
            }

            shown.Append(rune.Value switch
            {
                '\n' => @"\n",
                '\r' => @"\r",
                '\t' => @"\t",
                _ when !IsHidden(rune) => rune.ToString(),
                <= 0xFF => @"\x" + rune.Value.ToString("X2", CultureInfo.InvariantCulture),
                <= 0xFFFF => @"\u" + rune.Value.ToString("X4", CultureInfo.InvariantCulture),
                _ => @"\U" + rune.Value.ToString("X8", CultureInfo.InvariantCulture),
            });
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

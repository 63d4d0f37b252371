using System.Globalization;
using System.Text;

namespace AccessControl.Cli;

/// <summary>
/// Text from the log (an actor a CLI user typed, a trigger name in a database someone had) made safe to print on an
/// operator's terminal: what the log stores stays exact (the chain covers it); what is shown cannot move the cursor,
/// start a second line or colour, link or reorder what follows.
/// </summary>
public static class TerminalText
{
    /// <summary>
    /// <paramref name="text"/> with every control character (C0, DEL, C1: ESC of a colour or OSC 8 link, a <c>\r</c> that
    /// overwrites the line, a newline that forges one), every invisible format character (the bidi overrides such as
    /// U+202E, zero-width ones) and the Unicode line and paragraph separators shown as an escape (<c>\n</c>,
    /// <c>\x1B</c>, <c>\u202E</c>), so that the reader sees that something was there and what.
    /// </summary>
    public static string Show(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Any(Hidden))
        {
            return text;
        }

        var shown = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            shown.Append(c switch
            {
                '\n' => @"\n",
                '\r' => @"\r",
                '\t' => @"\t",
                _ when !Hidden(c) => c.ToString(),
                _ when c <= '\xFF' => @"\x" + ((int)c).ToString("X2", CultureInfo.InvariantCulture),
                _ => @"\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture),
            });
        }

        return shown.ToString();
    }

    private static bool Hidden(char c) => char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c)
        is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;
}

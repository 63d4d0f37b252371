using AccessControl.Display;

namespace AccessControl.Cli;

/// <summary>Rows of cells as a table with aligned columns, for a person to read (the commands' <c>--json</c> is for programs).</summary>
public static class TextTable
{
    /// <summary>
    /// Writes <paramref name="table"/> (the header first), each column as wide as its widest cell, two spaces apart. Cells
    /// are shown through <see cref="TerminalText"/>: a cell with a newline or an escape sequence would forge a row.
    /// </summary>
    public static void Write(IReadOnlyList<string[]> table, TextWriter output)
    {
        var rows = table.Select(row => row.Select(TerminalText.Show).ToArray()).ToList();
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        foreach (var row in rows)
        {
            var cells = row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]));
            output.WriteLine(string.Join("  ", cells).TrimEnd());
        }
    }
}

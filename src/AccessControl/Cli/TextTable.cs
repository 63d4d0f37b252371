namespace AccessControl.Cli;

/// <summary>Rows of cells as a table with aligned columns, for a person to read (the commands' <c>--json</c> is for programs).</summary>
public static class TextTable
{
    /// <summary>Writes <paramref name="rows"/> (the header first), each column as wide as its widest cell, two spaces apart.</summary>
    public static void Write(IReadOnlyList<string[]> rows, TextWriter output)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        foreach (var row in rows)
        {
            var cells = row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]));
            output.WriteLine(string.Join("  ", cells).TrimEnd());
        }
    }
}

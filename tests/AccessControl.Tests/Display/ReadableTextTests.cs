using AccessControl.Display;

namespace AccessControl.Tests.Display;

/// <summary>
/// The one rule for names and other free text an operator reads: no character that would make it look other than it is
/// (a bidi override turns "Alice\u202Egpj.exe" into "Aliceexe.jpg"), and every script's letters.
/// </summary>
public class ReadableTextTests
{
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("Alice\u202Egpj.exe", "U+202E (right-to-left override) at character 6")]
    [InlineData("\u202AAlice", "U+202A (left-to-right embedding) at character 1")]
    [InlineData("Ali\u202Dce", "U+202D (left-to-right override) at character 4")]
    [InlineData("Bob \u2066Alice\u2069", "U+2066 (left-to-right isolate) at character 5")]
    [InlineData("Bob\u2067x", "U+2067 (right-to-left isolate)")]
    [InlineData("Bob\u2068x", "U+2068 (first strong isolate)")]
    [InlineData("Bob\u200Ex", "U+200E (left-to-right mark)")]
    [InlineData("Bob\u200Fx", "U+200F (right-to-left mark)")]
    [InlineData("Bob\u061Cx", "U+061C (Arabic letter mark)")]
    [InlineData("Al\u200Bice", "U+200B (zero-width space)")]
    [InlineData("Al\u200Cice", "U+200C (zero-width non-joiner)")]
    [InlineData("Al\u200Dice", "U+200D (zero-width joiner)")]
    [InlineData("\uFEFFAlice", "U+FEFF (zero-width no-break space (byte order mark))")]
    [InlineData("Alice\u2028Bob", "U+2028 (line separator)")]
    [InlineData("Alice\x1B[2J", "U+001B (a control character) at character 6")]
    [InlineData("Alice\u0085", "U+0085 (a control character)")]
    [InlineData("Alice\U000E0041", "U+E0041 (an invisible format character)")]   // a tag character: invisible ASCII
    public void Problem_OfTextWithABidiControlOrInvisibleCharacter_NamesTheCharacterAndWhereItIs(string text, string named)
    {
        var problem = ReadableText.Problem(text);

        Assert.NotNull(problem);
        Assert.StartsWith("must not contain control characters or invisible formatting characters", problem, StringComparison.Ordinal);
        Assert.Contains(named, problem, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-SI-10")]
    public void Problem_OfTextWithALoneSurrogate_NamesIt() =>
        Assert.EndsWith("U+D800 (a lone surrogate) at character 6", ReadableText.Problem("Alice\uD800"), StringComparison.Ordinal);

    [Theory]
    [InlineData("José María Pérez-García")]
    [InlineData("Åsa Ødegård")]
    [InlineData("Işıl Çelik")]
    [InlineData("O'Brien")]
    [InlineData("山田 太郎")]
    [InlineData("김민준")]
    [InlineData("محمد عبد الله")]     // right-to-left letters display right to left without any control
    [InlineData("דוד כהן")]
    [InlineData("Дмитрий Иванов")]
    [InlineData("Kältetechnik Rhein-Main GmbH")]
    public void Problem_OfNamesInAnyScript_IsNone(string name) => Assert.Null(ReadableText.Problem(name));

    /// <summary>Text the service composes from a file's or a peer's (a reason naming a site file) is stored with '?' where a name would be refused.
    /// (Escaped in the attributes: a lone surrogate does not survive an attribute's UTF-8.)</summary>
    [Theory]
    [Trait("control", "NIST-SI-10")]
    [InlineData("by site-file:a\\u202Eb.yaml", "by site-file:a?b.yaml")]
    [InlineData("x\\u200Dy\\r\\n", "x?y??")]
    [InlineData("cut \\uD83D", "cut ?")]
    [InlineData("Jos\\u00E9 \\uD83D\\uDE00 \\u05D0", "Jos\\u00E9 \\uD83D\\uDE00 \\u05D0")]
    public void Replaced_ReadsEveryRefusedCharacterAsAQuestionMark_AndKeepsLetters(string text, string expected)
    {
        var replaced = ReadableText.Replaced(System.Text.RegularExpressions.Regex.Unescape(text));

        Assert.Equal(System.Text.RegularExpressions.Regex.Unescape(expected), replaced);
        Assert.Null(ReadableText.Problem(replaced));
    }
}

using AccessControl.SiteFiles;
using static AccessControl.Tests.SiteFiles.SiteFileText;

namespace AccessControl.Tests.SiteFiles;

public class SiteFileSyntaxTests
{
    [Fact]
    public void Parse_UnterminatedQuote_IsASyntaxErrorWithItsLine()
    {
        var yaml = With("name: Office hours", "name: \"Office hours");

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal(PositionOf(yaml, "\"Office hours").Line, error.Line);
    }

    [Fact]
    public void Parse_BadIndentation_IsASyntaxErrorWithItsLine()
    {
        var yaml = With("    holidays: [2026-12-24", "     holidays: [2026-12-24");

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal(PositionOf(yaml, "     holidays").Line, error.Line);
    }

    [Fact]
    public void Parse_TabIndentation_IsReportedOnTheLineWithTheTab()
    {
        var yaml = "version: 1\nsite:\n  id: fra1\n\tname: Frankfurt 1\n  timeZone: Europe/Berlin\n";

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal((4, 1), (error.Line, error.Column));
    }

    [Fact]
    public void Parse_TabIndentationOfAMapping_IsReportedOnTheLineWithTheTab()
    {
        var yaml = "version: 1\nsite:\n\tid: fra1\n";

        var error = SingleError(Parse(yaml));

        Assert.Equal((3, 1), (error.Line, error.Column));
    }

    [Fact]
    public void Parse_UnclosedFlowList_IsASyntaxErrorNotAnException()
    {
        // YamlDotNet throws InvalidOperationException for this one; the loader turns it into an error near the list.
        var yaml = With("holidays: [2026-12-24, 2026-12-25]", "holidays: [2026-12-24, 2026-12-25");

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal(PositionOf(yaml, "holidays: [").Line, error.Line);
    }

    [Fact]
    public void Parse_DuplicateKey_IsASyntaxErrorAtTheSecondKey()
    {
        var yaml = With("name: Hall door,", "name: Hall door, name: Other,");

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal(PositionOf(yaml, "name: Other").Line, error.Line);
        Assert.Contains("Duplicate key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AKeyGivenTwice_OnceWithATag_IsRefused_NotReadAsTheSecondValue()
    {
        // YamlDotNet compares keys with their tags, so '!!str antiPassback' is not a duplicate of 'antiPassback' to it:
        // read by key name, the second would silently turn the hall's hard anti-passback off behind the first.
        var yaml = With("antiPassback: hard,", "antiPassback: hard, !!str antiPassback: off,");

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal(PositionOf(yaml, "!!str").Line, error.Line);
        Assert.Equal(PositionOf(yaml, "!!str").Column, error.Column);
        Assert.Contains("tags (!!str) are not supported", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("antiPassback: hard,", "antiPassback: !!null hard,", "!!null")]
    [InlineData("parent: bldg, securityLevel: 3", "parent: !!str null, securityLevel: 3", "!!str")]
    [InlineData("name: Hall door,", "name: !!binary SGFsbA==,", "!!binary")]
    [InlineData("holidays: [2026-12-24,", "holidays: !!set [2026-12-24,", "!!set")]
    [InlineData("name: Hall door,", "name: !local Hall door,", "!local")]
    public void Parse_ATaggedValue_IsRefusedAtTheTag_BecauseOtherYamlToolsReadItDifferently(string oldText, string newText, string tag)
    {
        var yaml = With(oldText, newText);

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal(PositionOf(yaml, tag), (error.Line, error.Column));
        Assert.Contains("tags", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DeepNesting_IsRejectedWithoutOverflowingTheStack()
    {
        var yaml = "version: 1\nsite: " + new string('[', 100_000) + new string(']', 100_000) + "\n";

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Contains("nesting", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_AnAlias_IsRefusedAtItsLine()
    {
        var yaml = With("accessLevels: [building, hall-office] }", "accessLevels: &alice [building, hall-office] }")
            .Replace("status: suspended, accessLevels: [building] }", "status: suspended, accessLevels: *alice }", StringComparison.Ordinal);

        var error = SingleError(Parse(yaml));

        Assert.Equal("(yaml)", error.Path);
        Assert.Equal(PositionOf(yaml, "*alice").Line, error.Line);
        Assert.Contains("aliases (*alice) are not supported", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ASmallFileOfAliasesToAliases_IsRefusedBeforeItIsExpanded()
    {
        // 30 lines of aliases, each twice the one before: read as a node tree, 2^30 sequences.
        var bomb = new System.Text.StringBuilder("x0: &a0 [lol]\n");
        for (var i = 1; i <= 30; i++)
        {
            bomb.Append($"x{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n");
        }

        var result = Parse(Valid + bomb);

        Assert.False(result.Success);
        Assert.Equal(60, result.Errors.Length);
        Assert.All(result.Errors, e => Assert.Contains("aliases", e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_AFileWithThousandsOfErrors_ListsTheFirstThousandAndCountsTheRest()
    {
        var people = string.Concat(Enumerable.Range(0, 1500).Select(i => $"  - {{ id: p-{i}, name: P {i}, kind: employee, accessLevels: [nowhere] }}\n"));
        var yaml = With("people:\n", "people:\n" + people);

        var result = Parse(yaml);

        Assert.Equal(1001, result.Errors.Length);
        Assert.Equal("and 500 more errors not listed; fix these first", result.Errors[^1].Message);
        Assert.All(result.Errors.SkipLast(1), e => Assert.Contains("nowhere", e.Message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("# nothing but a comment\n")]
    public void Parse_EmptyFile_IsAnError(string yaml)
    {
        var error = SingleError(Parse(yaml));

        Assert.Equal("(root)", error.Path);
        Assert.Equal(1, error.Line);
    }

    [Fact]
    public void Parse_TwoDocuments_IsAnError()
    {
        var yaml = Valid + "---\nversion: 1\n";

        var error = SingleError(Parse(yaml));

        Assert.Equal("(root)", error.Path);
        Assert.Equal(PositionOf(yaml, "---").Line + 1, error.Line);
    }

    [Fact]
    public void Parse_RootIsAList_IsAnError()
    {
        var error = SingleError(Parse("- version: 1\n"));

        Assert.Equal("(root)", error.Path);
        Assert.Contains("found a list", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnsupportedVersion_StopsWithThatOneError()
    {
        var yaml = With("version: 1", "version: 2")
            .Replace("timeZone: Europe/Berlin", "timeZone: nowhere", StringComparison.Ordinal)
            .Replace("credentials:", "cards:", StringComparison.Ordinal);

        var error = SingleError(Parse(yaml));

        Assert.Equal("version", error.Path);
        Assert.Equal(1, error.Line);
        Assert.Contains("unsupported version '2'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MissingVersion_IsAnError()
    {
        var yaml = With("version: 1\n", "");

        var error = SingleError(Parse(yaml));

        Assert.Equal("version", error.Path);
        Assert.Contains("required key 'version' is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_ReturnsOneErrorInsteadOfThrowing()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "no-such-dir", "missing-site.yaml");

        var result = SiteFileLoader.Load(path);

        Assert.Null(result.Site);
        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.File);
        Assert.Equal("(file)", error.Path);
        Assert.Equal(0, error.Line);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Directory_ReturnsOneErrorInsteadOfThrowing()
    {
        var result = SiteFileLoader.Load(AppContext.BaseDirectory);

        Assert.Null(result.Site);
        Assert.Equal("(file)", Assert.Single(result.Errors).Path);
    }

    [Fact]
    public void Load_FileThatIsNotUtf8_ReturnsOneError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"site-{Guid.NewGuid():N}.yaml");
        File.WriteAllBytes(path, [0x76, 0x65, 0x72, 0xFF, 0xFE, 0x3A]);
        try
        {
            var error = Assert.Single(SiteFileLoader.Load(path).Errors);

            Assert.Contains("UTF-8", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_ValidFile_NamesTheFileInErrorsAndLoadsTheModel()
    {
        var path = Path.Combine(Path.GetTempPath(), $"site-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Valid);
        try
        {
            Assert.True(SiteFileLoader.Load(path).Success);

            File.WriteAllText(path, With("to: hall,", "to: hal,"));
            var error = Assert.Single(SiteFileLoader.Load(path).Errors);
            Assert.Equal(path, error.File);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

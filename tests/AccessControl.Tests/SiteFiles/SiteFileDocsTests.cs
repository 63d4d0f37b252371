using System.Text.RegularExpressions;
using AccessControl.SiteFiles;

namespace AccessControl.Tests.SiteFiles;

/// <summary>The examples in docs/site-file.md are real: every complete example in it loads without errors.</summary>
public partial class SiteFileDocsTests
{
    private static readonly string DocPath = Path.Combine(AppContext.BaseDirectory, "docs", "site-file.md");

    public static TheoryData<int> CompleteExamples()
    {
        var data = new TheoryData<int>();
        var count = YamlBlocks().Count;
        for (var i = 0; i < count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    private static List<string> YamlBlocks() =>
        [.. YamlBlock().Matches(File.ReadAllText(DocPath)).Select(m => m.Groups[1].Value).Where(y => y.StartsWith("version:", StringComparison.Ordinal))];

    [Fact]
    public void SiteFileDoc_HasACompleteExample()
    {
        Assert.NotEmpty(YamlBlocks());
    }

    [Theory]
    [MemberData(nameof(CompleteExamples))]
    public void SiteFileDoc_CompleteExample_LoadsWithoutErrors(int index)
    {
        var result = SiteFileLoader.Parse(YamlBlocks()[index], "docs/site-file.md");

        Assert.Empty(result.Errors);
        Assert.NotNull(result.Site);
    }

    [Fact]
    public void SiteFileDoc_CompleteExample_UsesEveryKeyOfTheFormat()
    {
        var example = YamlBlocks()[0];
        string[] keys =
        [
            "version", "site", "timeZone", "zones", "kind", "parent", "securityLevel", "antiPassback", "technologies",
            "controllers", "doors", "from", "to", "controller", "unlockSeconds", "heldOpenSeconds", "readers", "type",
            "door", "direction", "heartbeatSeconds", "schedules", "intervals", "days", "holidays", "holidayIntervals",
            "accessLevels", "schedule", "people", "status", "credentials", "card", "technology", "person", "validFrom", "validUntil",
            "escortRequired", "escortWindowSeconds", "escortMaxVisitors", "escort", "escortedOnly",
        ];

        Assert.All(keys, key => Assert.Contains(key + ":", example, StringComparison.Ordinal));
    }

    [GeneratedRegex("```yaml\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();
}

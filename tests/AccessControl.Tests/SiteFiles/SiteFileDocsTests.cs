using System.Reflection;
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
            "fingerprintLockoutAfter", "fingerprintLockoutMinutes", "visitorsWithoutFingerprint",
            "twoFactor", "fingerprintThreshold", "fingerprintTimeoutSeconds",
        ];

        Assert.All(keys, key => Assert.Contains(key + ":", example, StringComparison.Ordinal));
    }

    [Fact]
    public void SiteFileDoc_EveryKeyTheReaderAccepts_IsInTheExampleAndInATable()
    {
        // The reader's own key lists (RootKeys, SiteKeys, ZoneKeys ...) are the format: a key added there must be documented.
        var reader = typeof(SiteFileLoader).Assembly.GetType("AccessControl.SiteFiles.SiteFileReader", throwOnError: true)!;
        var lists = reader.GetFields(BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.Name.EndsWith("Keys", StringComparison.Ordinal) && f.FieldType == typeof(string[]))
            .ToDictionary(f => f.Name, f => (string[])f.GetValue(null)!);
        var doc = File.ReadAllText(DocPath);
        var example = YamlBlocks()[0];

        Assert.Contains("fingerprintThreshold", lists["ZoneKeys"]);
        Assert.All(lists, list => Assert.All(list.Value, key =>
        {
            Assert.Contains(key + ":", example, StringComparison.Ordinal);

            // Top-level keys are the sections; every other key is a row of its section's table.
            Assert.Contains(list.Key == "RootKeys" ? $"### {key}\n" : $"| `{key}` |", doc, StringComparison.Ordinal);
        }));
    }

    [GeneratedRegex("```yaml\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex YamlBlock();
}

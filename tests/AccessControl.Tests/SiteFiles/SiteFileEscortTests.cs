using AccessControl.SiteFiles;
using AccessControl.Sites;
using NodaTime;
using static AccessControl.Tests.SiteFiles.SiteFileText;

namespace AccessControl.Tests.SiteFiles;

/// <summary>The escort keys of the site file: zones' <c>escortRequired</c> and its two numbers, levels' <c>escort</c> and <c>escortedOnly</c>.</summary>
public class SiteFileEscortTests
{
    private const string Hall = "{ id: hall, name: Hall, kind: data-hall, parent: bldg, securityLevel: 3, antiPassback: hard, technologies: [desfire-ev3] }";
    private const string HallLevel = "{ id: hall-office, name: Hall in office hours, zones: [hall], schedule: office }";

    private static string WithHall(string keys) => With(Hall, Hall[..^2] + ", " + keys + " }");

    private static string WithHallLevel(string keys) => With(HallLevel, HallLevel[..^2] + ", " + keys + " }");

    private static SiteDefinition Load(string yaml)
    {
        var result = Parse(yaml);
        Assert.Empty(result.Errors);
        return result.Site!;
    }

    /// <summary>Asserts one error, for <paramref name="path"/>, at the value of the first <paramref name="keyAndValue"/> (<c>key: value</c>).</summary>
    private static SiteFileError OneError(string yaml, string path, string keyAndValue, string fragment)
    {
        var error = SingleError(Parse(yaml));
        var (line, column) = PositionOf(yaml, keyAndValue);
        var valueOffset = keyAndValue.Contains(": ", StringComparison.Ordinal) ? keyAndValue.IndexOf(": ", StringComparison.Ordinal) + 2 : 0;
        Assert.Equal(path, error.Path);
        Assert.Equal((line, column + valueOffset), (error.Line, error.Column));
        Assert.Contains(fragment, error.Message, StringComparison.Ordinal);
        return error;
    }

    // ---- zones --------------------------------------------------------------------------------------------

    [Fact]
    public void Parse_ZoneWithoutEscortKeys_IsNotEscortRequired()
    {
        var site = Load(Valid);

        Assert.All(site.Topology.Zones.Values, z => Assert.False(z.EscortRequired));
        Assert.All(site.AccessLevels, l => Assert.False(l.Escort || l.EscortedOnly));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public void Parse_EscortRequired_TakesTheDefaultWindowAndNumberOfPeople()
    {
        var site = Load(WithHall("escortRequired: true"));

        var hall = site.Topology.Zones[new ZoneId("hall")];
        Assert.True(hall.EscortRequired);
        Assert.Equal(new EscortPolicy(Duration.FromSeconds(10), 3), hall.Escort);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Parse_EscortRequired_WithItsOwnWindowAndNumberOfPeople()
    {
        var site = Load(WithHall("escortRequired: true, escortWindowSeconds: 20, escortMaxVisitors: 1"));

        Assert.Equal(new EscortPolicy(Duration.FromSeconds(20), 1), site.Topology.Zones[new ZoneId("hall")].Escort);
    }

    [Fact]
    public void Parse_EscortRequiredFalse_IsNotEscortRequired()
    {
        Assert.Null(Load(WithHall("escortRequired: false")).Topology.Zones[new ZoneId("hall")].Escort);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("True")]
    [InlineData("1")]
    [InlineData("on")]
    public void Parse_EscortRequiredNotTrueOrFalse_IsAnErrorAtTheValue(string value)
    {
        var yaml = WithHall($"escortRequired: {value}");

        OneError(yaml, "zones[2].escortRequired", $"escortRequired: {value}", "must be true or false");
    }

    [Theory]
    [InlineData("escortWindowSeconds: 0", "escortWindowSeconds", "from 1 to 120")]
    [InlineData("escortWindowSeconds: 121", "escortWindowSeconds", "from 1 to 120")]
    [InlineData("escortWindowSeconds: ten", "escortWindowSeconds", "a whole number of seconds")]
    [InlineData("escortMaxVisitors: 0", "escortMaxVisitors", "from 1 to 20")]
    [InlineData("escortMaxVisitors: 21", "escortMaxVisitors", "from 1 to 20")]
    public void Parse_EscortNumbersOutOfRange_AreErrorsAtTheNumber(string keys, string key, string fragment)
    {
        var yaml = WithHall("escortRequired: true, " + keys);

        OneError(yaml, $"zones[2].{key}", keys, fragment);
    }

    [Theory]
    [InlineData("escortWindowSeconds: 20", "escortWindowSeconds")]
    [InlineData("escortMaxVisitors: 2", "escortMaxVisitors")]
    [InlineData("escortRequired: false, escortMaxVisitors: 2", "escortMaxVisitors")]
    public void Parse_EscortNumbersWithoutEscortRequired_AreErrors_NotSettingsSilentlyIgnored(string keys, string key)
    {
        var yaml = WithHall(keys);

        OneError(yaml, $"zones[2].{key}", keys[keys.IndexOf(key, StringComparison.Ordinal)..], "applies only to a zone with escortRequired: true");
    }

    [Fact]
    public void Parse_MisspeltEscortKey_SuggestsTheRightOne()
    {
        var yaml = WithHall("escortRequierd: true");

        var error = OneError(yaml, "zones[2].escortRequierd", "escortRequierd", "unknown key"); // at the key

        Assert.Contains("did you mean 'escortRequired'?", error.Message, StringComparison.Ordinal);
    }

    // ---- access levels ----------------------------------------------------------------------------------

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void Parse_LevelWithEscort_GivesEscortPrivilege()
    {
        var level = Assert.Single(Load(WithHallLevel("escort: true")).AccessLevels, l => l.Id.Value == "hall-office");

        Assert.True(level.Escort);
        Assert.False(level.EscortedOnly);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Parse_LevelWithEscortedOnly_GivesAccessOnlyUnderEscort()
    {
        var level = Assert.Single(Load(WithHallLevel("escortedOnly: true")).AccessLevels, l => l.Id.Value == "hall-office");

        Assert.False(level.Escort);
        Assert.True(level.EscortedOnly);
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public void Parse_LevelBothEscortAndEscortedOnly_IsAnErrorAtEscortedOnly()
    {
        var yaml = WithHallLevel("escort: true, escortedOnly: true");

        OneError(yaml, "accessLevels[1].escortedOnly", "escortedOnly: true", "cannot be both escort and escortedOnly");
    }

    [Fact]
    public void Parse_LevelEscortNotABoolean_IsAnError()
    {
        var yaml = WithHallLevel("escort: sometimes");

        OneError(yaml, "accessLevels[1].escort", "escort: sometimes", "must be true or false");
    }

    [Fact]
    public void Parse_LevelWithEscortFalse_IsAnOrdinaryLevel()
    {
        var level = Assert.Single(Load(WithHallLevel("escort: false, escortedOnly: false")).AccessLevels, l => l.Id.Value == "hall-office");

        Assert.False(level.Escort || level.EscortedOnly);
    }
}

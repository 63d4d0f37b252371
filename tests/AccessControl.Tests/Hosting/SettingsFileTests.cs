using AccessControl.Hosting;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// A settings file the service cannot use stops the start (and <c>log purge</c>) with a sentence that lets the operator
/// fix it: which file, and where in it the mistake is.
/// </summary>
public sealed class SettingsFileTests
{
    [Fact]
    public async Task Load_OfASettingsFileThatIsNotJson_NamesTheFileAndTheLineOfTheMistake()
    {
        using var folder = new DataFolder();
        var file = Path.Combine(folder.Path, "appsettings.json");
        // The comma after line 3 forgotten, as a hand edit that adds a setting leaves it: the parser stops on line 4.
        await File.WriteAllTextAsync(file, "{\n \"AccessControl\": {\n  \"HttpUrl\": \"http://127.0.0.1:8080\"\n  \"Broker\": { \"Port\": 1884 }\n }\n}\n");

        var refusal = Assert.Throws<SettingsException>(() => ServiceSettings.Load(file));

        Assert.Contains(file, refusal.Message, StringComparison.Ordinal);
        Assert.Contains("is not valid JSON", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("line 4", refusal.Message, StringComparison.Ordinal);
    }
}

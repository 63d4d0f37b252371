using System.Text.RegularExpressions;
using AccessControl.Broker;
using AccessControl.Hosting;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using NodaTime.Testing;

namespace AccessControl.Tests.Docs;

/// <summary>
/// The operator's documents and the service's HTTP route table agree: every <c>/api/v1</c> path a document names is
/// one the service answers, and every path the service answers is named in docs/operations.md, where an operator looks.
/// </summary>
public sealed partial class OperationsDocTests
{
    [Fact]
    public async Task ApiPathsNamedInTheDocs_AreAllInTheRouteTable()
    {
        var routes = await RouteTemplatesAsync();
        var documents = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "docs"), "*.md").Append(Path.Combine(AppContext.BaseDirectory, "README.md"));

        var unknown = documents
            .SelectMany(file => DocumentedPaths(File.ReadAllText(file)).Select(path => $"{Path.GetFileName(file)}: {path}"))
            .Where(named => !routes.Contains(Normalize(named[(named.IndexOf(": ", StringComparison.Ordinal) + 2)..])))
            .ToList();

        Assert.NotEmpty(routes);
        Assert.True(unknown.Count == 0, "named in the docs but not answered by the service:\n" + string.Join("\n", unknown));
    }

    [Fact]
    public async Task EveryRouteOfTheService_IsNamedInOperationsDoc()
    {
        var documented = DocumentedPaths(File.ReadAllText(ProtocolDocs.PathOf("operations.md"))).Select(Normalize).ToHashSet(StringComparer.Ordinal);

        var missing = (await RouteTemplatesAsync()).Where(route => !documented.Contains(route)).Order(StringComparer.Ordinal).ToList();

        Assert.True(missing.Count == 0, "answered by the service but named nowhere in docs/operations.md:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void CommandsNamedInTheOperatorDocs_AreCommandsTheCliKnows()
    {
        var known = Cli.AdminCommands.Names.Concat(ServiceCommands.Names).ToHashSet(StringComparer.Ordinal);
        var documents = new[] { ProtocolDocs.PathOf("operations.md"), Path.Combine(AppContext.BaseDirectory, "README.md"),
            Path.Combine(AppContext.BaseDirectory, "deploy", "mosquitto", "README.md") };

        var unknown = documents
            .SelectMany(file => Command().Matches(File.ReadAllText(file)).Select(m => (File: Path.GetFileName(file), Word: m.Groups[1].Value)))
            .Where(named => !known.Contains(named.Word))
            .Select(named => $"{named.File}: accesscontrol {named.Word}")
            .ToList();

        Assert.True(unknown.Count == 0, "commands the CLI does not know:\n" + string.Join('\n', unknown));
    }

    [Fact]
    public void TheUsageText_ListsEveryCommand()
    {
        var missing = Cli.AdminCommands.Names.Concat(ServiceCommands.Names)
            .Where(name => !Regex.IsMatch(ServiceCommands.Usage, $@"^  (\S+\|)?{Regex.Escape(name)}[ |]", RegexOptions.Multiline))
            .ToList();

        Assert.True(missing.Count == 0, "commands 'accesscontrol' runs but its usage does not list: " + string.Join(", ", missing));
    }

    [Fact]
    public void EverySetting_HasARowInTheSettingsReference()
    {
        var rows = SettingsRow().Matches(File.ReadAllText(ProtocolDocs.PathOf("operations.md"))).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

        var missing = Settings(typeof(ServiceSettings), new ServiceSettings(), "").Where(setting => !rows.Contains(setting.Key)).ToList();

        Assert.True(missing.Count == 0, "settings with no row in the settings reference of docs/operations.md (key | environment variable | default):\n"
            + string.Join('\n', missing.Select(s => $"| `{s.Key}` | `{ServiceSettings.Section}__{s.Key.Replace(":", "__", StringComparison.Ordinal)}` | `{s.Default}` |")));
    }

    /// <summary>Every setting the binder fills, as its configuration key under <c>AccessControl</c>, with its default.</summary>
    private static IEnumerable<(string Key, string? Default)> Settings(Type type, object? defaults, string prefix)
    {
        foreach (var property in type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance).Where(p => p.CanWrite))
        {
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var value = defaults is null ? null : property.GetValue(defaults);
            if (propertyType.IsClass && propertyType != typeof(string) && propertyType.Namespace?.StartsWith("AccessControl", StringComparison.Ordinal) == true)
            {
                foreach (var nested in Settings(propertyType, value ?? Activator.CreateInstance(propertyType), $"{prefix}{property.Name}:"))
                {
                    yield return nested;
                }
            }
            else
            {
                yield return ($"{prefix}{property.Name}", value?.ToString());
            }
        }
    }

    private static IEnumerable<string> DocumentedPaths(string text) =>
        ApiPath().Matches(text).Select(m => m.Value.TrimEnd('.', '/'));

    /// <summary>Parameters compared by position only: <c>{id:long}</c>, <c>{templateId}</c> and <c>{readers|doors}</c> are all <c>{}</c>.</summary>
    private static string Normalize(string path) => Parameter().Replace(path, "{}");

    private static async Task<HashSet<string>> RouteTemplatesAsync()
    {
        using var folder = new DataFolder();
        await File.WriteAllTextAsync(Path.Combine(folder.Path, "provisioning.key"), Convert.ToBase64String(global::AccessControl.Devices.DeviceSecrets.NewKey()));
        var settings = new ServiceSettings
        {
            DataDirectory = folder.Path,
            SiteFile = EdgeHarness.DemoSiteFile,
            HttpUrl = "http://127.0.0.1:0",
            Broker = new BrokerOptions { Port = 0 },
            SupervisionInterval = TimeSpan.FromDays(1),
        };
        await using var host = AccessControlHost.Create(settings, new FakeClock(EdgeHarness.BusinessHours), RealTime.Instance);
        return host.RoutePatterns.Select(Normalize).ToHashSet(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"/api/v1/[A-Za-z0-9_{}|/.-]+")]
    private static partial Regex ApiPath();

    /// <summary><c>accesscontrol WORD</c> where it is a command line, not a path such as <c>/etc/accesscontrol deploy/...</c>.</summary>
    [GeneratedRegex(@"(?<![/\w.-])accesscontrol ([a-z][a-z-]*)")]
    private static partial Regex Command();

    /// <summary>A row of the settings reference: its first cell is the key, in backticks.</summary>
    [GeneratedRegex(@"^\| `([A-Za-z:]+)` \|", RegexOptions.Multiline)]
    private static partial Regex SettingsRow();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Parameter();
}

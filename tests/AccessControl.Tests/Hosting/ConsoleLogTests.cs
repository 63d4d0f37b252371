using AccessControl.Hosting;
using AccessControl.Lab.Bench;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// The service's console log shows what others wrote (client ids, file names, actors, exception messages) without
/// letting a terminal or journald act on it: a crafted value cannot overwrite, erase, reorder or forge a line.
/// </summary>
public sealed class ConsoleLogTests
{
    private const string Crafted = "x\r\n12:00:00 info: forged\x1B[2K\u202Eevil";
    private const string Shown = @"x\r\n12:00:00 info: forged\x1B[2K\u202Eevil";

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void AMessageAndAnExceptionHoldingControlCharacters_AreWrittenOnOneLine_WithThoseCharactersEscaped()
    {
        var formatter = new ConsoleLogFormatter(RealTime.Instance, timestampFormat: null);
        var output = new StringWriter();
        var message = $"Broker refused connect from client '{Crafted}'";

        formatter.Write(Entry(LogLevel.Warning, message, new FormatException(Crafted)), null, output);

        Assert.Equal(
            $"warn: AccessControl.Hosting.EdgeService[7] Broker refused connect from client '{Shown}' System.FormatException: {Shown}\n",
            output.ToString());
    }

    [Fact]
    public void OrdinaryText_IsWrittenAsTheSimpleSingleLineFormatWroteIt()
    {
        var formatter = new ConsoleLogFormatter(RealTime.Instance, timestampFormat: null);
        var output = new StringWriter();

        formatter.Write(Entry(LogLevel.Information, "Site file demo.yaml: 3 people (ü, 名前) imported", null), null, output);

        Assert.Equal("info: AccessControl.Hosting.EdgeService[7] Site file demo.yaml: 3 people (ü, 名前) imported\n", output.ToString());
    }

    /// <summary>The service as <c>accesscontrol run</c> starts it, logging the name of a site file that someone named with a terminal's escape sequences.</summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task Run_LogsASiteFileNamedWithControlCharacters_Escaped()
    {
        var data = Directory.CreateTempSubdirectory("ac-console-").FullName;
        var sites = Directory.CreateTempSubdirectory("ac-console-site-").FullName;
        try
        {
            var site = Path.Combine(sites, Crafted + ".yaml");
            File.Copy(EdgeHarness.DemoSiteFile, site);
            await using var service = await ChildProcess.StartAsync("accesscontrol.dll",
                ["run", "--site", site, "--data", data, "--broker-port", "0", "--http", "http://127.0.0.1:0"], "evil.yaml: ");
            var line = service.ReadyLine;
            await service.StopAsync();

            Assert.Contains(Shown + ".yaml: ", line, StringComparison.Ordinal);
            Assert.DoesNotContain('\x1B', line);
            Assert.DoesNotContain('\u202E', line);
            Assert.Contains("info: AccessControl.Hosting.EdgeService[0] Site file ", line, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
            Directory.Delete(sites, recursive: true);
        }
    }

    private static LogEntry<string> Entry(LogLevel level, string message, Exception? exception) =>
        new(level, "AccessControl.Hosting.EdgeService", new EventId(7), message, exception, (state, _) => state);
}

using System.Net;
using System.Text;
using System.Text.Json;
using AccessControl.Cli;

namespace AccessControl.Tests.Admin;

/// <summary>
/// What the CLI prints that the server sent (a problem's title, detail and field errors, which may quote what someone
/// typed) cannot move the operator's cursor, erase a line, start a forged one or reorder the text after it. JSON
/// carries an ESC as <c>\u001b</c>, and the CLI's parser gives it back as the character itself.
/// </summary>
public sealed class CliServerTextTests
{
    private const string Crafted = "x\r\nerror: forged\x1B[2K\u202Eevil";
    private const string Shown = @"x\r\nerror: forged\x1B[2K\u202Eevil";

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task RemoteCommand_Refused_PrintsTheProblemsTitleDetailAndFieldErrors_WithControlCharactersEscaped()
    {
        var problem = JsonSerializer.Serialize(new
        {
            title = "Refused " + Crafted,
            detail = "because " + Crafted,
            code = "bad",
            errors = new[] { new { field = "name" + Crafted, message = "is " + Crafted } },
        });
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await RemoteCommands.RunAsync("person", Args("add", "p-7", "--name", "K", "--kind", "employee"), output, error,
            Environment, new Answering(HttpStatusCode.BadRequest, problem));

        Assert.Equal(1, code);
        Assert.Equal(
            [$"error: 400 Refused {Shown} [bad]: because {Shown}", $"  name{Shown}: is {Shown}"],
            error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task RemoteCommand_AnAnswerThatIsNotTheServicesJson_IsPrintedWithControlCharactersEscaped()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await RemoteCommands.RunAsync("person", Args("show", "p-7"), output, error, Environment, new Answering(HttpStatusCode.OK, Crafted));

        Assert.Equal(0, code);
        Assert.Equal(Shown + "\n", output.ToString());
    }

    /// <summary>
    /// The service's JSON escapes every non-ASCII letter ("Jos\u00E9"): printed as it came, a visitor's name is unreadable at
    /// the front desk. The CLI prints the letters, and only the letters: controls and bidi characters stay escapes.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task VisitShow_PrintsAccentedAndOtherScriptsLettersReadably_AndControlAndBidiCharactersStillEscaped()
    {
        var visit = JsonSerializer.Serialize(new { id = 1, visitors = new[] { new { name = "José Ødegård 山田", organization = "Org " + Crafted } } });
        Assert.Contains(@"Jos\u00E9", visit, StringComparison.Ordinal); // as the service sends it
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await VisitCommands.RunAsync(Args("show", "1"), TextReader.Null, output, error, Environment, new Answering(HttpStatusCode.OK, visit));

        Assert.Equal(0, code);
        var printed = output.ToString();
        Assert.Contains("\"name\": \"José Ødegård 山田\"", printed, StringComparison.Ordinal);
        Assert.Contains(@"""organization"": ""Org x\r\nerror: forged\u001B[2K\u202Eevil""", printed, StringComparison.Ordinal);
        Assert.DoesNotContain(printed, c => (char.IsControl(c) && c != '\n') || c == '\u202E');
        Assert.Equal("José Ødegård 山田", JsonDocument.Parse(printed).RootElement.GetProperty("visitors")[0].GetProperty("name").GetString());
    }

    /// <summary>
    /// The desk's tables show a visitor's name and organization as the service's answer has them: "Alice\u202Egpj.exe"
    /// (stored by an older version, or sent by whatever answers at the address) would read "Aliceexe.jpg" and reorder the
    /// rest of the row; the table prints the override as an escape, and no control character either.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task VisitOnSiteAndOverdue_PrintNamesInTheirTables_WithBidiAndControlCharactersEscaped()
    {
        var visitor = new { visit = 7, visitor = 1, name = "Alice\u202Egpj.exe", organization = "Org " + Crafted, host = "p-jweber", badge = "04BADE000000A1",
            checkedInAt = "2026-10-24T21:00:00Z", windowEndsAt = "2026-10-25T05:00:00Z", windowEndedAt = "2026-10-25T05:00:00Z", zones = new[] { "demo-dh1" }, escorts = Array.Empty<string>(), anyEscort = true };
        var answer = JsonSerializer.Serialize(new[] { visitor });
        var printed = new List<string>();

        foreach (var verb in new[] { "on-site", "overdue" })
        {
            var (output, error) = (new StringWriter(), new StringWriter());
            var code = await VisitCommands.RunAsync(Args(verb), TextReader.Null, output, error, Environment, new Answering(HttpStatusCode.OK, answer));
            Assert.True(code == 0, error.ToString());
            printed.Add(output.ToString());
        }

        foreach (var table in printed)
        {
            var lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, lines.Length);
            Assert.Contains("ORGANIZATION", lines[0], StringComparison.Ordinal);
            Assert.Contains(@"Alice\u202Egpj.exe  Org " + Shown + "  p-jweber", lines[1], StringComparison.Ordinal);
            Assert.DoesNotContain(table, c => (char.IsControl(c) && c != '\n') || c == '\u202E');
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task FingerprintReconcile_PrintsNamesAndIdsFromTheServer_WithControlCharactersEscaped()
    {
        var reconciliation = JsonSerializer.Serialize(new
        {
            at = "2025-03-03T10:00:00Z",
            orphans = new[] { new { template = new { templateId = "t-1", personId = "p-" + Crafted, finger = "left-index" }, reason = "person_left" } },
            notEnrolled = new[] { new { personId = "p-2", name = "Ada " + Crafted, twoFactorZones = new[] { "z-" + Crafted } } },
            unusedSince = "2024-12-03T10:00:00Z",
            unused = Array.Empty<object>(),
        });
        var (output, error) = (new StringWriter(), new StringWriter());

        var code = await FingerprintCommands.RunAsync(CliArgs.Parse(["reconcile"], FingerprintCommands.Flags).Args!, output, error, Environment,
            new Answering(HttpStatusCode.OK, reconciliation));

        Assert.Equal(0, code);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        Assert.Contains($"  t-1  p-{Shown}  left-index  person_left", lines);
        Assert.Contains($"  p-2  Ada {Shown}  zones z-{Shown}", lines);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task HrImport_PrintsTheFilesBadValuesAndTheServersAnswer_WithControlCharactersEscaped()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, $"eventId,type,personId,effectiveAt,accessLevels\ne-1,x\rforged\x1B[2K\u202Eevil,p-1,,\n");
            var (output, error) = (new StringWriter(), new StringWriter());

            Assert.Equal(1, await HrCommands.RunAsync(Args("import", "--file", file), Clock, output, error, Environment, new Answering(HttpStatusCode.OK, "{}")));
            Assert.Equal(@"  line 2: type: must be termination or transfer, not 'x\rforged\x1B[2K\u202Eevil'", error.ToString().Split('\n')[1]);

            await File.WriteAllTextAsync(file, "eventId,type,personId,effectiveAt,accessLevels\ne-1,termination,p-1,,\n");
            (output, error) = (new StringWriter(), new StringWriter());
            Assert.Equal(1, await HrCommands.RunAsync(Args("import", "--file", file), Clock, output, error, Environment, new Answering(HttpStatusCode.BadRequest, Crafted)));
            Assert.Equal($"error: 400 {Shown}\n", error.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void SiteValidate_PrintsTheFilesValuesInItsErrors_WithControlCharactersEscaped()
    {
        var file = Path.GetTempFileName();
        try
        {
            var demo = File.ReadAllText(EndToEnd.EdgeHarness.DemoSiteFile);
            File.WriteAllText(file, demo.Replace("parent: demo-campus", """parent: "x\r\nforged\e[2K\u202Eevil" """, StringComparison.Ordinal));
            var output = new StringWriter();

            Assert.Equal(2, AccessControl.Hosting.ServiceCommands.ValidateSite(file, output));

            var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(@"zone 'x\r\nforged\x1B[2K\u202Eevil' is not declared", line, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static readonly NodaTime.Testing.FakeClock Clock = new(NodaTime.Instant.FromUtc(2025, 3, 3, 10, 0));

    private static string? Environment(string name) => name switch
    {
        RemoteCommands.UrlVariable => "http://127.0.0.1:9/",
        RemoteCommands.TokenVariable => "token",
        AccessControl.Hr.HrFeedKey.EnvironmentVariable => Convert.ToBase64String(new byte[32]),
        _ => null,
    };

    private static CliArgs Args(params string[] args) => CliArgs.Parse(args).Args!;

    /// <summary>Whatever answers at the address the operator gave: here, always the one answer.</summary>
    private sealed class Answering(HttpStatusCode status, string body) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/problem+json") });
    }
}

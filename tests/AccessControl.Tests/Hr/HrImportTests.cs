using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.Hr;
using AccessControl.Tests.EndToEnd;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Hr;

/// <summary><c>accesscontrol hr import --file</c>: the CSV path of the HR feed, against the running service.</summary>
public class HrImportTests
{
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-PS-5")]
    [Trait("control", "PCI-9.2")]
    public async Task Import_SignsAndSendsTheFile_AndPrintsEachOutcome()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var file = await WriteAsync(edge, """
            eventId,type,personId,effectiveAt,accessLevels
            hr-2026-000700,termination,p-mkoch,,
            hr-2026-000701,transfer,p-jweber,2026-12-01T09:30:00+01:00,lobby-24x7;datahall-business-hours

            hr-2026-000702,termination,p-aschulz,2027-01-31T18:00:00+01:00,
            """);

        var (code, output, error) = await ImportAsync(edge, "--file", file);
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(code == ExitCodes.Ok, error);
        Assert.Contains("line 2: hr-2026-000700 termination p-mkoch: applied", output, StringComparison.Ordinal);
        Assert.Contains("line 3: hr-2026-000701 transfer p-jweber: applied", output, StringComparison.Ordinal);
        Assert.Contains("line 5: hr-2026-000702 termination p-aschulz: scheduled", output, StringComparison.Ordinal);
        Assert.Equal("credential_revoked", swipe.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    public async Task Import_OfAFileWithBadLines_ListsEveryBadLine_AndSendsNothing()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var file = await WriteAsync(edge, """
            eventId,type,personId,effectiveAt,accessLevels
            hr-2026-000800,termination,p-mkoch,,
            hr-2026-000801,resignation,p-jweber,,
            hr-2026-000802,termination,p-aschulz,31.01.2027,
            hr-2026-000800,termination,p-lromano,,
            hr-2026-000803,termination,p-sbrandt,,lobby-24x7
            hr-2026-000804,transfer,p-jweber
            "hr-2026-000805,transfer,p-jweber,,
            """);

        var (code, output, error) = await ImportAsync(edge, "--file", file);
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Equal("", output);
        Assert.Contains("6 bad line(s); nothing was sent", error, StringComparison.Ordinal);
        Assert.Contains("line 3: type:", error, StringComparison.Ordinal);
        Assert.Contains("line 4: effectiveAt:", error, StringComparison.Ordinal);
        Assert.Contains("line 5: eventId: 'hr-2026-000800' is already on line 2", error, StringComparison.Ordinal);
        Assert.Contains("line 6: accessLevels: must be empty for a termination", error, StringComparison.Ordinal);
        Assert.Contains("line 7: 3 fields, expected 5", error, StringComparison.Ordinal);
        Assert.Contains("line 8: an unterminated quote", error, StringComparison.Ordinal);
        Assert.True(swipe.Grant);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.event" }));
    }

    [Fact]
    public async Task Import_ReportsEventsTheServiceRefuses_PerLine_WithAFailedExitCode()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var file = await WriteAsync(edge, """
            eventId,type,personId,effectiveAt,accessLevels
            hr-2026-000900,termination,p-nobody,,
            hr-2026-000901,transfer,p-jweber,,no-such-level
            """);

        var (code, _, error) = await ImportAsync(edge, "--file", file);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("line 2: hr-2026-000900 termination p-nobody: unknown_person", error, StringComparison.Ordinal);
        Assert.Contains("line 3: hr-2026-000901 transfer p-jweber: invalid", error, StringComparison.Ordinal);
        Assert.Contains("accessLevels[0]: no access level 'no-such-level'", error, StringComparison.Ordinal);
    }

    private static async Task<string> WriteAsync(EdgeHarness edge, string csv)
    {
        var file = Path.Combine(edge.Directory, "hr-" + Guid.NewGuid().ToString("N")[..8] + ".csv");
        await File.WriteAllTextAsync(file, csv);
        return file;
    }

    private static async Task<(int Code, string Output, string Error)> ImportAsync(EdgeHarness edge, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await AdminCommands.RunAsync(
            ["hr", "import", "--url", edge.Host.HttpAddress.ToString(), "--data", edge.Directory, .. args],
            edge.Clock, output, error, _ => null, new AccessControl.EntryLog.OsAccount("test", 1000)).WaitAsync(EdgeHarness.Timeout);
        return (code!.Value, output.ToString(), error.ToString());
    }
}

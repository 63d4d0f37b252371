using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Readers;
using AccessControl.HardwareSim.Scenarios;
using AccessControl.HardwareSim.Sites;
using AccessControl.Protocol;
using AccessControl.Tests.HardwareSim.Support;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class ScenarioRunnerTests(ITestOutputHelper output)
{
    private const string Operator = "04A1B2C3D4E5F6";

    [Fact]
    public async Task Run_WhenEveryExpectationHolds_PrintsOneLinePerStepAndExitsZero()
    {
        await using var h = await SimHarness.StartAsync(output);
        h.Service.Answer = GrantTheOperator;
        var scenario = Parse("""
            timeout: 60s
            wiring:
              - { controller: ctl-1, doors: [door-1] }
            steps:
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, expect: grant, reason: granted }
              - { at: 0s, reader: rdr-1, card: 0499AABBCCDDEE, expect: deny, reason: unknown_credential }
              - { at: 0s, door: door-1, action: force }
              - { at: 0s, door: door-1, action: close }
              - { at: 0s, door: door-1, action: exit }
              - { at: 0s, reader: rdr-1, action: tamper, detail: cover opened }
              - { at: 0s, reader: rdr-1, action: disconnect }
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6 }
              - { at: 0s, reader: rdr-1, action: reconnect }
              - { at: 0s, say: done }
            """);
        await using var site = await StartSiteAsync(h, scenario);
        var text = new StringWriter();

        var report = await new ScenarioRunner(site, h.Time, text).RunAsync(scenario).Guarded();

        output.WriteLine(text.ToString());
        Assert.Equal((10, 0, 0), (report.Passed, report.Failed, report.ExitCode));
        Assert.Contains(text.ToString().Split('\n'), l => l.Contains("rdr-1", StringComparison.Ordinal) && l.Contains("0499AABBCCDDEE", StringComparison.Ordinal) && l.Contains("deny unknown_credential  OK", StringComparison.Ordinal));
        await h.Service.WaitForDoorEventAsync("door-1", DoorEventType.ExitRequest).Guarded();
        await h.Service.WaitForReaderEventAsync("rdr-1", ReaderEventType.Tamper).Guarded();
        Assert.True((await h.Service.WaitForReaderEventAsync("rdr-1", ReaderEventType.Card, occurrence: 3).Guarded()).ReaderEvent!.Offline);
    }

    [Fact]
    public async Task Run_WhenADecisionIsNotTheExpectedOne_FailsTheStepAndExitsNonZero()
    {
        await using var h = await SimHarness.StartAsync(output);
        h.Service.Answer = GrantTheOperator;
        var scenario = Parse("""
            steps:
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, expect: deny }
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, expect: grant, reason: anti_passback }
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, expect: grant }
            """);
        await using var site = await StartSiteAsync(h, scenario);
        var text = new StringWriter();

        var report = await new ScenarioRunner(site, h.Time, text).RunAsync(scenario).Guarded();

        Assert.Equal((1, 2, 1), (report.Passed, report.Failed, report.ExitCode));
        Assert.Contains("grant granted (expected deny)  FAIL", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("grant granted (expected grant anti_passback)  FAIL", text.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WaitsUntilEachStepIsDue()
    {
        await using var h = await SimHarness.StartAsync(output);
        var scenario = Parse("""
            wiring:
              - { controller: ctl-1, doors: [door-1] }
            steps:
              - { at: 0s, say: start }
              - { at: 3s, door: door-1, action: exit }
              - { at: 1m, say: end }
            """);
        await using var site = await StartSiteAsync(h, scenario);

        var run = new ScenarioRunner(site, h.Time, new StringWriter()).RunAsync(scenario);
        await h.Time.AdvanceUntilAsync(run);
        var report = await run;

        // Never early; how late depends on how far the manual clock was stepped while the step's I/O ran.
        Assert.Equal(0, report.ExitCode);
        Assert.Equal(TimeSpan.Zero, report.Results[0].Offset);
        Assert.True(report.Results[1].Offset >= TimeSpan.FromSeconds(3));
        Assert.True(report.Results[2].Offset >= TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Run_DeviceTheSiteDoesNotSimulate_IsReportedBeforeRunning()
    {
        await using var h = await SimHarness.StartAsync(output);
        var scenario = Parse("steps:\n  - { at: 0s, door: door-9, action: open }\n");
        await using var site = new SimulatedSite(new DeviceLayout([], []), h.Options, h.Secrets, h.Time, h.Time);

        Assert.Equal(["door 'door-9' has no simulated controller"], ScenarioRunner.FindMissingDevices(scenario, site));
    }

    private static DecisionMessage GrantTheOperator(ReaderEvent e) =>
        e.Card == Operator
            ? new DecisionMessage(e.EventId, true, "granted", "door-1", 5)
            : new DecisionMessage(e.EventId, false, "unknown_credential", "door-1", 0);

    private static Scenario Parse(string yaml)
    {
        var result = ScenarioFile.Parse(yaml);
        Assert.True(result.Success, string.Join(Environment.NewLine, result.Errors));
        return result.Scenario!;
    }

    private static async Task<SimulatedSite> StartSiteAsync(SimHarness h, Scenario scenario)
    {
        var site = new SimulatedSite(
            scenario.ToLayout(),
            h.Options,
            h.Secrets,
            h.Time,
            h.Time,
            new CardReaderOptions { HeartbeatInterval = TimeSpan.Zero },
            new DoorControllerOptions { AutoOpenOnUnlock = false });
        await site.StartAsync().Guarded();
        return site;
    }
}

using AccessControl.Fingerprints;
using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.HardwareSim.Readers;
using AccessControl.HardwareSim.Scenarios;
using AccessControl.HardwareSim.Sites;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Tests.HardwareSim.Support;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class ScenarioTwoFactorTests(ITestOutputHelper output)
{
    [Fact]
    public void Parse_FingerStepsAndPendingExpectations()
    {
        var scenario = Parse("""
            steps:
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, pending: true, expect: grant, reason: granted }
              - { at: 1s, reader: fp-1, person: p-mkoch, finger: right-index, expect: grant, reason: granted }
              - { at: 2s, reader: fp-1, person: p-mkoch, finger: left-little, timeout: 3s }
              - { at: 3s, reader: fp-1, finger: none }
            """);

        Assert.Equal(true, ((CardStep)scenario.Steps[0]).Pending);
        Assert.Equal(new FingerStep(2, TimeSpan.FromSeconds(1), "fp-1", "p-mkoch", "right-index", new DecisionExpectation(true, "granted"), ScenarioFile.DefaultTimeout), scenario.Steps[1]);
        Assert.Equal(new FingerStep(3, TimeSpan.FromSeconds(2), "fp-1", "p-mkoch", "left-little", null, TimeSpan.FromSeconds(3)), scenario.Steps[2]);
        Assert.True(((FingerStep)scenario.Steps[3]).Nothing);
        Assert.Equal(["rdr-1"], scenario.ReaderIds);
        Assert.Equal(["fp-1"], scenario.FingerprintReaderIds);
        Assert.Equal([("rdr-1", ReaderKind.Card), ("fp-1", ReaderKind.Fingerprint)], scenario.ToLayout().Readers.Select(r => (r.ReaderId, r.Kind)));
    }

    [Theory]
    [InlineData("- { at: 0s, reader: fp-1, finger: right-index }", "step 1: a finger step names the person")]
    [InlineData("- { at: 0s, reader: fp-1, person: p-1, finger: right-toe }", "step 1: finger 'right-toe' is not none or one of")]
    [InlineData("- { at: 0s, reader: fp-1, person: p-1, finger: none }", "step 1: finger: none presents nothing")]
    [InlineData("- { at: 0s, reader: fp-1, person: p-1, finger: right-index, action: tamper }", "step 1: a finger step takes person, finger")]
    [InlineData("- { at: 0s, reader: rdr-1, card: 04A1, finger: right-index }", "step 1: a reader step has a card or a finger, not both")]
    [InlineData("- { at: 0s, reader: rdr-1, card: 04A1, pending: true }", "step 1: pending is only checked together with expect")]
    [InlineData("- { at: 0s, reader: rdr-1, person: p-1, action: tamper }", "step 1: person goes with a finger step")]
    public void Parse_InvalidFingerOrPendingStep_SaysWhy(string steps, string expected)
    {
        var result = ScenarioFile.Parse($"steps:\n  {steps}\n");

        Assert.False(result.Success);
        Assert.Contains(result.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public async Task Run_CardThenFinger_ChecksTheFinalDecisionAfterThePendingOne()
    {
        await using var h = await SimHarness.StartAsync(output);
        var scenario = Parse("""
            steps:
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, pending: true, expect: grant, reason: granted }
              - { at: 0s, reader: fp-1, person: p-mkoch, finger: right-index, expect: grant, reason: granted }
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, expect: deny, reason: fingerprint_mismatch }
              - { at: 0s, reader: fp-1, person: p-mkoch, finger: left-little, expect: deny }
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, pending: true, expect: deny, reason: fingerprint_timeout }
              - { at: 0s, reader: fp-1, finger: none }
            """);
        await using var site = new SimulatedSite(
            scenario.ToLayout(), h.Options, h.Secrets, h.Time, h.Time,
            new CardReaderOptions { HeartbeatInterval = TimeSpan.Zero },
            new DoorControllerOptions { AutoOpenOnUnlock = false },
            new FingerprintReaderOptions { HeartbeatInterval = TimeSpan.Zero, Seed = 1 });
        await site.StartAsync().Guarded();
        var service = ServeTwoFactorAsync(h, rounds: 3);
        var text = new StringWriter();

        var report = await new ScenarioRunner(site, h.Time, text).RunAsync(scenario).Guarded();
        await service.Guarded();

        output.WriteLine(text.ToString());
        Assert.Equal((6, 0), (report.Passed, report.Failed));
        Assert.Contains(text.ToString().Split('\n'), l => l.Contains("pending fingerprint_required, final decision awaited", StringComparison.Ordinal));
        Assert.Contains(report.Results, r => r.Step == 1 && r.Outcome == "pending, then grant granted");
    }

    // The service side of two-factor entry, as the wire contract describes it; the third round gets no finger and times out.
    private static async Task ServeTwoFactorAsync(SimHarness h, int rounds)
    {
        var template = SyntheticFingers.EnrollmentTemplate("p-mkoch", "right-index", "tpl-ri");
        for (var round = 1; round <= rounds; round++)
        {
            var card = (await h.Service.WaitForReaderEventAsync("rdr-1", ReaderEventType.Card, occurrence: round)).ReaderEvent!;
            await h.Service.SendDecisionAsync("rdr-1", new DecisionMessage(card.EventId, false, "fingerprint_required", "door-1", 0) { Pending = true });
            await h.Service.SendReaderCommandAsync("fp-1", new ReaderCommand($"cmd-{round}", ReaderCommands.VerifyFingerprint, $"req-{round}", card.EventId, 10, [template]));
            if (round == rounds)
            {
                await h.Service.SendReaderCommandAsync("fp-1", new ReaderCommand($"cmd-c{round}", ReaderCommands.CancelFingerprint, $"req-{round}", card.EventId, 0, []));
                await h.Service.SendDecisionAsync("rdr-1", new DecisionMessage(card.EventId, false, "fingerprint_timeout", "door-1", 0));
                return;
            }

            var match = (await h.Service.WaitForReaderEventAsync("fp-1", ReaderEventType.FingerprintMatch, occurrence: round)).ReaderEvent!;
            var ok = match.Score >= FingerprintPolicy.DefaultThreshold;
            var reason = ok ? "granted" : "fingerprint_mismatch";
            await h.Service.SendDecisionAsync("fp-1", new DecisionMessage(match.EventId, ok, reason, "door-1", 0));
            await h.Service.SendDecisionAsync("rdr-1", new DecisionMessage(card.EventId, ok, reason, "door-1", ok ? 5 : 0));
        }
    }

    private static Scenario Parse(string yaml)
    {
        var result = ScenarioFile.Parse(yaml);
        Assert.True(result.Success, string.Join(Environment.NewLine, result.Errors));
        return result.Scenario!;
    }
}

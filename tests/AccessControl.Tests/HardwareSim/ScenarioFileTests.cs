using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Scenarios;
using AccessControl.HardwareSim.Sites;
using AccessControl.Devices;
using NodaTime.Testing;

namespace AccessControl.Tests.HardwareSim;

public class ScenarioFileTests
{
    private static readonly string DemoDay = Path.Combine(AppContext.BaseDirectory, "scenarios", "demo-day.yaml");

    [Fact]
    public void DemoDay_Parses_AndNamesTheDemoSiteDevices()
    {
        var result = ScenarioFile.Load(DemoDay);

        Assert.True(result.Success, string.Join(Environment.NewLine, result.Errors));
        var scenario = result.Scenario!;
        Assert.Equal("demo-day", scenario.Name);
        Assert.Equal(
            ["rdr-dh1-in", "rdr-dh1-out", "rdr-lobby-in", "rdr-lobby-out", "rdr-sr1-in", "rdr-sr1-out"],
            scenario.ReaderIds.Order(StringComparer.Ordinal));
        Assert.Equal(["ctl-dh1", "ctl-lobby", "ctl-sr1"], scenario.Wiring.Select(w => w.ControllerId).Order(StringComparer.Ordinal));
        Assert.All(scenario.Steps.OfType<CardStep>(), s => Assert.Contains(s.Card, new[] { "04A1B2C3D4E5F6", "0499AABBCCDDEE" }));
        Assert.All(scenario.Steps.OfType<CardStep>(), s => Assert.Equal("desfire-ev3", s.Technology));
        Assert.Contains(scenario.Steps, s => s is CardStep { Expect: { Grant: false, Reason: "unknown_credential" } });
        Assert.Contains(scenario.Steps, s => s is ReaderStep { Action: ReaderAction.Disconnect });
        Assert.Contains(scenario.Steps, s => s is DoorStep { Action: DoorAction.Force });
    }

    [Fact]
    public async Task DemoDay_WithoutASiteFile_SimulatesEveryDeviceItNames()
    {
        var scenario = ScenarioFile.Load(DemoDay).Scenario!;
        var clock = new FakeClock(NodaTime.Instant.FromUtc(2026, 11, 28, 9, 0));
        await using var site = new SimulatedSite(scenario.ToLayout(), new DeviceOptions(), new DeviceSecrets(DeviceSecrets.NewKey()), clock, new Support.ManualTimeProvider(clock.GetCurrentInstant()));

        Assert.Empty(ScenarioRunner.FindMissingDevices(scenario, site));
    }

    [Fact]
    public void Parse_ReadsEveryKindOfStep()
    {
        var result = ScenarioFile.Parse("""
            name: all
            technology: mifare-classic
            timeout: 2s
            wiring:
              - { controller: ctl-1, doors: [door-1] }
            steps:
              - { at: 0s, reader: rdr-1, card: 04A1B2C3D4E5F6, expect: grant, reason: granted }
              - { at: 500ms, reader: rdr-1, card: 0499AABBCCDDEE, technology: desfire-ev3, expect: deny, timeout: 10s }
              - { at: 1s, reader: rdr-1, card: 04A1B2C3D4E5F6 }
              - { at: 1.5s, door: door-1, action: hold }
              - { at: 1m30s, reader: rdr-1, action: tamper, detail: cover opened }
              - { at: 1m30s, say: done }
            """);

        Assert.True(result.Success, string.Join(Environment.NewLine, result.Errors));
        Assert.Equal<ScenarioStep>(
            [
                new CardStep(1, TimeSpan.Zero, "rdr-1", "04A1B2C3D4E5F6", "mifare-classic", new DecisionExpectation(true, "granted"), TimeSpan.FromSeconds(2)),
                new CardStep(2, TimeSpan.FromMilliseconds(500), "rdr-1", "0499AABBCCDDEE", "desfire-ev3", new DecisionExpectation(false, null), TimeSpan.FromSeconds(10)),
                new CardStep(3, TimeSpan.FromSeconds(1), "rdr-1", "04A1B2C3D4E5F6", "mifare-classic", null, TimeSpan.FromSeconds(2)),
                new DoorStep(4, TimeSpan.FromSeconds(1.5), "door-1", DoorAction.Hold),
                new ReaderStep(5, TimeSpan.FromSeconds(90), "rdr-1", ReaderAction.Tamper, "cover opened", TimeSpan.FromSeconds(2)),
                new SayStep(6, TimeSpan.FromSeconds(90), "done"),
            ],
            result.Scenario!.Steps);
        Assert.Equal([new ControllerLayout("ctl-1", ["door-1"])], result.Scenario.Wiring, new LayoutComparer());
    }

    [Theory]
    [InlineData("- { at: 1, say: x }", "step 1: at '1' is not a duration")]
    [InlineData("- { at: 2s, say: x }\n  - { at: 1s, say: y }", "step 2: at 1s is before the step above it")]
    [InlineData("- { at: 0s, door: door-1, action: kick }", "step 1: a door step takes action open, close, force, hold or exit")]
    [InlineData("- { at: 0s, reader: rdr-1, door: door-1, action: open }", "step 1: a step names exactly one of reader, door or say")]
    [InlineData("- { at: 0s, reader: rdr-1, card: 04A1, expect: maybe }", "step 1: expect must be grant or deny")]
    [InlineData("- { at: 0s, reader: rdr-1, card: 04A1, reason: granted }", "step 1: reason is only checked together with expect")]
    [InlineData("- { at: 0s, reader: rdr-1, action: disconnect, detail: x }", "step 1: only a tamper step takes a detail")]
    [InlineData("- { at: 0s, reader: 'rdr:1', card: 04A1 }", "step 1: reader 'rdr:1' is not a valid id")] // a device id: no ':'
    public void Parse_InvalidStep_SaysWhichStepAndWhy(string steps, string expected)
    {
        var result = ScenarioFile.Parse($"steps:\n  {steps}\n");

        Assert.False(result.Success);
        Assert.Contains(result.Errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_WiringOfAControllerWhoseIdHasAColon_IsRefused()
    {
        var result = ScenarioFile.Parse("wiring:\n  - { controller: 'ctl:1', doors: [door-1] }\nsteps:\n  - { at: 0s, say: x }\n");

        Assert.False(result.Success);
        Assert.Contains(result.Errors, e => e.StartsWith("wiring 1: needs a valid controller id", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_UnknownKey_IsAnErrorWithItsLine()
    {
        var result = ScenarioFile.Parse("steps:\n  - { at: 0s, reader: rdr-1, card: 04A1, expext: grant }\n");

        Assert.False(result.Success);
        Assert.StartsWith("line 2,", Assert.Single(result.Errors), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2s", 2000)]
    [InlineData("1.5s", 1500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1h", 3_600_000)]
    public void Durations_WithUnits_Parse(string text, int milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("s")]
    [InlineData("-1s")]
    [InlineData("1 s")]
    [InlineData("")]
    public void Durations_WithoutAUnit_AreRefused(string text) => Assert.False(Durations.TryParse(text, out _));

    private sealed class LayoutComparer : IEqualityComparer<ControllerLayout>
    {
        public bool Equals(ControllerLayout? x, ControllerLayout? y) =>
            x is not null && y is not null && x.ControllerId == y.ControllerId && x.DoorIds.SequenceEqual(y.DoorIds);

        public int GetHashCode(ControllerLayout obj) => obj.ControllerId.GetHashCode(StringComparison.Ordinal);
    }
}

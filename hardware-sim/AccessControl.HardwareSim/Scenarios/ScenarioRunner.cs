using System.Globalization;
using AccessControl.Display;
using AccessControl.Fingerprints;
using AccessControl.HardwareSim.Doors;
using AccessControl.HardwareSim.Readers;
using AccessControl.HardwareSim.Sites;
using AccessControl.Protocol;

namespace AccessControl.HardwareSim.Scenarios;

/// <summary>The result of one step: a line of the printed report.</summary>
/// <param name="Offset">When the step ran, from the start of the scenario.</param>
/// <param name="Subject">What the step did, e.g. the card, or <c>force</c>.</param>
/// <param name="Outcome">What came of it, e.g. <c>grant granted</c>, or why it failed.</param>
public sealed record StepResult(int Step, TimeSpan Offset, string Device, string Subject, string Outcome, bool Passed);

/// <summary>What a scenario run came to. <see cref="ExitCode"/> is what <c>hardware-sim scenario</c> returns.</summary>
public sealed record ScenarioReport(string Name, IReadOnlyList<StepResult> Results)
{
    public int Passed => Results.Count(r => r.Passed);

    public int Failed => Results.Count(r => !r.Passed);

    /// <summary>0 when every expectation held, 1 otherwise.</summary>
    public int ExitCode => Failed == 0 ? 0 : 1;
}

/// <summary>
/// Runs a <see cref="Scenario"/> against a <see cref="SimulatedSite"/>: each step when its time has come (on the
/// injected <see cref="TimeProvider"/>) and after the step before it, waiting for each expected decision. Prints
/// one line per step (time, device, card or action, decision and reason, OK or FAIL) and a late line for every
/// decision nobody waited for (e.g. an offline swipe answered after reconnection).
/// </summary>
public sealed class ScenarioRunner
{
    private readonly SimulatedSite site;
    private readonly TimeProvider time;
    private readonly TextWriter output;
    private readonly object outputGate = new();
    private readonly List<StepResult> results = [];
    private readonly List<Task> finals = [];
    private long start;

    public ScenarioRunner(SimulatedSite site, TimeProvider time, TextWriter output)
    {
        this.site = site;
        this.time = time;
        this.output = output;
    }

    /// <summary>The readers and doors a scenario names that the site does not simulate; empty when it can run.</summary>
    public static IReadOnlyList<string> FindMissingDevices(Scenario scenario, SimulatedSite site) =>
    [
        .. scenario.ReaderIds.Where(id => !site.TryGetReader(id, out _)).Select(id => $"reader '{id}' is not simulated"),
        .. scenario.FingerprintReaderIds.Where(id => !site.TryGetFingerprintReader(id, out _)).Select(id => $"fingerprint reader '{id}' is not simulated"),
        .. scenario.DoorIds.Where(id => !site.TryGetControllerOf(id, out _)).Select(id => $"door '{id}' has no simulated controller"),
    ];

    /// <summary>
    /// Runs every step in order; the devices must be started. Missing devices fail their steps. Final decisions that
    /// follow a pending one are awaited before the report is made; the report lists results in step order.
    /// </summary>
    public async Task<ScenarioReport> RunAsync(Scenario scenario, CancellationToken cancellationToken = default)
    {
        start = time.GetTimestamp();
        lock (results)
        {
            results.Clear();
            finals.Clear();
        }

        Print($"scenario {scenario.Name}: {scenario.Steps.Count} steps");
        foreach (var step in scenario.Steps)
        {
            var wait = step.At - time.GetElapsedTime(start);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time, cancellationToken);
            }

            var result = step switch
            {
                CardStep card => await RunCardAsync(card, cancellationToken),
                FingerStep finger => await RunFingerAsync(finger, cancellationToken),
                ReaderStep reader => await RunReaderAsync(reader, cancellationToken),
                DoorStep door => await RunDoorAsync(door, cancellationToken),
                SayStep say => Result(say, "", "say", say.Text, true),
                _ => throw new InvalidOperationException($"Unknown step type {step.GetType().Name}"),
            };
            if (result is not null)
            {
                Record(result);
            }
        }

        Task[] outstanding;
        lock (results)
        {
            outstanding = [.. finals];
        }

        await Task.WhenAll(outstanding);
        List<StepResult> ordered;
        lock (results)
        {
            ordered = [.. results.OrderBy(r => r.Step)];
        }

        var report = new ScenarioReport(scenario.Name, ordered);
        Print($"scenario {scenario.Name}: {report.Results.Count} steps, {report.Passed} passed, {report.Failed} failed");
        return report;
    }

    /// <returns>The step's result, or null when the answer was pending and the final decision is checked later.</returns>
    private async Task<StepResult?> RunCardAsync(CardStep step, CancellationToken cancellationToken)
    {
        if (!site.TryGetReader(step.Reader, out var reader))
        {
            return Result(step, step.Reader, step.Card, "reader is not simulated", false);
        }

        var swipe = reader.PresentCard(step.Card, step.Technology);
        if (step.Expect is null)
        {
            _ = swipe.Decision.ContinueWith(t => PrintLate(reader, step, swipe.Offline, t), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            return Result(step, step.Reader, step.Card, swipe.Offline ? "buffered (reader offline), not waited for" : "sent, not waited for", true);
        }

        DecisionMessage first;
        try
        {
            first = await swipe.Acknowledgement.WaitAsync(step.Timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return Result(step, step.Reader, step.Card, $"no decision within {Durations.Format(step.Timeout)} (expected {step.Expect})", false);
        }

        if (step.Pending is { } wantPending && wantPending != first.Pending)
        {
            return Result(step, step.Reader, step.Card, $"{Describe(first)} (expected {(wantPending ? "pending first" : "no pending")}, then {step.Expect})", false);
        }

        if (!first.Pending)
        {
            return Check(step, first, "");
        }

        Print(Format(Result(step, step.Reader, step.Card, $"{Describe(first)}, final decision awaited", true)));
        var final = FinishCardAsync(step, swipe.Decision, cancellationToken);
        lock (results)
        {
            finals.Add(final);
        }

        return null;
    }

    private async Task FinishCardAsync(CardStep step, Task<DecisionMessage> decision, CancellationToken cancellationToken)
    {
        var wait = step.Timeout + FingerprintPolicy.Default.Timeout.ToTimeSpan();
        StepResult result;
        try
        {
            result = Check(step, await decision.WaitAsync(wait, time, cancellationToken), "pending, then ");
        }
        catch (TimeoutException)
        {
            result = Result(step, step.Reader, step.Card, $"pending, then no final decision within {Durations.Format(wait)} (expected {step.Expect})", false);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            result = Result(step, step.Reader, step.Card, $"pending, then the reader gave up on the final decision (expected {step.Expect})", false);
        }

        Record(result);
    }

    private StepResult Check(CardStep step, DecisionMessage decision, string prefix)
    {
        var expect = step.Expect!;
        var passed = decision.Grant == expect.Grant && (expect.Reason is null || expect.Reason == decision.Reason);
        var outcome = prefix + Describe(decision) + (passed ? "" : $" (expected {expect})");
        return Result(step, step.Reader, step.Card, outcome, passed);
    }

    private async Task<StepResult> RunFingerAsync(FingerStep step, CancellationToken cancellationToken)
    {
        var subject = step.Nothing ? "no finger" : $"{step.Person} {step.Finger}";
        if (!site.TryGetFingerprintReader(step.Reader, out var reader))
        {
            return Result(step, step.Reader, subject, "fingerprint reader is not simulated", false);
        }

        if (step.Nothing)
        {
            reader.PresentNothing();
            return Result(step, step.Reader, subject, "nothing presented, nothing sent", true);
        }

        var capture = await reader.PresentFingerAsync(step.Person!, step.Finger!, cancellationToken);
        if (capture is null)
        {
            return step.Expect is null
                ? Result(step, step.Reader, subject, "no verify request came: finger lifted, nothing sent", true)
                : Result(step, step.Reader, subject, $"no verify request came: finger lifted, nothing sent (expected {step.Expect})", false);
        }

        var scored = $"score {capture.Score.ToString(CultureInfo.InvariantCulture)} ({capture.TemplateId ?? "no template"})";
        if (step.Expect is null)
        {
            return Result(step, step.Reader, subject, $"{scored}, sent", true);
        }

        DecisionMessage decision;
        try
        {
            decision = await capture.Decision.WaitAsync(step.Timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return Result(step, step.Reader, subject, $"{scored}, no decision within {Durations.Format(step.Timeout)} (expected {step.Expect})", false);
        }

        var passed = decision.Grant == step.Expect.Grant && (step.Expect.Reason is null || step.Expect.Reason == decision.Reason);
        return Result(step, step.Reader, subject, $"{scored}, {Describe(decision)}{(passed ? "" : $" (expected {step.Expect})")}", passed);
    }

    private void Record(StepResult result)
    {
        lock (results)
        {
            results.Add(result);
        }

        Print(Format(result));
    }

    private async Task<StepResult> RunReaderAsync(ReaderStep step, CancellationToken cancellationToken)
    {
        var action = step.Action.ToString().ToLowerInvariant();
        if (!site.TryGetReader(step.Reader, out var reader))
        {
            return Result(step, step.Reader, action, "reader is not simulated", false);
        }

        switch (step.Action)
        {
            case ReaderAction.Tamper:
                await reader.TamperAsync(step.Detail, cancellationToken);
                return Result(step, step.Reader, action, step.Detail ?? "sent", true);
            case ReaderAction.Heartbeat:
                var sent = await reader.SendHeartbeatAsync(cancellationToken);
                return Result(step, step.Reader, action, sent ? "sent" : "reader offline, none sent", true);
            case ReaderAction.Disconnect:
                await reader.DropConnectionAsync();
                return Result(step, step.Reader, action, "connection dropped, buffering", true);
            default:
                try
                {
                    await reader.RestoreConnectionAsync(cancellationToken).WaitAsync(step.Timeout, time, cancellationToken);
                    return Result(step, step.Reader, action, $"online, {reader.Counters.Pending} buffered events replaying", true);
                }
                catch (TimeoutException)
                {
                    return Result(step, step.Reader, action, $"not online within {Durations.Format(step.Timeout)}", false);
                }
        }
    }

    private async Task<StepResult> RunDoorAsync(DoorStep step, CancellationToken cancellationToken)
    {
        var action = step.Action.ToString().ToLowerInvariant();
        if (!site.TryGetControllerOf(step.DoorId, out var controller))
        {
            return Result(step, step.DoorId, action, "door has no simulated controller", false);
        }

        switch (step.Action)
        {
            case DoorAction.Open:
                var opened = await controller.OpenAsync(step.DoorId, cancellationToken);
                return opened == DoorOpenResult.Locked
                    ? Result(step, step.DoorId, action, "door is locked (a force step opens it anyway)", false)
                    : Result(step, step.DoorId, action, opened == DoorOpenResult.Opened ? "opened" : "already open", true);
            case DoorAction.Close:
                await controller.CloseAsync(step.DoorId, cancellationToken);
                return Result(step, step.DoorId, action, "closed", true);
            case DoorAction.Force:
                var before = controller.GetDoor(step.DoorId);
                await controller.ForceOpenAsync(step.DoorId, cancellationToken);
                return Result(step, step.DoorId, action, before.Open ? "already open" : before.Unlocked ? "opened (strike was released)" : "opened without unlock", true);
            case DoorAction.Hold:
                await controller.HoldOpenAsync(step.DoorId, cancellationToken);
                return Result(step, step.DoorId, action, "propped open", true);
            default:
                await controller.PressExitButtonAsync(step.DoorId, cancellationToken);
                return Result(step, step.DoorId, action, "exit button pressed", true);
        }
    }

    private void PrintLate(CardReader reader, CardStep step, bool offline, Task<DecisionMessage> decision)
    {
        var offset = time.GetElapsedTime(start);
        var note = offline ? "late, was offline" : "late";
        Print(Format(new StepResult(step.Number, offset, reader.ReaderId, step.Card, $"{Describe(decision.Result)} ({note})", true)));
    }

    private StepResult Result(ScenarioStep step, string device, string subject, string outcome, bool passed) =>
        new(step.Number, time.GetElapsedTime(start), device, subject, outcome, passed);

    private static string Describe(DecisionMessage decision) => $"{(decision.Pending ? "pending" : decision.Grant ? "grant" : "deny")} {decision.Reason}";

    /// <summary>One report line: <c>+00:01.234  #3   rdr-dh1-in      04A1B2C3D4E5F6    grant granted  OK</c>.</summary>
    public static string Format(StepResult result) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"+{(int)result.Offset.TotalMinutes:00}:{result.Offset.Seconds:00}.{result.Offset.Milliseconds:000}  #{result.Step,-3} {result.Device,-15} {result.Subject,-16}  {result.Outcome}  {(result.Passed ? "OK" : "FAIL")}");

    /// <summary>Prints a report line through <see cref="TerminalText"/>: it quotes the decision's reason, which the service (or whatever answers on the broker) chose.</summary>
    private void Print(string line)
    {
        lock (outputGate)
        {
            output.WriteLine(TerminalText.Show(line));
            output.Flush();
        }
    }
}

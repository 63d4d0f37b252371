using AccessControl.HardwareSim.Readers;
using AccessControl.Protocol;
using AccessControl.Tests.HardwareSim.Support;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class CardReaderPendingTests(ITestOutputHelper output)
{
    private const string Reader = "rdr-sr1-in";
    private const string Card = "04A1B2C3D4E5F6";

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public async Task PresentCard_PendingThenFinal_CompletesWithTheFinalDecision()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader(Reader);
        var pendingRaised = new TaskCompletionSource<ReceivedDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        var finalRaised = new TaskCompletionSource<ReceivedDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.PendingDecisionReceived += d => pendingRaised.TrySetResult(d);
        reader.DecisionReceived += d => finalRaised.TrySetResult(d);
        await reader.StartAsync().Guarded();

        var swipe = reader.PresentCard(Card, "desfire-ev3");
        var presented = reader.PresentCardAsync(Card, "desfire-ev3");
        await h.Service.WaitForReaderEventAsync(Reader, ReaderEventType.Card, occurrence: 2).Guarded();
        var pending = new DecisionMessage(swipe.EventId, false, "fingerprint_required", "door-sr1", 0) { Pending = true };
        await h.Service.SendDecisionAsync(Reader, pending);

        Assert.Equal(pending, await swipe.Acknowledgement.Guarded());
        Assert.Equal(pending, (await pendingRaised.Task.Guarded()).Decision);
        Assert.Equal(pending, swipe.PendingDecision);
        Assert.False(swipe.Decision.IsCompleted);

        // Acknowledged: the pending event is no longer re-sent.
        h.Time.Advance(h.Options.ResendInterval);
        await h.Service.WaitForReaderEventAsync(Reader, ReaderEventType.Card, occurrence: 3).Guarded();
        Assert.Single(h.Service.All(m => m.ReaderEvent?.EventId == swipe.EventId));

        // A repeated pending is not news; the final one completes the swipe.
        await h.Service.SendDecisionAsync(Reader, pending);
        var final = new DecisionMessage(swipe.EventId, true, "granted", "door-sr1", 5);
        await h.Service.SendDecisionAsync(Reader, final);

        Assert.Equal(final, await swipe.Decision.Guarded());
        var seen = await finalRaised.Task.Guarded();
        Assert.Equal((final, pending), (seen.Decision, seen.PendingDecision));
        Assert.False(presented.IsCompleted);
    }

    [Fact]
    public async Task PresentCardAsync_CompletesWithTheFinalDenyAfterPending()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader(Reader);
        await reader.StartAsync().Guarded();

        var presented = reader.PresentCardAsync(Card, "desfire-ev3");
        var eventId = (await h.Service.WaitForReaderEventAsync(Reader, ReaderEventType.Card).Guarded()).ReaderEvent!.EventId;
        await h.Service.SendDecisionAsync(Reader, new DecisionMessage(eventId, false, "fingerprint_required", "door-sr1", 0) { Pending = true });
        await h.Service.SendDecisionAsync(Reader, new DecisionMessage(eventId, false, "fingerprint_timeout", "door-sr1", 0));

        var decision = await presented.Guarded();
        Assert.Equal(("fingerprint_timeout", false, false), (decision.Reason, decision.Grant, decision.Pending));
        Assert.Equal((1L, 1L, 0), (reader.Counters.Sent, reader.Counters.Acked, reader.Counters.Pending));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public async Task Pending_ThenTheFinalDenyOfTheLongestZoneTimeout_IsStillTheSwipesAnswer()
    {
        // reader-protocol §6.3: the zone's timeout is at most 60 s, and the reader waits 70 s for the final decision.
        // One that gave up at 60 s would miss the fingerprint_timeout of a 60 s zone, which comes a moment after it.
        await using var h = await SimHarness.StartAsync(output);
        var swipe = await PendingSwipeAsync(h);
        h.Time.Advance(TimeSpan.FromSeconds(61));
        var timeout = new DecisionMessage(swipe.EventId, false, "fingerprint_timeout", "door-sr1", 0);
        await h.Service.SendDecisionAsync(Reader, timeout);

        Assert.Equal(timeout, await swipe.Decision.Guarded());
    }

    [Fact]
    public async Task Pending_WithoutFinalDecision_GivesUpAfterTheFinalDecisionTimeout()
    {
        await using var h = await SimHarness.StartAsync(output);
        var swipe = await PendingSwipeAsync(h);
        h.Time.Advance(h.Options.FinalDecisionTimeout);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => swipe.Decision.Guarded());
    }

    /// <summary>A card presented at a started reader and answered <c>pending</c>: the swipe waits for its final decision.</summary>
    private static async Task<AccessControl.HardwareSim.Devices.PendingEvent> PendingSwipeAsync(SimHarness h)
    {
        var reader = h.Reader(Reader);
        await reader.StartAsync().Guarded();
        var swipe = reader.PresentCard(Card, "desfire-ev3");
        await h.Service.WaitForReaderEventAsync(Reader, ReaderEventType.Card).Guarded();
        await h.Service.SendDecisionAsync(Reader, new DecisionMessage(swipe.EventId, false, "fingerprint_required", "door-sr1", 0) { Pending = true });
        await swipe.Acknowledgement.Guarded();
        return swipe;
    }
}

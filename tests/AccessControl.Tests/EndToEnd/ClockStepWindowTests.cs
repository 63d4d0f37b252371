using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// The decisions' short windows (an escort's window, a card waiting for its finger, a fingerprint lock) when the
/// service's wall clock is stepped (NTP correcting a bad clock, an operator setting it): each keeps the real time it had
/// left. The harness's clock is fake and its monotonic time real, so a move of the fake clock beyond the threshold,
/// with no real time passing, is a step; moves within it, each followed by a check, are time passing.
/// </summary>
public class ClockStepWindowTests
{
    private const string ServerRoomIn = "rdr-sr1-in";
    private const string FingerReader = "fp-sr1-in";

    private static Task<EdgeHarness> StartAsync() =>
        EdgeHarness.StartAsync(configure: s => s with { Pipeline = s.Pipeline with { ClockJumpThreshold = TimeSpan.FromMinutes(1) } });

    /// <summary>The operator's card presented at the server room: pending, and the fingerprint reader asked for a finger.</summary>
    private static async Task<(RawReader Card, RawReader Finger, ReaderCommand Verify)> CardWaitingForItsFingerAsync(EdgeHarness edge)
    {
        var card = await RawReader.ConnectAsync(edge, ServerRoomIn);
        var finger = await RawReader.ConnectAsync(edge, FingerReader);
        await card.CardAsync(Operator);
        Assert.True((await card.NextDecisionAsync()).Pending);
        return (card, finger, await finger.NextCommandAsync());
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    [Trait("control", "NIST-AU-8")]
    public async Task ClockSteppedBack_AnEscortsWindowKeepsItsRealTime_AndDoesNotOpenAgainWhenTheClockCatchesUp()
    {
        await using var edge = await StartAsync();
        var reader = await edge.ReaderAsync(ServerRoomIn);

        var escort = await edge.PresentCardAndFingerAsync(reader, Operator); // a 10 s window, for two people
        edge.Clock.Advance(Duration.FromMinutes(-5));
        var rightBehind = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        // Five minutes pass on the clock, checked every 50 s (within the threshold: time passing, not a step), until it
        // reads the time of the escort's swipe again.
        for (var i = 0; i < 6; i++)
        {
            edge.Clock.Advance(Duration.FromSeconds(50));
            await edge.TickAsync();
        }

        var fiveMinutesLater = await reader.PresentCardAsync(Visitor2, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(escort.Grant);
        // Right behind the escort, in real time: the window moved back with the clock, so it is open (before, it lay
        // in the future and the visitor was refused).
        Assert.Equal((true, "granted"), (rightBehind.Grant, rightBehind.Reason));
        // Before, the window opened again once the clock read its time again: a visitor alone, five minutes after the
        // escort went in, was let in under it.
        Assert.Equal((false, "escort_required"), (fiveMinutesLater.Grant, fiveMinutesLater.Reason));
        var step = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.ClockAnomaly }));
        Assert.Contains("back by 300 s", step.Detail, StringComparison.Ordinal);
        Assert.Contains("keep the real time they had left", step.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "PCI-8.3.4")]
    [Trait("control", "NIST-AU-8")]
    public async Task ClockSteppedForward_AFingerprintLockKeepsTheRealTimeItHadLeft()
    {
        await using var edge = await StartAsync();
        var card = await RawReader.ConnectAsync(edge, ServerRoomIn);
        var finger = await RawReader.ConnectAsync(edge, FingerReader);
        var lobby = await RawReader.ConnectAsync(edge, "rdr-lobby-in");
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await card.CardAsync(Operator);
            Assert.True((await card.NextDecisionAsync()).Pending);
            var verify = await finger.NextCommandAsync();
            await finger.FingerprintAsync(verify.RequestId, 12);
            Assert.Equal("fingerprint_mismatch", (await card.NextDecisionAsync()).Reason);
            await finger.NextDecisionAsync();
        }

        // Locked for five minutes. The clock then jumps ten minutes ahead while no time passes.
        edge.Clock.Advance(Duration.FromMinutes(10));
        await lobby.CardAsync(Operator);

        var decision = await lobby.NextDecisionAsync();

        // Before, the step ran the lock out: the card opened the lobby at once.
        Assert.Equal((false, "fingerprint_lockout"), (decision.Grant, decision.Reason));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.ClockAnomaly }));
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-AU-8")]
    public async Task ClockSteppedBack_WhileACardWaitsForItsFinger_TheWaitKeepsItsRealLength()
    {
        await using var edge = await StartAsync();
        var (card, finger, verify) = await CardWaitingForItsFingerAsync(edge);
        edge.Clock.Advance(Duration.FromMinutes(-5));
        await edge.TickAsync();
        edge.Clock.Advance(Duration.FromSeconds(50)); // time passing, longer than the card may wait
        await edge.TickAsync();
        var timedOut = await card.NextDecisionAsync();
        await finger.FingerprintAsync(verify.RequestId, 95);
        var late = await finger.NextDecisionAsync();

        // Before, the card's wait stayed at the clock's old time: five more minutes in which a finger completed it.
        Assert.Equal((false, "fingerprint_timeout"), (timedOut.Grant, timedOut.Reason));
        Assert.Equal("fingerprint_unexpected", late.Reason);
    }

    [Fact]
    [Trait("control", "PCI-9.2")]
    [Trait("control", "NIST-AU-8")]
    public async Task ClockSteppedForward_WhileACardWaitsForItsFinger_TheWaitEnds_FailingClosed()
    {
        // A step forward may be time that passed unseen (a machine resumed from suspend): the windows that let
        // someone in are not stretched over it. The holder presents the card again.
        await using var edge = await StartAsync();
        var (card, finger, verify) = await CardWaitingForItsFingerAsync(edge);
        edge.Clock.Advance(Duration.FromMinutes(5));
        await finger.FingerprintAsync(verify.RequestId, 95);
        var decision = await card.NextDecisionAsync();

        Assert.Equal((false, "fingerprint_timeout"), (decision.Grant, decision.Reason));
        var step = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.ClockAnomaly }));
        Assert.Contains("may close early", step.Detail, StringComparison.Ordinal);
    }
}

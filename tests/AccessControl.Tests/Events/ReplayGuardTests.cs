using AccessControl.Events;
using NodaTime;

namespace AccessControl.Tests.Events;

[Trait("control", "NIST-SC-23")]
public class ReplayGuardTests
{
    private static readonly Instant Now = Instant.FromUtc(2026, 12, 1, 9, 0);
    private const string Reader = "readers/rdr-1";

    private static ReplayGuard Guard(IReadOnlyDictionary<string, IReadOnlyCollection<long>>? history = null) =>
        new(new PipelineOptions { ReplayWindow = 8 }, history);

    [Fact]
    public void Check_IncreasingSeqAtNow_IsAccepted()
    {
        var guard = Guard();
        Assert.Null(guard.Check(Reader, 1, Now, false, Now));
        Assert.Null(guard.Check(Reader, 2, Now, false, Now));
        Assert.Equal(2, guard.LastSeq(Reader));
    }

    [Fact]
    public void Check_ReusedSeq_IsRefusedAsStale()
    {
        var guard = Guard();
        guard.Check(Reader, 5, Now, false, Now);
        var rejection = guard.Check(Reader, 5, Now, false, Now);
        Assert.Equal(ReplayRule.StaleSeq, rejection!.Rule);
        Assert.Equal(5, rejection.LastSeq);
    }

    [Fact]
    public void Check_UnusedSeqWithinWindowBelowHighest_IsAcceptedOnce()
    {
        var guard = Guard();
        guard.Check(Reader, 10, Now, false, Now);
        Assert.Null(guard.Check(Reader, 7, Now, false, Now));      // lost by the broker, re-sent late
        Assert.NotNull(guard.Check(Reader, 7, Now, false, Now));   // but only once
        Assert.Null(guard.Check(Reader, 2, Now, false, Now));      // exactly the window (8) below: still in it
        Assert.NotNull(guard.Check(Reader, 1, Now, false, Now));   // more than the window below
    }

    [Fact]
    public void Check_SeqsAreCountedPerDevice()
    {
        var guard = Guard();
        guard.Check(Reader, 100, Now, false, Now);
        Assert.Null(guard.Check("readers/rdr-2", 1, Now, false, Now));
        Assert.Null(guard.Check("doors/door-1", 1, Now, false, Now));
    }

    [Theory]
    [InlineData(6, ReplayRule.TimeAhead)]
    [InlineData(-6, ReplayRule.TimeBehind)]
    public void Check_TimeBeyondSkew_IsRefusedAndDoesNotMoveTheBaseline(int minutes, ReplayRule rule)
    {
        var guard = Guard();
        guard.Check(Reader, 1, Now, false, Now);
        Assert.Equal(rule, guard.Check(Reader, 2, Now + Duration.FromMinutes(minutes), false, Now)!.Rule);
        Assert.Equal(1, guard.LastSeq(Reader));
        Assert.Null(guard.Check(Reader, 2, Now + Duration.FromMinutes(4), false, Now));
    }

    [Fact]
    public void Check_OfflineReplayWithinWindow_IsAccepted_OlderOrFutureOneIsNot()
    {
        var guard = Guard();
        Assert.Null(guard.Check(Reader, 1, Now - Duration.FromHours(3), true, Now));
        Assert.Equal(ReplayRule.TimeBehind, guard.Check(Reader, 2, Now - Duration.FromHours(25), true, Now)!.Rule);
        Assert.Equal(ReplayRule.TimeAhead, guard.Check(Reader, 3, Now + Duration.FromHours(1), true, Now)!.Rule);
    }

    [Fact]
    public void Constructor_History_HoldsTheBaselineAfterARestart()
    {
        var guard = Guard(new Dictionary<string, IReadOnlyCollection<long>> { [Reader] = [40, 41, 42] });
        Assert.Equal(42, guard.LastSeq(Reader));
        Assert.NotNull(guard.Check(Reader, 41, Now, false, Now));
        Assert.NotNull(guard.Check(Reader, 1, Now, false, Now));
        Assert.Null(guard.Check(Reader, 39, Now, false, Now));   // unused, within the window
        Assert.Null(guard.Check(Reader, 43, Now, false, Now));
    }

    [Fact]
    public void Reset_ToNothing_AcceptsAnySeq_ToABaseline_WantsAHigherOne()
    {
        var guard = Guard();
        guard.Check(Reader, 500, Now, false, Now);
        guard.Reset(Reader, null);
        Assert.Null(guard.Check(Reader, 1, Now, false, Now));
        guard.Reset(Reader, 20);
        Assert.NotNull(guard.Check(Reader, 19, Now, false, Now));
        Assert.Null(guard.Check(Reader, 21, Now, false, Now));
    }

    [Fact]
    public void ShouldAlarm_IsRateLimitedPerDevice()
    {
        var guard = new ReplayGuard(new PipelineOptions());
        Assert.True(guard.ShouldAlarm(Reader, Now));
        Assert.False(guard.ShouldAlarm(Reader, Now + Duration.FromSeconds(30)));
        Assert.True(guard.ShouldAlarm("readers/rdr-2", Now));
        Assert.True(guard.ShouldAlarm(Reader, Now + Duration.FromMinutes(1)));
    }
}

using AccessControl.Events;

namespace AccessControl.Tests.Events;

[Trait("control", "NIST-SC-5")]
public class DeviceRateLimitTests
{
    private static readonly long Ms = TimeSpan.TicksPerMillisecond;

    [Fact]
    public void TryTake_AfterTheBurst_TakesOnePerInterval_NeverMoreThanTheBurst_AndCountsTheRest()
    {
        var time = new TicksTime();
        var limit = new DeviceRateLimit(burst: 2, TimeSpan.FromMilliseconds(10));

        bool[] atStart = [limit.TryTake("readers/a", 0, time), limit.TryTake("readers/a", 0, time), limit.TryTake("readers/a", 0, time)];
        bool[] afterOneInterval = [limit.TryTake("readers/a", 10 * Ms, time), limit.TryTake("readers/a", 15 * Ms, time)];
        bool[] afterAMinute = [limit.TryTake("readers/a", 60_000 * Ms, time), limit.TryTake("readers/a", 60_000 * Ms, time), limit.TryTake("readers/a", 60_000 * Ms, time)];

        Assert.Equal([true, true, false], atStart);
        Assert.Equal([true, false], afterOneInterval);
        Assert.Equal([true, true, false], afterAMinute);
        Assert.Equal(3, limit.Dropped("readers/a"));
        Assert.True(limit.TryTake("readers/b", 0, time));
        Assert.Equal(0, limit.Dropped("readers/b"));
    }

    [Fact]
    public void TryTake_AnArrivalStampedBeforeTheLastRefill_EarnsNothing()
    {
        var time = new TicksTime();
        var limit = new DeviceRateLimit(burst: 1, TimeSpan.FromMilliseconds(10));

        Assert.True(limit.TryTake("doors/d", 100 * Ms, time));
        Assert.False(limit.TryTake("doors/d", 0, time));
        Assert.True(limit.TryTake("doors/d", 110 * Ms, time));
    }

    /// <summary>Timestamps in ticks, given by the test: the limit reads only the arrival times it is handed.</summary>
    private sealed class TicksTime : TimeProvider
    {
        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => throw new InvalidOperationException("the limit must use the arrival times it is given");
    }
}

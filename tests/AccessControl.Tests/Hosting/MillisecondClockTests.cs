using AccessControl.Hosting;
using AccessControl.Tests.Support;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.Hosting;

public sealed class MillisecondClockTests
{
    [Theory]
    [InlineData(1_764_580_502_123_456_700L, 1_764_580_502_123L)]   // 2025-12-01T09:15:02.1234567Z
    [InlineData(1_764_580_502_123_000_000L, 1_764_580_502_123L)]   // already whole milliseconds: unchanged
    [InlineData(1_764_580_502_999_999_999L, 1_764_580_502_999L)]   // cut, never rounded up into the next millisecond
    [InlineData(-1_500_000L, -2L)]                                 // before the epoch: towards the start of time, as stored
    public void GetCurrentInstant_CutsTheInnerClocksInstantToTheMillisecond(long nanoseconds, long expectedMilliseconds)
    {
        var clock = new MillisecondClock(new FakeClock(Instant.FromUnixTimeTicks(0) + Duration.FromNanoseconds(nanoseconds)));

        var now = clock.GetCurrentInstant();

        Assert.Equal(Instant.FromUnixTimeMilliseconds(expectedMilliseconds), now);
        Assert.Equal(now, Instant.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds())); // what the log stores reads back equal
    }

    [Fact]
    public void GetCurrentInstant_FollowsTheInnerClock()
    {
        var inner = new FakeClock(Instant.FromUtc(2026, 12, 2, 9, 0));
        var clock = new MillisecondClock(inner);

        inner.Advance(Duration.FromTicks(12_345_678));

        Assert.Equal(Instant.FromUtc(2026, 12, 2, 9, 0) + Duration.FromMilliseconds(1234), clock.GetCurrentInstant());
    }

    [Fact]
    public void TheServicesCompositionRoot_ReadsTheSystemClockToTheMillisecond()
    {
        var program = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "src", "AccessControl", "Program.cs"));
        var lab = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "hardware-sim", "AccessControl.Lab", "Program.cs"));

        Assert.Contains("new MillisecondClock(NodaTime.SystemClock.Instance)", program, StringComparison.Ordinal);
        Assert.Contains("new AccessControl.Hosting.MillisecondClock(NodaTime.SystemClock.Instance)", lab, StringComparison.Ordinal);
        Assert.Equal(1, program.Split("SystemClock.Instance").Length - 1);
        Assert.Equal(1, lab.Split("SystemClock.Instance").Length - 1);
    }
}

namespace AccessControl.Tests.Chaos;

/// <summary>The wall clock for a test whose devices talk to a service process that runs on the wall clock.</summary>
internal sealed class WallClock(TimeProvider time) : NodaTime.IClock
{
    public NodaTime.Instant GetCurrentInstant() => NodaTime.Instant.FromDateTimeOffset(time.GetUtcNow());
}

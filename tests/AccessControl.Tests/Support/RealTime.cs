namespace AccessControl.Tests.Support;

/// <summary>
/// Wall-clock time for integration tests that talk to real brokers over real sockets, where retries and pings have to
/// happen in real time. Production code may not use <c>TimeProvider.System</c> (banned, so that every class takes an
/// injected clock); a subclass with no overrides behaves exactly like it, and tests opt in explicitly here.
/// </summary>
public sealed class RealTime : TimeProvider
{
    public static RealTime Instance { get; } = new();

    private RealTime()
    {
    }
}

namespace AccessControl.Tests.Support;

/// <summary>How long a test waits for a signal before failing. Generous: it bounds a hang, it does not time anything.</summary>
public static class TestTimeouts
{
    public static TimeSpan Signal { get; } = TimeSpan.FromSeconds(20);
}

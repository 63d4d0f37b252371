namespace AccessControl.Tests.HardwareSim.Support;

/// <summary>Generous real-time limits so that a broken test fails instead of hanging. Not timing thresholds.</summary>
public static class Await
{
    public static TimeSpan Guard { get; } = TimeSpan.FromSeconds(30);

    public static Task Guarded(this Task task) => task.WaitAsync(Guard);

    public static Task<T> Guarded<T>(this Task<T> task) => task.WaitAsync(Guard);
}

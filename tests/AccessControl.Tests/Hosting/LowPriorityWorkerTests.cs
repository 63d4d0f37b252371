using AccessControl.Hosting;

namespace AccessControl.Tests.Hosting;

public sealed class LowPriorityWorkerTests
{
    [Fact]
    public async Task Work_RunsOnAThreadOfTheLowestPriority_AndItsExceptionReachesTheAwaiter()
    {
        using var worker = new LowPriorityWorker("test-low-priority");
        var nice = int.MinValue;

        await worker.RunAsync(() => nice = NiceOfThisThread());
        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => worker.RunAsync(() => throw new InvalidOperationException("round failed")));
        var after = 0;
        await worker.RunAsync(() => after = 1);

        Assert.True(worker.Lowered);
        Assert.Equal(19, nice);
        Assert.Equal("round failed", failed.Message);
        Assert.Equal(1, after); // a failed piece of work does not stop the thread
    }

    /// <summary>The nice value, field 19 of /proc/thread-self/stat (counted after the parenthesised name, which may hold spaces).</summary>
    private static int NiceOfThisThread()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[16], System.Globalization.CultureInfo.InvariantCulture);
    }
}

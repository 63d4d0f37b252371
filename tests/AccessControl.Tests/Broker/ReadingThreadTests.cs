using AccessControl.Broker;
using AccessControl.Tests.Support;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

/// <summary>
/// Each connection's reading thread (<see cref="BlockingTcpChannel"/>) ends with its connection. Counted by name in
/// /proc/self/task, so the class runs alone: no other test's connection comes or goes meanwhile.
/// </summary>
[Collection(Name)]
public class ReadingThreadTests
{
    public const string Name = "reading-threads";

    [Fact]
    public async Task EachConnectionKeepsOneReadingThread_AcrossBrokerRestarts_AndNoneOutlivesTheService()
    {
        var before = Threads();
        await using var broker = await MosquittoProcess.StartAsync(Topology, Secrets, new AccessControl.Protocol.Topics());
        var options = new BrokerOptions
        {
            Mode = BrokerMode.External,
            Host = "127.0.0.1",
            Port = broker.Port,
            PingInterval = TimeSpan.FromMilliseconds(100),
            RetryDelay = TimeSpan.FromMilliseconds(20),
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        };
        var one = (before.In + 1, before.Out + 1);
        await using (var connection = new ServiceConnection(options, Secrets, RealTime.Instance, (_, _) => ValueTask.CompletedTask))
        {
            await connection.StartAsync(CancellationToken.None);
            await PublishingConnectionUpAsync(connection);
            await Until(() => Threads() == one);
            for (var restart = 0; restart < 3; restart++)
            {
                var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                connection.Connected += () => reconnected.TrySetResult();
                await broker.StopAsync();
                await broker.StartAgainAsync();
                await reconnected.Task.WaitAsync(TestTimeouts.Signal);
                await PublishingConnectionUpAsync(connection);
                await Until(() => Threads() == one);
            }
        }

        await Until(() => Threads() == before);
        Assert.Equal(before, Threads());
    }

    private static (int In, int Out) Threads()
    {
        var names = Directory.GetDirectories("/proc/self/task")
            .Select(task => File.Exists(Path.Combine(task, "comm")) ? ReadOrEmpty(Path.Combine(task, "comm")) : "")
            .ToList();
        return (names.Count(n => n == "ac-mqtt-in"), names.Count(n => n == "ac-mqtt-out"));
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return ""; // the thread ended while we looked
        }
    }

    private static Task PublishingConnectionUpAsync(ServiceConnection connection) => Until(() => connection.PublishesSeparately);

    /// <summary>
    /// A thread's exit has no signal to await: /proc is polled until the count is the expected one, and a leaked thread
    /// (a count that never comes back) fails the test at the timeout.
    /// </summary>
    private static async Task Until(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Signal);
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}

[CollectionDefinition(ReadingThreadTests.Name, DisableParallelization = true)]
public sealed class ReadingThreadCollection;

using System.Net;
using System.Net.Sockets;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// <c>accesscontrol run</c> on a host where a port it needs is taken (a Mosquitto daemon its package started on 1883,
/// a second service): a sentence that says which port and what to do, exit code 2, not an unhandled exception.
/// </summary>
public sealed class RunCommandTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Run_WhenTheBrokerPortIsTaken_SaysWhichAndWhatToDo_AndExitsWithTwo()
    {
        using var taken = Occupy();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (exit, output) = await RunServiceAsync("--broker-port", $"{port}", "--http", "http://127.0.0.1:0");

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start the embedded MQTT broker: port {port} is already in use", output, StringComparison.Ordinal);
        Assert.Contains("--external-broker", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WhenTheHttpPortIsTaken_SaysWhichAndWhatToDo_AndExitsWithTwo()
    {
        using var taken = Occupy();
        var url = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var (exit, output) = await RunServiceAsync("--broker-port", "0", "--http", url);

        Assert.Equal(2, exit);
        Assert.Contains($"Cannot start the admin API: {url} is already in use", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    private static TcpListener Occupy()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static async Task<(int Exit, string Output)> RunServiceAsync(params string[] arguments)
    {
        var directory = Directory.CreateTempSubdirectory("ac-run-").FullName;
        try
        {
            return await ProgramRun.RunAsync("dotnet",
                [Path.Combine(AppContext.BaseDirectory, "accesscontrol.dll"), "run", "--site", EdgeHarness.DemoSiteFile, "--data", directory, .. arguments], Timeout);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

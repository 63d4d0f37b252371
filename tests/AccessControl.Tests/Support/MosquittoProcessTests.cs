using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AccessControl.Tests.Support;

/// <summary>The Mosquitto fixture itself: a broker that fails to start must not be left running.</summary>
public class MosquittoProcessTests
{
    [Fact]
    public async Task StartAgainAsync_PortTaken_FailsWithMosquittosOutput_AndLeavesNoProcess()
    {
        await using var broker = await MosquittoProcess.StartAsync(TestSite.Topology, TestSite.Secrets, TestSite.Topics);
        await broker.StopAsync();
        using var squatter = new TcpListener(IPAddress.Loopback, broker.Port);
        squatter.Start();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(broker.StartAgainAsync);

        Assert.Contains("Address already in use", error.Message, StringComparison.Ordinal);
        Assert.True(HasExited(broker.LastProcessId!.Value));
    }

    [Fact]
    public async Task StopAsync_EndsTheProcess_AndStartAgainAsyncUsesTheSamePort()
    {
        await using var broker = await MosquittoProcess.StartAsync(TestSite.Topology, TestSite.Secrets, TestSite.Topics);
        var first = broker.LastProcessId!.Value;

        await broker.StopAsync();
        var stopped = HasExited(first);
        await broker.StartAgainAsync();

        Assert.True(stopped);
        Assert.NotEqual(first, broker.LastProcessId);
        await using var client = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, TestSite.MainReaderIn);
        Assert.Equal(MQTTnet.MqttClientConnectResultCode.Success, client.Result.ResultCode);
    }

    private static bool HasExited(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }
}

using System.Net.Sockets;
using System.Text;
using AccessControl.Broker;
using AccessControl.Tests.HardwareSim.Support;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Broker;

/// <summary>
/// The embedded broker's own warnings and errors reach the service's log (before, MQTTnet's server log went nowhere, so
/// an operator never saw why a connection failed, nor an accept failing for want of file descriptors). Much of what they
/// say was written by a client before any login, so no forged line, no stack for a peer's fault, and at most
/// <see cref="MqttNetLog.PerMinute"/> lines a minute.
/// </summary>
public sealed class BrokerLogTests
{
    [Fact]
    [Trait("control", "NIST-SI-4")]
    [Trait("control", "NIST-AU-9")]
    public async Task AConnectTheBrokerCannotRead_IsInTheServiceLog_OnOneLine_WithoutAStack()
    {
        var capture = new CapturingLoggerProvider();
        await using var broker = await EmbeddedBrokerFixture.StartAsync(TestSite.Topology, TestSite.Secrets, logger: capture.CreateLogger("broker"));

        await SendConnectAsync(broker.Port, "MQTT\n12:00:00 info: forged");

        var line = Assert.Single(capture.Lines);
        Assert.StartsWith("Error broker: MQTT broker (MqttClientSessionsManager): Protocol 'MQTT?12:00:00 info: forged' not supported.", line, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at MQTTnet.", line, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-4")]
    public async Task AFloodOfUnreadableConnects_WritesAtMostTwentyLinesAMinute_ThenSaysHowManyWereLeftOut()
    {
        var capture = new CapturingLoggerProvider();
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        await using var broker = await EmbeddedBrokerFixture.StartAsync(TestSite.Topology, TestSite.Secrets, time: time, logger: capture.CreateLogger("broker"));

        for (var i = 0; i < MqttNetLog.PerMinute + 5; i++)
        {
            await SendConnectAsync(broker.Port, $"X{i}");
        }

        var whileFlooded = capture.Lines.Count;
        time.Advance(TimeSpan.FromMinutes(1));
        await SendConnectAsync(broker.Port, "after");

        Assert.Equal(MqttNetLog.PerMinute, whileFlooded);
        Assert.Equal(
            ["Warning broker: MQTT broker: 5 more warnings and errors were left out of the log in the minute before", "Protocol 'after' not supported."],
            capture.Lines.Skip(whileFlooded).Select(l => l.Contains("'after'", StringComparison.Ordinal) ? "Protocol 'after' not supported." : l[..l.IndexOf(" [", StringComparison.Ordinal)]));
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    [Trait("control", "NIST-SI-4")]
    public async Task AnAcceptThatKeepsFailing_AsOutOfFileDescriptors_IsLoggedWhenItStartsAndWhenItEnds_AndDevicesConnectAgain()
    {
        // More failures than MqttNetLog.PerMinute lines: one line each would crowd every other broker warning out.
        const int failures = MqttNetLog.PerMinute + 10;
        var capture = new CapturingLoggerProvider();
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        var attempts = 0;
        var acceptingAgain = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask<Socket> Accept(Socket listening, CancellationToken stop)
        {
            if (Interlocked.Increment(ref attempts) <= failures)
            {
                throw new SocketException((int)SocketError.TooManyOpenSockets);
            }

            acceptingAgain.TrySetResult();
            return listening.AcceptAsync(stop);
        }

        await using var broker = await EmbeddedBrokerFixture.StartAsync(TestSite.Topology, TestSite.Secrets, time: time, logger: capture.CreateLogger("broker"), accept: Accept);
        await time.AdvanceUntilAsync(acceptingAgain.Task);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, TestSite.MainReaderIn);

        var at = $"127.0.0.1:{broker.Port}";
        Assert.Equal(
            [
                $"Error broker: MQTT broker (BrokerListeners): Accepting connections on {at} fails; no device can connect until it succeeds again (tried every 1 s) (SocketException: {new SocketException((int)SocketError.TooManyOpenSockets).Message})",
                $"Warning broker: MQTT broker (BrokerListeners): Accepting connections on {at} again, after {failures} failed attempts over {failures} s",
            ],
            capture.Lines.Select(l => l[..l.IndexOf(" [", StringComparison.Ordinal)]));
    }

    [Theory]
    [InlineData(SocketError.ConnectionAborted)]
    [InlineData(SocketError.ConnectionReset)]
    [Trait("control", "NIST-SC-5")]
    public async Task AnAcceptThatFailsForOneConnection_AsAClientGoneBeforeItWasAccepted_IsSkippedAtOnce_WithoutPauseOrErrorLine(SocketError error)
    {
        var capture = new CapturingLoggerProvider();

        // Never advanced: a pause after any of these failures would hold every device back for good.
        var time = new ManualTimeProvider(EmbeddedBrokerFixture.Now);
        var attempts = 0;
        ValueTask<Socket> Accept(Socket listening, CancellationToken stop) => Interlocked.Increment(ref attempts) <= MqttNetLog.PerMinute + 10
            ? throw new SocketException((int)error)
            : listening.AcceptAsync(stop);

        await using var broker = await EmbeddedBrokerFixture.StartAsync(TestSite.Topology, TestSite.Secrets, time: time, logger: capture.CreateLogger("broker"), accept: Accept);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, TestSite.MainReaderIn);

        Assert.Empty(capture.Lines);
    }

    /// <summary>A CONNECT whose protocol name is <paramref name="protocol"/>: the broker refuses it and closes the connection.</summary>
    private static async Task SendConnectAsync(int port, string protocol)
    {
        var name = Encoding.UTF8.GetBytes(protocol);
        using var socket = await RawMqttSocket.OpenAsync(port);
        await socket.SendAsync([.. RawMqttSocket.Header(RawMqttSocket.Connect, name.Length + 6), (byte)(name.Length >> 8), (byte)name.Length, .. name, 4, 2, 0, 60]);
        await socket.ClosedByServerAsync();
    }
}

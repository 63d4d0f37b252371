using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using AccessControl.Devices;
using AccessControl.HardwareSim.Devices;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace AccessControl.Tests.HardwareSim.Support;

/// <summary>
/// A real MQTTnet broker on 127.0.0.1 and a free port, checking every login against <see cref="DeviceSecrets"/>
/// like the production broker does. It can be stopped and started again on the same port.
/// </summary>
public sealed class TestBroker : IAsyncDisposable
{
    private readonly Channel<string> refused = Channel.CreateUnbounded<string>();
    private MqttServer? server;

    private TestBroker(DeviceSecrets secrets, int port)
    {
        Secrets = secrets;
        Port = port;
    }

    public DeviceSecrets Secrets { get; }

    /// <summary>
    /// The port, chosen by the OS at the first start (port 0) and kept for restarts. Not probed beforehand: a probed
    /// "free" port can be handed to a parallel test too, and with SO_REUSEPORT both brokers would bind it.
    /// </summary>
    public int Port { get; private set; }

    public BrokerEndpoint Endpoint => new("127.0.0.1", Port);

    /// <summary>Usernames whose login was refused, in order.</summary>
    public ChannelReader<string> Refused => refused.Reader;

    public static async Task<TestBroker> StartAsync(DeviceSecrets secrets)
    {
        var broker = new TestBroker(secrets, 0);
        await broker.StartAgainAsync();
        return broker;
    }

    public async Task StartAgainAsync()
    {
        var options = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(IPAddress.Loopback)
            .WithDefaultEndpointBoundIPV6Address(IPAddress.None)
            .WithDefaultEndpointPort(Port)
            .WithDefaultEndpointReuseAddress()
            .Build();
        var fresh = new MqttServerFactory().CreateMqttServer(options);
        fresh.ValidatingConnectionAsync += e =>
        {
            var ok = e.UserName is not null && e.ClientId == e.UserName && Secrets.Verify(e.UserName, e.Password ?? "");
            e.ReasonCode = ok ? MqttConnectReasonCode.Success : MqttConnectReasonCode.BadUserNameOrPassword;
            if (!ok)
            {
                refused.Writer.TryWrite(e.UserName ?? "");
            }

            return Task.CompletedTask;
        };
        await fresh.StartAsync();
        Port = options.DefaultEndpointOptions.Port;
        server = fresh;
    }

    public async Task StopAsync()
    {
        if (server is { } running)
        {
            server = null;
            await running.StopAsync();
            running.Dispose();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}

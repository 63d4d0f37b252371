using System.Buffers;
using System.Threading.Channels;
using AccessControl.Broker;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace AccessControl.Tests.Support;

/// <summary>
/// A plain MQTT client playing a device, the monitor or the service in broker tests. Collects what it receives in a
/// channel so tests await the next message instead of sleeping.
/// </summary>
public sealed class TestMqttClient : IAsyncDisposable
{
    private readonly Channel<ReceivedMessage> messages = Channel.CreateUnbounded<ReceivedMessage>();
    private readonly TaskCompletionSource<MqttClientDisconnectedEventArgs> disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool dropped;

    private TestMqttClient(IMqttClient mqtt, MqttClientConnectResult result)
    {
        Mqtt = mqtt;
        Result = result;
    }

    public IMqttClient Mqtt { get; }

    /// <summary>The CONNACK outcome; anything but Success means the broker refused the connection.</summary>
    public MqttClientConnectResult Result { get; }

    public bool IsConnected => Mqtt.IsConnected;

    /// <summary>Completes when an established connection is lost or closed by the broker.</summary>
    public Task<MqttClientDisconnectedEventArgs> Disconnected => disconnected.Task;

    /// <summary>Connects as <paramref name="username"/> with its derived secret from <see cref="TestSite.Secrets"/>.</summary>
    public static Task<TestMqttClient> ConnectAsDeviceAsync(int port, string username, string? clientId = null, string? willTopic = null) =>
        ConnectAsync(port, username, TestSite.Secrets.For(username), clientId, willTopic);

    /// <param name="tls">TLS (with or without a client certificate); null: plain TCP.</param>
    /// <param name="password">Null: no password at all (with TLS the certificate is the credential).</param>
    public static async Task<TestMqttClient> ConnectAsync(int port, string username, string? password, string? clientId = null, string? willTopic = null, MqttClientTlsOptions? tls = null)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId ?? username)
            .WithCredentials(username, password)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithTimeout(TimeSpan.FromSeconds(5));
        if (tls is not null)
        {
            builder.WithTlsOptions(tls);
        }

        if (willTopic is not null)
        {
            builder.WithWillTopic(willTopic).WithWillPayload("offline").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        }

        var mqtt = new MqttClientFactory().CreateMqttClient();
        // MQTTnet 5 returns a refused CONNACK as a result instead of throwing.
        var result = await mqtt.ConnectAsync(builder.Build());
        var client = new TestMqttClient(mqtt, result);
        mqtt.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            client.messages.Writer.TryWrite(new ReceivedMessage(m.Topic, m.Payload.ToArray(), m.Retain));
            return Task.CompletedTask;
        };
        mqtt.DisconnectedAsync += e =>
        {
            if (e.ClientWasConnected)
            {
                client.disconnected.TrySetResult(e);
            }

            return Task.CompletedTask;
        };
        return client;
    }

    public Task<MqttClientPublishResult> PublishAsync(string topic, string payload, bool retain = false) =>
        Mqtt.PublishStringAsync(topic, payload, MqttQualityOfServiceLevel.AtLeastOnce, retain);

    /// <summary>Publishes at QoS 1 under an MQTT 5 topic alias: with a topic, it sets the alias; with "", it uses it.</summary>
    public Task<MqttClientPublishResult> PublishWithTopicAliasAsync(string topic, int alias, string payload) =>
        Mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithTopicAlias(checked((ushort)alias)).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    public async Task<MqttClientSubscribeResultCode> SubscribeAsync(string filter)
    {
        var result = await Mqtt.SubscribeAsync(filter, MqttQualityOfServiceLevel.AtLeastOnce);
        return Assert.Single(result.Items).ResultCode;
    }

    /// <summary>Subscribes and asserts the broker granted it.</summary>
    public async Task SubscribeGrantedAsync(string filter)
    {
        var code = await SubscribeAsync(filter);
        Assert.True(code <= MqttClientSubscribeResultCode.GrantedQoS2, $"subscription to {filter} was refused: {code}");
    }

    /// <summary>The next message received, or a test failure after <see cref="TestTimeouts.Signal"/>.</summary>
    public async Task<ReceivedMessage> NextMessageAsync() =>
        await messages.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Signal);

    /// <summary>
    /// Drops the connection without a DISCONNECT packet, as a power cut would, so the broker publishes the will.
    /// (MQTTnet's broker treats any DISCONNECT, even reason 0x04 "with will message", as clean and sends no will.)
    /// </summary>
    public void DropConnection()
    {
        dropped = true;
        Mqtt.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (dropped)
        {
            return;
        }

        if (Mqtt.IsConnected)
        {
            await Mqtt.TryDisconnectAsync();
        }

        Mqtt.Dispose();
    }
}

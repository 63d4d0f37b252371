using System.Text;
using System.Threading.Channels;
using AccessControl.Devices;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Protocol;

namespace AccessControl.Tests.HardwareSim.Support;

/// <summary>A message the test service received, with its payload as text for literal comparisons.</summary>
public sealed record Received(string Topic, TopicAddress Address, string Json, MqttQualityOfServiceLevel QoS, bool Retained)
{
    public ReaderEvent? ReaderEvent => Address.Kind == TopicKind.ReaderEvents ? WireFormat.ParseReaderEvent(Encoding.UTF8.GetBytes(Json)).Value : null;

    public DoorEvent? DoorEvent => Address.Kind == TopicKind.DoorEvents ? WireFormat.ParseDoorEvent(new(Encoding.UTF8.GetBytes(Json))).Value : null;

    public DeviceStatus? Status => Address.Kind is TopicKind.ReaderStatus or TopicKind.DoorStatus ? WireFormat.ParseDeviceStatus(new(Encoding.UTF8.GetBytes(Json))).Value : null;
}

/// <summary>
/// A stand-in for the access-control service: logs in as <c>ac-service</c>, subscribes to what the service
/// subscribes to, records everything it receives, and can answer card events through <see cref="Answer"/>.
/// </summary>
public sealed class TestService : IAsyncDisposable
{
    private readonly object gate = new();
    private readonly List<Received> received = [];
    private readonly Channel<(string Topic, byte[] Payload)> outgoing = Channel.CreateUnbounded<(string, byte[])>();
    private readonly IMqttClient client;
    private readonly Topics topics;
    private readonly Task sender;
    private TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private TestService(IMqttClient client, Topics topics)
    {
        this.client = client;
        this.topics = topics;
        sender = Task.Run(SendLoopAsync);
    }

    /// <summary>Decides card events as they arrive; null (or a null result) leaves the event unanswered.</summary>
    public Func<ReaderEvent, DecisionMessage?>? Answer { get; set; }

    public static async Task<TestService> ConnectAsync(TestBroker broker, Topics? topics = null)
    {
        topics ??= new Topics();
        var client = new MqttClientFactory().CreateMqttClient();
        var service = new TestService(client, topics);
        client.ApplicationMessageReceivedAsync += service.OnMessageAsync;
        var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", broker.Port)
            .WithClientId(DeviceSecrets.ServiceUsername)
            .WithCredentials(DeviceSecrets.ServiceUsername, broker.Secrets.For(DeviceSecrets.ServiceUsername))
            .Build());
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        foreach (var filter in topics.ServiceSubscriptions)
        {
            subscribe.WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce);
        }

        await client.SubscribeAsync(subscribe.Build());
        return service;
    }

    /// <summary>Waits for the <paramref name="occurrence"/>-th received message that matches (counting messages already received).</summary>
    public async Task<Received> WaitForAsync(Func<Received, bool> match, int occurrence = 1)
    {
        using var timeout = new CancellationTokenSource(Await.Guard);
        while (true)
        {
            Task signal;
            lock (gate)
            {
                var found = received.Where(match).Skip(occurrence - 1).FirstOrDefault();
                if (found is not null)
                {
                    return found;
                }

                signal = changed.Task;
            }

            await signal.WaitAsync(timeout.Token);
        }
    }

    public Task<Received> WaitForReaderEventAsync(string readerId, ReaderEventType type, int occurrence = 1) =>
        WaitForAsync(m => m.Address.Kind == TopicKind.ReaderEvents && m.Address.DeviceId == readerId && m.ReaderEvent?.Type == type, occurrence);

    public Task<Received> WaitForDoorEventAsync(string doorId, DoorEventType type, int occurrence = 1) =>
        WaitForAsync(m => m.Address.Kind == TopicKind.DoorEvents && m.Address.DeviceId == doorId && m.DoorEvent?.Type == type, occurrence);

    public Task<Received> WaitForReaderStatusAsync(string readerId, DeviceState state) =>
        WaitForAsync(m => m.Address.Kind == TopicKind.ReaderStatus && m.Address.DeviceId == readerId && m.Status?.State == state);

    public IReadOnlyList<Received> All(Func<Received, bool> match)
    {
        lock (gate)
        {
            return [.. received.Where(match)];
        }
    }

    public Task SendDecisionAsync(string readerId, DecisionMessage decision) =>
        client.PublishAsync(Message(topics.ReaderDecisions(readerId), WireFormat.Write(decision)));

    public Task SendReaderCommandAsync(string readerId, ReaderCommand command) =>
        client.PublishAsync(Message(topics.ReaderCommands(readerId), WireFormat.Write(command)));

    public Task SendDoorCommandAsync(string doorId, DoorCommand command) =>
        client.PublishAsync(Message(topics.DoorCommands(doorId), WireFormat.Write(command)));

    public async ValueTask DisposeAsync()
    {
        outgoing.Writer.TryComplete();
        await sender;
        client.Dispose();
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var message = e.ApplicationMessage;
        var item = new Received(message.Topic, topics.Parse(message.Topic), Encoding.UTF8.GetString(message.Payload), message.QualityOfServiceLevel, message.Retain);
        TaskCompletionSource signal;
        lock (gate)
        {
            received.Add(item);
            signal = changed;
            changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        signal.TrySetResult();
        if (item.ReaderEvent is { Type: ReaderEventType.Card } card && Answer?.Invoke(card) is { } decision)
        {
            // Answered from a loop, not from inside the receive handler.
            outgoing.Writer.TryWrite((topics.ReaderDecisions(item.Address.DeviceId), WireFormat.Write(decision)));
        }

        return Task.CompletedTask;
    }

    private async Task SendLoopAsync()
    {
        await foreach (var (topic, payload) in outgoing.Reader.ReadAllAsync())
        {
            if (client.IsConnected)
            {
                await client.PublishAsync(Message(topic, payload));
            }
        }
    }

    private static MqttApplicationMessage Message(string topic, byte[] payload) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
}

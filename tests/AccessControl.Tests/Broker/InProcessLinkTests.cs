using System.Text;
using System.Threading.Channels;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Tests.Support;
using MQTTnet;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

/// <summary>
/// The service inside the embedded broker: what devices publish for it arrives without a socket, its answers reach
/// them through the broker's own dispatch and topic policy, and its identity is closed to the network meanwhile.
/// </summary>
public class InProcessLinkTests
{
    private readonly Channel<ReceivedMessage> delivered = Channel.CreateUnbounded<ReceivedMessage>();

    private ValueTask Deliver(ReceivedMessage message, CancellationToken cancellationToken) => delivered.Writer.WriteAsync(message, cancellationToken);

    // StartAsync returns once the retained messages it replays are delivered, so what it delivered is all here.
    private List<string> DeliveredSoFar()
    {
        var topics = new List<string>();
        while (delivered.Reader.TryRead(out var message))
        {
            topics.Add(message.Topic);
        }

        return topics;
    }

    private async Task<ReceivedMessage> NextDeliveredAsync() => await delivered.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Signal);

    [Fact]
    public async Task ReaderEvent_IsDeliveredToTheService_AndAcceptedByTheBroker()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await link.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        var puback = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "{\"eventId\":\"e-1\"}");

        Assert.True(puback.IsSuccess, $"PUBACK {puback.ReasonCode}");
        var message = await NextDeliveredAsync();
        Assert.Equal(Topics.ReaderEvents(MainReaderIn), message.Topic);
        Assert.Equal("{\"eventId\":\"e-1\"}", Encoding.UTF8.GetString(message.Payload.Span));
        Assert.True(link.IsConnected);
    }

    [Fact]
    public async Task ServiceAnswer_ReachesTheSubscribedReader_AsAQoS1Publish()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await link.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await reader.SubscribeGrantedAsync(Topics.ReaderDecisions(MainReaderIn));

        var outcome = await link.PublishAsync(Topics.ReaderDecisions(MainReaderIn), Encoding.UTF8.GetBytes("{\"decision\":\"grant\"}"), retain: false, CancellationToken.None);

        Assert.Equal(PublishOutcome.Ok, outcome);
        var answer = await reader.NextMessageAsync();
        Assert.Equal(Topics.ReaderDecisions(MainReaderIn), answer.Topic);
        Assert.Equal("{\"decision\":\"grant\"}", Encoding.UTF8.GetString(answer.Payload.Span));
    }

    [Fact]
    public async Task MessagesOutsideTheServicesSubscriptions_AreNotDelivered()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await link.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        // Refused by the topic policy (another reader's topic), then one the service does not subscribe to, then a real one.
        await reader.PublishAsync(Topics.ReaderEvents(HallReaderIn), "forged");
        await link.PublishAsync(Topics.ReaderCommands(MainReaderIn), "{}"u8.ToArray(), retain: false, CancellationToken.None);
        await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "real");

        var only = await NextDeliveredAsync();
        Assert.Equal("real", Encoding.UTF8.GetString(only.Payload.Span));
        Assert.False(delivered.Reader.TryRead(out _));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task ServicePublish_OutsideItsRights_IsAFailure_NotASilentDrop()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await link.StartAsync(CancellationToken.None);

        var outcome = await link.PublishAsync("other-app/commands", "{}"u8.ToArray(), retain: false, CancellationToken.None);

        Assert.False(outcome.Accepted);
        Assert.Contains("may not publish on 'other-app/commands'", outcome.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BeforeTheServiceStarts_ADevicesEventIsRefused_SoTheReaderKeepsIt()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        var puback = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "too early");

        Assert.False(puback.IsSuccess);
        Assert.Equal(MqttClientPublishReasonCode.ImplementationSpecificError, puback.ReasonCode);
        Assert.Contains("not ready", puback.ReasonString, StringComparison.Ordinal);
        Assert.False(link.IsConnected);
        Assert.False(delivered.Reader.TryRead(out _));
    }

    [Fact]
    public async Task RetainedStatus_PublishedBeforeTheStart_IsDeliveredAtTheStart()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        var early = await reader.PublishAsync(Topics.ReaderStatus(MainReaderIn), "{\"state\":\"online\"}", retain: true);

        await link.StartAsync(CancellationToken.None);

        Assert.True(early.IsSuccess, $"PUBACK {early.ReasonCode}");
        var status = await NextDeliveredAsync();
        Assert.Equal(Topics.ReaderStatus(MainReaderIn), status.Topic);
        Assert.True(status.Retained);
    }

    [Fact]
    public async Task RetainedEvent_PublishedBeforeTheStart_IsRefusedAsNotReady_AndNotDecidedAtTheStart()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        var early = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "{\"eventId\":\"e-1\"}", retain: true);
        await reader.PublishAsync(Topics.ReaderStatus(MainReaderIn), "{\"state\":\"online\"}", retain: true);

        await link.StartAsync(CancellationToken.None);

        // Refused like any other early event, so the reader keeps it and re-sends it (docs/reader-protocol.md §7.2).
        Assert.False(early.IsSuccess);
        Assert.Contains("not ready", early.ReasonString, StringComparison.Ordinal);
        Assert.Equal([Topics.ReaderStatus(MainReaderIn)], DeliveredSoFar());
    }

    [Fact]
    public async Task RetainedEvent_LeftInTheBrokersStore_IsNotReplayedAtTheStart_ButRetainedStatusesAre()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using (var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn))
        {
            // Before any service is attached the broker keeps whatever is published retained, events too.
            Assert.True((await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "{\"eventId\":\"e-1\"}", retain: true)).IsSuccess);
            Assert.True((await reader.PublishAsync(Topics.ReaderStatus(MainReaderIn), "{\"state\":\"online\"}", retain: true)).IsSuccess);
        }

        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await link.StartAsync(CancellationToken.None);

        Assert.Equal([Topics.ReaderStatus(MainReaderIn)], DeliveredSoFar());
    }

    [Fact]
    public async Task LastWill_OfADroppedReader_IsDelivered()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await link.StartAsync(CancellationToken.None);
        var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn, willTopic: Topics.ReaderStatus(MainReaderIn));

        reader.DropConnection();

        var will = await NextDeliveredAsync();
        Assert.Equal(Topics.ReaderStatus(MainReaderIn), will.Topic);
        Assert.Equal("offline", Encoding.UTF8.GetString(will.Payload.Span));
    }

    [Theory]
    [InlineData(DeviceSecrets.ServiceUsername)]
    [InlineData(DeviceSecrets.ServicePublisherUsername)]
    [Trait("control", "NIST-AC-6")]
    public async Task WhileAttached_TheServicesIdentitiesAreRefusedToNetworkClients_AndReported(string identity)
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        await link.StartAsync(CancellationToken.None);

        await using var impostor = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, identity);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, impostor.Result.ResultCode);
        var refusal = Assert.Single(broker.SecurityEvents);
        Assert.Equal(SecurityEvent.ConnectRefused, refusal.What);
        Assert.Contains("inside this broker", refusal.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BrokerRestart_IsReportedAsDisconnectedThenConnected()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);
        var events = Channel.CreateUnbounded<string>();
        link.Connected += () => events.Writer.TryWrite("connected");
        link.Disconnected += why => events.Writer.TryWrite("disconnected: " + why);
        await link.StartAsync(CancellationToken.None);

        await broker.StopAsync();
        var whileDown = link.IsConnected;
        var downOutcome = await link.PublishAsync(Topics.ReaderDecisions(MainReaderIn), "{}"u8.ToArray(), retain: false, CancellationToken.None);
        await broker.StartAgainAsync();

        Assert.False(whileDown);
        Assert.False(downOutcome.Accepted);
        Assert.True(link.IsConnected);
        string[] seen = [await Next(), await Next(), await Next()];
        Assert.Equal(["connected", "disconnected: the embedded broker stopped", "connected"], seen);

        async Task<string> Next() => await events.Reader.ReadAsync().AsTask().WaitAsync(TestTimeouts.Signal);
    }

    [Fact]
    public async Task ServiceStopping_RefusesTheEvent_InsteadOfAcceptingAndLosingIt()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        var closed = Channel.CreateBounded<ReceivedMessage>(1);
        closed.Writer.Complete();
        await using var link = new InProcessLink(broker.Broker, Topics, (m, ct) => closed.Writer.WriteAsync(m, ct));
        await link.StartAsync(CancellationToken.None);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        var puback = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "{}");

        Assert.Equal(MqttClientPublishReasonCode.ImplementationSpecificError, puback.ReasonCode);
        Assert.Contains("stopping", puback.ReasonString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASecondService_CannotAttachToTheSameBroker()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var link = new InProcessLink(broker.Broker, Topics, Deliver);

        Assert.Throws<InvalidOperationException>(() => new InProcessLink(broker.Broker, Topics, Deliver));
    }
}

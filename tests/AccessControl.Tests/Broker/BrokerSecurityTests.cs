using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

/// <summary>
/// The same security rules, proved against both brokers a site can run: the embedded one and Mosquitto configured by
/// MosquittoConfig. Where the two differ in how they refuse (reason code, or refusing at connect versus never
/// delivering), the test says so and checks what both guarantee.
/// A refused publish is proved by what the service never receives: the same client's own, allowed, message is
/// awaited as the "after" signal, and it must be the first thing that arrives.
/// </summary>
public class BrokerSecurityTests
{
    // Both brokers enqueue a QoS 1 message for subscribers before sending the PUBACK, and deliver one publisher's
    // messages in order, so "the allowed message arrives first" proves the refused one was never delivered.
    public static TheoryData<BrokerKind> Kinds => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    public async Task UnknownUsername_IsRefused(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);

        await using var intruder = await TestMqttClient.ConnectAsync(broker.Port, "rdr-not-in-site", Secrets.For("rdr-not-in-site"));

        AssertRefusedCredentials(kind, intruder.Result.ResultCode);
        Assert.False(intruder.IsConnected);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    public async Task KnownReaderWithWrongPassword_IsRefused(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        var otherSite = new DeviceSecrets(DeviceSecrets.NewKey());

        await using var anotherReadersSecret = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, Secrets.For(HallReaderIn));
        await using var anotherSitesSecret = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, otherSite.For(MainReaderIn));
        await using var empty = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, "");

        AssertRefusedCredentials(kind, anotherReadersSecret.Result.ResultCode);
        AssertRefusedCredentials(kind, anotherSitesSecret.Result.ResultCode);
        AssertRefusedCredentials(kind, empty.Result.ResultCode);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    public async Task EveryKindOfPrincipal_WithItsOwnSecret_IsAccepted(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);

        foreach (var username in new[] { MainReaderIn, HallController, DeviceSecrets.ServiceUsername, DeviceSecrets.ServicePublisherUsername, DeviceSecrets.MonitorUsername })
        {
            await using var client = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, username);
            Assert.Equal(MqttClientConnectResultCode.Success, client.Result.ResultCode);
        }
    }

    /// <summary>
    /// The embedded broker refuses a client id other than the username (ClientIdentifierNotValid). Mosquitto cannot
    /// refuse it, so it is configured with use_username_as_clientid: the session is keyed by the username instead.
    /// Either way, what must hold is that one device cannot kick another off by presenting its client id.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-IA-3")]
    public async Task ClientIdOtherThanUsername_CannotTakeOverAnotherDevicesSession(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var victim = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, HallReaderIn);
        await victim.SubscribeGrantedAsync(Topics.ReaderDecisions(HallReaderIn));
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);

        await using var impostor = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn, clientId: HallReaderIn);

        if (kind == BrokerKind.Embedded)
        {
            Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, impostor.Result.ResultCode);
        }

        // The victim still has its session: a decision published after the impostor's attempt reaches it.
        await service.PublishAsync(Topics.ReaderDecisions(HallReaderIn), "still-mine");
        var received = await victim.NextMessageAsync();
        Assert.Equal("still-mine", Encoding.UTF8.GetString(received.Payload.Span));
        Assert.True(victim.IsConnected);
        Assert.False(victim.Disconnected.IsCompleted);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task Reader_PublishingOnAnotherReadersEventsTopic_IsNeverDelivered(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.ReaderEvents("+"));
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        var forged = await reader.PublishAsync(Topics.ReaderEvents(HallReaderIn), "forged swipe");
        var own = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "own swipe");

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        Assert.True(own.IsSuccess);
        var first = await service.NextMessageAsync();
        Assert.Equal(Topics.ReaderEvents(MainReaderIn), first.Topic);
    }

    /// <summary>
    /// A payload over the brokers' limit (MosquittoConfig.MaxPublishPayloadBytes: no client sends more) is refused by
    /// both with PUBACK 0x95, and the same connection goes on serving the reader.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-SC-5")]
    public async Task Reader_PublishingAPayloadOverTheLimit_IsRefused_AndItsNextEventIsDelivered(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.ReaderEvents("+"));
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        var oversized = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), new string('x', MosquittoConfig.MaxPublishPayloadBytes(AccessControl.Protocol.WireFormat.DefaultMaxPayloadBytes) + 1));

        // 0x95 "packet too large" from both (Mosquitto 2.0's answer; not in MQTTnet's PUBACK enum): never re-send.
        Assert.Equal(0x95, (int)oversized.ReasonCode);
        await AssertOwnEventIsDeliveredFirstAsync(reader, service);
    }

    /// <summary>
    /// 4 MiB, a thousand times what a reader event may be, and far over both brokers' packet limit (the payload limit
    /// plus headroom: Mosquitto's max_packet_size, the embedded broker's MaxPacketBytes): both end the connection on
    /// the packet's header instead of reading it. The service never gets it, and the reader's next event (after
    /// reconnecting) is delivered.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-SC-5")]
    public async Task Reader_PublishingFourMebibytes_IsDisconnected_AndItsNextEventIsDelivered(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.ReaderEvents("+"));
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        // The client may or may not finish writing before the broker's close reaches it.
        await Record.ExceptionAsync(() => reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), new string('x', 4 * 1024 * 1024)));
        await reader.Disconnected.WaitAsync(TestTimeouts.Signal);

        await using var again = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await AssertOwnEventIsDeliveredFirstAsync(again, service);
    }

    /// <summary>The reader's own, allowed event is taken, and it is the first thing the service receives.</summary>
    private static async Task AssertOwnEventIsDeliveredFirstAsync(TestMqttClient reader, TestMqttClient service)
    {
        Assert.True((await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "own swipe")).IsSuccess);
        Assert.Equal("own swipe", Encoding.UTF8.GetString((await service.NextMessageAsync()).Payload.Span));
    }

    /// <summary>
    /// MQTT 5 topic aliases: a broker keeps the topic of every alias a client sets for the life of its connection. MQTTnet
    /// 5.2 keeps any alias number (1..65535) with any topic, before the topic policy sees it: one logged-in device could
    /// make it hold 65535 topics of 64 KiB each, gigabytes, until the process runs out of memory and every door with it.
    /// Both brokers take Mosquitto's default of 10 aliases; a device needs two topics per door.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-SC-5")]
    public async Task Reader_UsingATopicAliasWithinTheBrokersMaximum_IsDelivered_ButOneAboveIt_EndsItsConnection(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.ReaderEvents("+"));
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        Assert.True((await reader.PublishWithTopicAliasAsync(Topics.ReaderEvents(MainReaderIn), EmbeddedBroker.MaxTopicAlias, "set")).IsSuccess);
        Assert.True((await reader.PublishWithTopicAliasAsync("", EmbeddedBroker.MaxTopicAlias, "used")).IsSuccess);
        Assert.Equal(["set", "used"], [Encoding.UTF8.GetString((await service.NextMessageAsync()).Payload.Span), Encoding.UTF8.GetString((await service.NextMessageAsync()).Payload.Span)]);

        _ = reader.PublishWithTopicAliasAsync(Topics.ReaderEvents(MainReaderIn), EmbeddedBroker.MaxTopicAlias + 1, "over");

        await reader.Disconnected.WaitAsync(TestTimeouts.Signal);
        if (broker is EmbeddedBrokerFixture embedded)
        {
            Assert.Contains(embedded.SecurityEvents, e => e is { What: SecurityEvent.PacketRefused, Username: MainReaderIn } && e.Detail.Contains("topic alias 11", StringComparison.Ordinal));
        }

        await using var again = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await AssertOwnEventIsDeliveredFirstAsync(again, service);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task Reader_PublishingDecisionsOrCommands_IsNeverDelivered(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.Root + "/#");
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        // A reader granting itself access, or opening a door directly.
        var ownDecision = await reader.PublishAsync(Topics.ReaderDecisions(MainReaderIn), "grant");
        var doorCommand = await reader.PublishAsync(Topics.DoorCommands(MainEntrance), "unlock");
        var alarm = await reader.PublishAsync(Topics.Alarms, "fake alarm");
        await reader.PublishAsync(Topics.ReaderStatus(MainReaderIn), "online");

        Assert.All([ownDecision, doorCommand, alarm], r => Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, r.ReasonCode));
        Assert.Equal(Topics.ReaderStatus(MainReaderIn), (await service.NextMessageAsync()).Topic);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task Reader_SubscribingToAnotherReadersDecisions_ReceivesNothing(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await reader.SubscribeGrantedAsync(Topics.ReaderDecisions(MainReaderIn));

        var spying = await reader.SubscribeAsync(Topics.ReaderDecisions(HallReaderIn));
        var wildcard = await reader.SubscribeAsync(Topics.ReaderDecisions("+"));

        // The embedded broker refuses the subscription itself; Mosquitto 2.0 grants it but checks its read ACL on
        // every message, so nothing is delivered. Delivery is what matters, and is checked for both.
        if (kind == BrokerKind.Embedded)
        {
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, spying);
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, wildcard);
        }

        await service.PublishAsync(Topics.ReaderDecisions(HallReaderIn), "someone else's decision");
        await service.PublishAsync(Topics.ReaderDecisions(MainReaderIn), "own decision");
        var first = await reader.NextMessageAsync();
        Assert.Equal(Topics.ReaderDecisions(MainReaderIn), first.Topic);
        Assert.Equal("own decision", Encoding.UTF8.GetString(first.Payload.Span));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task DoorController_PublishingForADoorItDoesNotDrive_IsNeverDelivered(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.DoorEvents("+"));
        await using var controller = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainController);

        var forged = await controller.PublishAsync(Topics.DoorEvents(HallDoor), "door closed");
        var own = await controller.PublishAsync(Topics.DoorEvents(MainEntrance), "door opened");

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        Assert.True(own.IsSuccess);
        Assert.Equal(Topics.DoorEvents(MainEntrance), (await service.NextMessageAsync()).Topic);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task DoorController_ReceivesCommandsForEveryDoorItDrives_AndNoOther(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await using var controller = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, HallController);
        await controller.SubscribeGrantedAsync(Topics.DoorCommands(HallDoor));
        await controller.SubscribeGrantedAsync(Topics.DoorCommands(HallEmergencyExit));
        var other = await controller.SubscribeAsync(Topics.DoorCommands(MainEntrance));
        if (kind == BrokerKind.Embedded)
        {
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, other);
        }

        await service.PublishAsync(Topics.DoorCommands(MainEntrance), "unlock main");
        await service.PublishAsync(Topics.DoorCommands(HallDoor), "unlock hall");
        await service.PublishAsync(Topics.DoorCommands(HallEmergencyExit), "unlock exit");

        Assert.Equal(Topics.DoorCommands(HallDoor), (await controller.NextMessageAsync()).Topic);
        Assert.Equal(Topics.DoorCommands(HallEmergencyExit), (await controller.NextMessageAsync()).Topic);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task ServicePublisher_PublishesAnswers_ButCannotForgeADevicesEvent(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.Root + "/#");
        await using var publisher = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServicePublisherUsername);

        var swipe = await publisher.PublishAsync(Topics.ReaderEvents(MainReaderIn), "forged swipe");
        var opened = await publisher.PublishAsync(Topics.DoorEvents(MainEntrance), "forged exit request");
        var decision = await publisher.PublishAsync(Topics.ReaderDecisions(MainReaderIn), "grant");

        Assert.All([swipe, opened], r => Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, r.ReasonCode));
        Assert.True(decision.IsSuccess);
        Assert.Equal(Topics.ReaderDecisions(MainReaderIn), (await service.NextMessageAsync()).Topic);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task Monitor_CannotPublish(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.Root + "/#");
        await using var monitor = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.MonitorUsername);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        var alarm = await monitor.PublishAsync(Topics.Alarms, "fake all-clear");
        var decision = await monitor.PublishAsync(Topics.ReaderDecisions(MainReaderIn), "grant");
        var command = await monitor.PublishAsync(Topics.DoorCommands(MainEntrance), "unlock");

        // The monitor can publish nothing at all, so the "after" signal comes from a reader. The PUBACKs above came
        // after each broker decided on those messages, so anything it let through would already be queued ahead.
        await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "after");
        Assert.All([alarm, decision, command], r => Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, r.ReasonCode));
        Assert.Equal(Topics.ReaderEvents(MainReaderIn), (await service.NextMessageAsync()).Topic);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task Monitor_ReadsAlarmsAndDecisions(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await using var monitor = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.MonitorUsername);
        await monitor.SubscribeGrantedAsync(Topics.Alarms);
        await monitor.SubscribeGrantedAsync(Topics.ReaderDecisions("+"));
        var events = await monitor.SubscribeAsync(Topics.ReaderEvents("+"));
        if (kind == BrokerKind.Embedded)
        {
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, events);
        }

        await service.PublishAsync(Topics.ReaderEvents(MainReaderIn), "card number, not for the monitor");
        await service.PublishAsync(Topics.Alarms, "door forced");
        await service.PublishAsync(Topics.ReaderDecisions(HallReaderIn), "deny");

        Assert.Equal(Topics.Alarms, (await monitor.NextMessageAsync()).Topic);
        Assert.Equal(Topics.ReaderDecisions(HallReaderIn), (await monitor.NextMessageAsync()).Topic);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-6")]
    public async Task Monitor_ReadsDeviceStatus_RetainedIncluded_ButNoDeviceEvents(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        await using var controller = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, HallController);
        await reader.PublishAsync(Topics.ReaderStatus(MainReaderIn), "{\"state\":\"online\",\"at\":\"2026-11-28T12:00:00Z\"}", retain: true);
        await using var monitor = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.MonitorUsername);

        await monitor.SubscribeGrantedAsync(Topics.ReaderStatus("+"));
        var retained = await monitor.NextMessageAsync(); // published before the monitor came: retained, delivered at subscribe
        await monitor.SubscribeGrantedAsync(Topics.DoorStatus("+"));
        var doorEvents = await monitor.SubscribeAsync(Topics.DoorEvents("+"));
        if (kind == BrokerKind.Embedded)
        {
            Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, doorEvents);
        }

        await controller.PublishAsync(Topics.DoorEvents(HallDoor), "{\"type\":\"opened\"}");
        await controller.PublishAsync(Topics.DoorStatus(HallDoor), "{\"state\":\"online\",\"at\":\"2026-11-28T12:00:00Z\"}", retain: true);

        Assert.Equal(Topics.ReaderStatus(MainReaderIn), retained.Topic);
        Assert.Equal(Topics.DoorStatus(HallDoor), (await monitor.NextMessageAsync()).Topic);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task Service_PublishesAndSubscribesEverythingUnderTheRoot(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.Root + "/#");
        string[] everyKind =
        [
            Topics.ReaderEvents(MainReaderIn), Topics.ReaderStatus(MainReaderIn), Topics.ReaderDecisions(MainReaderIn),
            Topics.ReaderCommands(MainReaderIn), Topics.DoorEvents(HallDoor), Topics.DoorStatus(HallDoor),
            Topics.DoorCommands(HallDoor), Topics.Alarms,
        ];

        foreach (var topic in everyKind)
        {
            var result = await service.PublishAsync(topic, "x");
            Assert.True(result.IsSuccess, $"{topic}: {result.ReasonCode}");
        }

        foreach (var topic in everyKind)
        {
            Assert.Equal(topic, (await service.NextMessageAsync()).Topic);
        }
    }

    /// <summary>
    /// The embedded broker refuses a forbidden will at CONNECT (NotAuthorized). Mosquitto accepts the CONNECT but
    /// checks the will against the ACL when publishing it, so it is dropped. Either way it never reaches anyone.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task ReaderWillOnAnotherReadersStatus_IsNeverDelivered(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.ReaderStatus("+"));

        await using (var forger = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn, willTopic: Topics.ReaderStatus(HallReaderIn)))
        {
            if (kind == BrokerKind.Embedded)
            {
                Assert.Equal(MqttClientConnectResultCode.NotAuthorized, forger.Result.ResultCode);
            }
            else
            {
                forger.DropConnection();
            }
        }

        // The same reader with its own status as will: that will is delivered, and is the first status to arrive.
        await using (var honest = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn, willTopic: Topics.ReaderStatus(MainReaderIn)))
        {
            Assert.Equal(MqttClientConnectResultCode.Success, honest.Result.ResultCode);
            honest.DropConnection();
        }

        Assert.Equal(Topics.ReaderStatus(MainReaderIn), (await service.NextMessageAsync()).Topic);
    }

    /// <summary>
    /// A will is checked as a publish by the device. On its own events topic the device may publish, so Mosquitto
    /// accepts the will and delivers it when the connection drops; the embedded broker accepts a will only on the
    /// device's status topic and refuses the CONNECT. What reaches the service is then an event the device could have
    /// published anyway (and a will's payload is no valid event: it is answered and alarmed as malformed).
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-AC-3")]
    public async Task ReaderWillOnItsOwnEventsTopic_IsRefusedByTheEmbeddedBroker_AndDeliveredByMosquitto(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);
        await service.SubscribeGrantedAsync(Topics.ReaderEvents("+"));

        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn, willTopic: Topics.ReaderEvents(MainReaderIn));

        if (kind == BrokerKind.Embedded)
        {
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, reader.Result.ResultCode);
            return;
        }

        Assert.Equal(MqttClientConnectResultCode.Success, reader.Result.ResultCode);
        reader.DropConnection();
        var will = await service.NextMessageAsync();
        Assert.Equal((Topics.ReaderEvents(MainReaderIn), "offline"), (will.Topic, Encoding.UTF8.GetString(will.Payload.Span)));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    [Trait("control", "NIST-SC-7")]
    public async Task Broker_ListensOnLoopbackOnly(BrokerKind kind)
    {
        await using var broker = await TestBrokers.StartAsync(kind);

        var elsewhere = NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => !IPAddress.IsLoopback(a) && a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            .Append(IPAddress.IPv6Loopback)
            .Distinct()
            .ToList();

        foreach (var address in elsewhere)
        {
            using var tcp = new TcpClient(address.AddressFamily);
            var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync(address, broker.Port).WaitAsync(TestTimeouts.Signal));
            Assert.NotEqual(SocketError.Success, refused.SocketErrorCode);
        }

        using var loopback = new TcpClient(AddressFamily.InterNetwork);
        await loopback.ConnectAsync(IPAddress.Loopback, broker.Port);
        Assert.True(loopback.Connected);
    }

    /// <summary>The embedded broker says BadUserNameOrPassword; Mosquitto 2.0 says NotAuthorized for the same thing.</summary>
    private static void AssertRefusedCredentials(BrokerKind kind, MqttClientConnectResultCode code) =>
        Assert.Equal(kind == BrokerKind.Embedded ? MqttClientConnectResultCode.BadUserNameOrPassword : MqttClientConnectResultCode.NotAuthorized, code);
}

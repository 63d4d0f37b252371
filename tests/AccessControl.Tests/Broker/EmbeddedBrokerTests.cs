using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Sites;
using AccessControl.Tests.Support;
using MQTTnet;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

/// <summary>What only the embedded broker does: exact reason codes, security events, topology reloads, its port.</summary>
public class EmbeddedBrokerTests
{
    [Fact]
    [Trait("control", "NIST-IA-3")]
    public async Task WrongPassword_IsReportedAsASecurityEvent_WithoutThePassword()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        var presented = Secrets.For(HallReaderIn);

        await using var client = await TestMqttClient.ConnectAsync(broker.Port, MainReaderIn, presented);

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, client.Result.ResultCode);
        var refusal = Assert.Single(broker.SecurityEvents);
        Assert.Equal(new SecurityEvent(EmbeddedBrokerFixture.Now, MainReaderIn, MainReaderIn, SecurityEvent.ConnectRefused, "wrong password", "127.0.0.1"), refusal);
        Assert.DoesNotContain(presented, refusal.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Secrets.For(MainReaderIn), refusal.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public async Task UnknownUsername_IsReportedAsUnknown()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);

        await using var client = await TestMqttClient.ConnectAsync(broker.Port, "scanner\n2026-11-28 forged log line", "guess");

        var refusal = Assert.Single(broker.SecurityEvents);
        Assert.Equal(SecurityEvent.ConnectRefused, refusal.What);
        Assert.Equal("unknown username", refusal.Detail);
        Assert.Equal("scanner?2026-11-28 forged log line", refusal.Username);
    }

    /// <summary>
    /// A presented name that would read as another device's in the console or the service log ("rdr-hall-in" written
    /// backwards behind a right-to-left override) is recorded with its invisible characters as '?', as a control is.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "NIST-AU-9")]
    public async Task AUsernameWithBidiOrZeroWidthCharacters_IsRecordedWithThemShownAsQuestionMarks()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);

        await using var client = await TestMqttClient.ConnectAsync(broker.Port, "scanner\u202Eni-llah-rdr\u200B", "guess");

        var refusal = Assert.Single(broker.SecurityEvents);
        Assert.Equal(SecurityEvent.ConnectRefused, refusal.What);
        Assert.Equal("scanner?ni-llah-rdr?", refusal.Username);
        Assert.Equal("scanner?ni-llah-rdr?", refusal.ClientId);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public async Task ClientIdOtherThanUsername_IsRefusedAndReported()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);

        await using var client = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn, clientId: "door-sensor-7");

        Assert.Equal(MqttClientConnectResultCode.ClientIdentifierNotValid, client.Result.ResultCode);
        Assert.Equal(
            new SecurityEvent(EmbeddedBrokerFixture.Now, "door-sensor-7", MainReaderIn, SecurityEvent.ConnectRefused, "client id must equal the username", "127.0.0.1"),
            Assert.Single(broker.SecurityEvents));
    }

    /// <summary>
    /// A second connection with a reader's own credentials takes over its session (MQTT's rule) and hears its decisions.
    /// The broker cannot tell a reconnect from a clone, but it must not let the real device be knocked off unseen.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "NIST-SI-4")]
    public async Task SecondConnectionWithADevicesOwnCredentials_TakesOverItsSession_AndIsReported()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        var takeover = new TaskCompletionSource<SecurityEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        broker.Refused += e =>
        {
            if (e.What == SecurityEvent.SessionTakenOver)
            {
                takeover.TrySetResult(e);
            }
        };
        await using var device = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        await using var clone = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        Assert.Equal(MqttClientConnectResultCode.Success, clone.Result.ResultCode);
        await device.Disconnected.WaitAsync(TestTimeouts.Signal);
        var reported = await takeover.Task.WaitAsync(TestTimeouts.Signal);
        Assert.Equal((MainReaderIn, MainReaderIn, "127.0.0.1"), (reported.ClientId, reported.Username, reported.From));
        Assert.Contains("a new connection logged in as this device", reported.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task WillOnADevicesOwnEventsTopic_IsRefusedAtConnect()
    {
        // Pins the accessor that reads the will topic from MQTTnet's CONNECT packet: a will on a topic the reader
        // may publish, but which is not its status, is still refused.
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);

        await using var client = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn, willTopic: Topics.ReaderEvents(MainReaderIn));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, client.Result.ResultCode);
        var refusal = Assert.Single(broker.SecurityEvents);
        Assert.Equal(SecurityEvent.WillRefused, refusal.What);
        Assert.Contains(Topics.ReaderEvents(MainReaderIn), refusal.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task RefusedPublishAndSubscription_AreReportedWithTheirTopicAndTheAddressTheyCameFrom()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);

        await reader.PublishAsync(Topics.ReaderEvents(HallReaderIn), "forged");
        await reader.SubscribeAsync(Topics.ReaderDecisions(HallReaderIn));

        Assert.Equal(
            [
                new SecurityEvent(EmbeddedBrokerFixture.Now, MainReaderIn, MainReaderIn, SecurityEvent.PublishRefused, $"publish on '{Topics.ReaderEvents(HallReaderIn)}' not allowed", "127.0.0.1"),
                new SecurityEvent(EmbeddedBrokerFixture.Now, MainReaderIn, MainReaderIn, SecurityEvent.SubscribeRefused, $"subscription to '{Topics.ReaderDecisions(HallReaderIn)}' not allowed", "127.0.0.1"),
            ],
            broker.SecurityEvents);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task Service_CannotReachTopicsOutsideTheRoot()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var service = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, DeviceSecrets.ServiceUsername);

        var everything = await service.SubscribeAsync("#");
        var elsewhere = await service.PublishAsync("other-app/commands", "x");

        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, everything);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, elsewhere.ReasonCode);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public async Task ReaderAddedByATopologyReload_CanConnectWithoutARestart()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        const string newReader = "rdr-new";

        await using var before = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, newReader);
        broker.Topology = Build(NewReader(newReader));
        await using var after = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, newReader);

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, before.Result.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.Success, after.Result.ResultCode);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task ReaderRemovedByATopologyReload_LosesItsRightsOnItsNextMessage()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        await using var reader = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        var before = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "swipe");

        broker.Topology = new SiteTopology(Topology.Sites.Values, Topology.Zones.Values, Topology.Doors.Values, [], Topology.Controllers.Values, []);
        var after = await reader.PublishAsync(Topics.ReaderEvents(MainReaderIn), "swipe");

        Assert.True(before.IsSuccess);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, after.ReasonCode);
    }

    [Fact]
    [Trait("control", "NIST-SC-7")]
    public async Task PortZero_PicksAFreePort_AndARestartKeepsIt()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        var first = broker.Port;

        await broker.StopAsync();
        await broker.StartAgainAsync();

        Assert.NotEqual(0, first);
        Assert.Equal(first, broker.Port);
        Assert.True(broker.Broker.IsRunning);
        await using var client = await TestMqttClient.ConnectAsDeviceAsync(broker.Port, MainReaderIn);
        Assert.Equal(MqttClientConnectResultCode.Success, client.Result.ResultCode);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task AHeaderAnnouncingAHugeConnect_IsClosedBeforeItsBody_AndReportedWithTheRemoteAddress()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        using var stranger = await RawMqttSocket.OpenAsync(broker.Port);

        await stranger.SendAsync(RawMqttSocket.Header(RawMqttSocket.Connect, RawMqttSocket.LargestRemainingLength));
        await stranger.ClosedByServerAsync();

        // Before a login the tighter pre-login limit applies, and the close is one of the pre-login closes.
        Assert.Equal(5, stranger.BytesSent);
        var refusal = Assert.Single(broker.SecurityEvents);
        Assert.Equal((SecurityEvent.ConnectionClosed, "", "", "127.0.0.1"), (refusal.What, refusal.ClientId, refusal.Username, refusal.From));
        Assert.Equal(
            "CONNECT packet of 268435460 bytes before login exceeds the limit of 8192 bytes before login; connection closed before reading it",
            refusal.Detail);
    }

    [Fact]
    [Trait("control", "NIST-SC-5")]
    public async Task APacketOfExactlyTheLimit_IsRead_AndOneByteMore_EndsTheConnectionUnread_ReportedAsTheDevice()
    {
        await using var broker = await EmbeddedBrokerFixture.StartAsync(Topology, Secrets);
        using var reader = await RawMqttSocket.LoginAsync(broker.Port, MainReaderIn, Secrets.For(MainReaderIn));
        var limit = broker.Broker.MaxPacketBytes;

        await reader.SendAsync(RawMqttSocket.PublishOfSize(Topics.ReaderEvents(MainReaderIn), limit));
        var (type, body) = await reader.ReadPacketAsync();
        var beforeHeader = reader.BytesSent;
        await reader.SendAsync(RawMqttSocket.HeaderOfSize(RawMqttSocket.PublishQos1, limit + 1));
        await reader.ClosedByServerAsync();

        // The packet at the limit was read whole and answered (its payload is over the payload limit: 0x95), the
        // connection still up; the one a byte larger ended it with nothing but its 4-byte header sent.
        Assert.Equal((RawMqttSocket.PubAck, (byte)0x95), (type, body[2]));
        Assert.Equal(4, reader.BytesSent - beforeHeader);
        Assert.Equal([SecurityEvent.PublishRefused, SecurityEvent.PacketRefused], broker.SecurityEvents.Select(e => e.What));
        var refusal = broker.SecurityEvents[^1];
        Assert.Equal((MainReaderIn, MainReaderIn), (refusal.ClientId, refusal.Username));
        Assert.StartsWith($"PUBLISH packet of {limit + 1} bytes from {reader.LocalEndPoint} exceeds the limit of {limit} bytes", refusal.Detail, StringComparison.Ordinal);
    }
}

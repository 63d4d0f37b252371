using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.EntryLog;
using AccessControl.HardwareSim.Doors;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>Card swipes from simulated readers, over a real broker, to decisions, log rows and door commands.</summary>
public class DecisionsOverMqttTests
{
    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.2")]
    public async Task Grant_IsLoggedDurablyThenAnsweredAndTheDoorUnlocks(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var controller = await edge.ControllerAsync("ctl-dh1", ["door-dh1"]);
        var unlocked = new TaskCompletionSource<DoorActivity>(TaskCreationOptions.RunContinuationsAsynchronously);
        controller.Activity += a =>
        {
            if (a.Kind == DoorActivityKind.Unlocked)
            {
                unlocked.TrySetResult(a);
            }
        };
        var reader = await edge.ReaderAsync("rdr-dh1-in");

        var decision = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(decision.Grant);
        Assert.Equal("granted", decision.Reason);
        Assert.Equal("door-dh1", decision.DoorId);
        Assert.Equal(5, decision.UnlockSeconds);
        await unlocked.Task.WaitAsync(EdgeHarness.Timeout);

        // The row was committed before the decision left the service, so it is there when the reader has its answer.
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access, ReaderId = "rdr-dh1-in" }));
        Assert.Equal("grant", row.Decision);
        Assert.Equal("p-mkoch", row.PersonId);
        Assert.Equal("demo-dh1", row.ZoneId);
        Assert.Equal("demo", row.SiteId);
        Assert.Equal(edge.Clock.GetCurrentInstant(), row.At);
    }

    /// <summary>
    /// Mosquitto keeps the session of a controller that connected with CleanSession=0 (§3 says SHOULD connect clean, not
    /// MUST) and hands it, when it reconnects, every QoS 1 message queued meanwhile: without an expiry, an unlock for a
    /// person long gone would open the door then. The unlock carries its own seconds as its MQTT 5 message expiry, so the
    /// broker drops one it could not start delivering in that time (the embedded broker keeps no such session; it carries
    /// the same expiry).
    /// </summary>
    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    public async Task AnUnlock_ExpiresAfterItsSeconds_SoAControllerThatKeptASessionIsNeverHandedItLate(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var unlocks = System.Threading.Channels.Channel.CreateUnbounded<MqttApplicationMessage>();
        var controller = new MqttClientFactory().CreateMqttClient();
        controller.ApplicationMessageReceivedAsync += e =>
        {
            unlocks.Writer.TryWrite(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        var connected = await controller.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", edge.BrokerPort)
            .WithClientId("ctl-lobby").WithCredentials("ctl-lobby", edge.Secrets.For("ctl-lobby"))
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithCleanStart(false).WithSessionExpiryInterval(3600).Build())
            .WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        await controller.SubscribeAsync(edge.Edge.Topics.DoorCommands("door-lobby"), MqttQualityOfServiceLevel.AtLeastOnce);
        var reader = await edge.ReaderAsync("rdr-lobby-in");

        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var unlock = await unlocks.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(("unlock", 5), (WireFormat.ParseDoorCommand(unlock.Payload).Value!.Command, WireFormat.ParseDoorCommand(unlock.Payload).Value!.Seconds));
        Assert.InRange(unlock.MessageExpiryInterval, 1u, 5u); // what is left of it when the broker forwards it
        Assert.False(unlock.Retain);
    }

    [Theory]
    [InlineData(ServiceLinkKind.InProcess)]
    [InlineData(ServiceLinkKind.Client)]
    [Trait("control", "NIST-PE-3")]
    public async Task EmbeddedBroker_DecidesTheSame_WithTheServiceInsideIt_OrConnectedAsAClient(ServiceLinkKind link)
    {
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Broker = s.Broker with { ServiceLink = link } });
        var reader = await edge.ReaderAsync("rdr-dh1-in");

        var decision = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(link == ServiceLinkKind.InProcess, edge.Edge.Connection is InProcessLink);
        Assert.Equal(link == ServiceLinkKind.Client, edge.Edge.Connection is ServiceConnection { PublishesSeparately: true });
        Assert.True(decision.Grant);
        Assert.Equal("grant", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access, ReaderId = "rdr-dh1-in" })).Decision);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    [Trait("control", "NIST-PE-3")]
    public async Task Mosquitto_DecidesTheSame_WithOrWithoutThePublishOnlyConnection(bool separately)
    {
        await using var edge = await EdgeHarness.StartAsync(BrokerKind.Mosquitto, configure: s => s with { Broker = s.Broker with { PublisherConnection = separately } });
        var reader = await edge.ReaderAsync("rdr-dh1-in");

        var decision = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(separately, Assert.IsType<ServiceConnection>(edge.Edge.Connection).PublishesSeparately);
        Assert.True(decision.Grant);
        Assert.Equal("grant", Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access, ReaderId = "rdr-dh1-in" })).Decision);
    }

    [Fact]
    [Trait("control", "NIST-AC-6")]
    public async Task ServiceInsideTheEmbeddedBroker_ItsIdentityIsRefusedOnTheNetwork()
    {
        await using var edge = await EdgeHarness.StartAsync();

        await using var impostor = await TestMqttClient.ConnectAsync(edge.BrokerPort, DeviceSecrets.ServiceUsername, edge.Secrets.For(DeviceSecrets.ServiceUsername));

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, impostor.Result.ResultCode);
    }

    public static TheoryData<BrokerKind, string, string, string, string, string> DenyCases()
    {
        var data = new TheoryData<BrokerKind, string, string, string, string, string>();
        foreach (var broker in new[] { BrokerKind.Embedded, BrokerKind.Mosquitto })
        {
            data.Add(broker, "now", "rdr-lobby-in", Unknown, Ev3, "unknown_credential");
            data.Add(broker, "now", "rdr-lobby-in", Terminated, Ev2, "credential_revoked");
            data.Add(broker, "now", "rdr-lobby-in", Suspended, Ev3, "credential_suspended");
            data.Add(broker, "2026-02-27T09:00:00Z", "rdr-lobby-in", Engineer, Ev3, "credential_not_yet_valid");
            data.Add(broker, "2027-04-01T08:00:00Z", "rdr-lobby-in", Contractor, Ev2, "credential_expired");
            data.Add(broker, "now", "rdr-dh1-in", MifareClassic, Mifare, "credential_technology_not_allowed");
            data.Add(broker, "now", "rdr-dh1-in", Contractor, Ev2, "no_access_to_zone");
            data.Add(broker, "2026-12-01T21:30:00Z", "rdr-dh1-in", Engineer, Ev3, "outside_schedule");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(DenyCases))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.2")]
    public async Task Deny_ReachesTheReaderWithItsReasonAndIsLogged(BrokerKind broker, string at, string readerId, string card, string technology, string reason)
    {
        Instant? now = at == "now" ? null : NodaTime.Text.InstantPattern.ExtendedIso.Parse(at).Value;
        await using var edge = await EdgeHarness.StartAsync(broker, now);
        var reader = await edge.ReaderAsync(readerId);

        var decision = await reader.PresentCardAsync(card, technology).WaitAsync(EdgeHarness.Timeout);

        Assert.False(decision.Grant);
        Assert.Equal(reason, decision.Reason);
        Assert.Equal(0, decision.UnlockSeconds);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access }));
        Assert.Equal("deny", row.Decision);
        Assert.Equal(reason, row.Reason);
        Assert.Equal(card, row.Card);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    public async Task AntiPassback_SecondEntryWithoutExitIsDeniedInTheHardZone(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync("rdr-dh1-in");
        var exit = await edge.ReaderAsync("rdr-dh1-out");

        var first = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var second = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var again = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(["granted", "anti_passback", "granted", "granted"], new[] { first.Reason, second.Reason, leaving.Reason, again.Reason });
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    public async Task UnknownReader_ADeviceThatIsNoLongerACardReaderIsDenied(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync("rdr-sr1-out");
        var topology = edge.Edge.Configuration.Topology;
        var without = new Sites.SiteTopology(topology.Sites.Values, topology.Zones.Values, topology.Doors.Values,
            topology.Readers.Values.Select(r => r.Id.Value == "rdr-sr1-out" ? r with { Kind = Sites.ReaderKind.Fingerprint } : r),
            topology.Controllers.Values, topology.Schedules.Values);
        edge.Edge.Configuration.SetTopology(without);

        var decision = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal("unknown_reader", decision.Reason);
        Assert.False(decision.Grant);
    }

    /// <summary>
    /// With the embedded broker the topic rights follow the live site file: a reader removed by a reload loses its
    /// rights at once, and its next event is refused with PUBACK 0x87 before it reaches the service (so no decision,
    /// not even unknown_reader, and nothing logged). reader-protocol.md §3 tells firmware not to re-send that for ever.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AC-3")]
    public async Task ReaderRemovedByAReloadWhileConnected_IsRefusedNotAuthorized_AndGetsNoDecision()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var raw = await edge.RawClientAsync("rdr-lobby-in");
        var decisions = await edge.DecisionsAsync(raw, "rdr-lobby-in");
        var t = edge.Edge.Configuration.Topology;
        edge.Edge.Configuration.SetTopology(new Sites.SiteTopology(t.Sites.Values, t.Zones.Values, t.Doors.Values,
            t.Readers.Values.Where(r => r.Id.Value != "rdr-lobby-in"), t.Controllers.Values, t.Schedules.Values) { FirePanels = t.FirePanels });

        var payload = WireFormat.Write(new ReaderEvent("gone-1", 1, edge.Clock.GetCurrentInstant(), ReaderEventType.Card, Operator, Ev3, false, null));
        var result = await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-lobby-in"))
            .WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, result.ReasonCode);
        Assert.Equal(0, decisions.Reader.Count);
        Assert.Empty(edge.Rows(new LogFilter { ReaderId = "rdr-lobby-in" }));
    }
}

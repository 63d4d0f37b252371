using System.Text;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using MQTTnet.Protocol;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>What reaches the service that a well-behaved reader would not send, and redeliveries.</summary>
public class WireRobustnessTests
{
    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-SI-10")]
    public async Task MalformedPayload_IsDeniedLoggedAndTheServiceKeepsDeciding(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var raw = await edge.RawClientAsync("rdr-lobby-in");
        var decisions = await edge.DecisionsAsync(raw, "rdr-lobby-in");
        string[] payloads =
        [
            "not json at all",
            "{\"eventId\":\"bad-1\",\"seq\":\"one\",\"at\":\"2026-12-01T09:00:00Z\",\"type\":\"card\"}",
            "{\"eventId\":\"bad-2\",\"seq\":1,\"at\":\"2026-12-01T09:00:00Z\",\"type\":\"card\",\"card\":\"XYZ\",\"technology\":\"desfire-ev3\"}",
            "[1,2,3]",
            new string('[', 200),
        ];

        foreach (var payload in payloads)
        {
            await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-lobby-in"))
                .WithPayload(Encoding.UTF8.GetBytes(payload)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        }

        var replies = new List<DecisionMessage>();
        for (var i = 0; i < payloads.Length; i++)
        {
            replies.Add(await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        Assert.All(replies, d => Assert.Equal("malformed_event", d.Reason));
        Assert.All(replies, d => Assert.False(d.Grant));
        Assert.Contains(replies, d => d.EventId == "bad-1");
        Assert.Contains(replies, d => d.EventId == "bad-2");
        Assert.Equal(payloads.Length, edge.Rows(new LogFilter { Kind = LogKinds.Malformed }).Count);

        // And the service is still deciding.
        var reader = await edge.ReaderAsync("rdr-lobby-out");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-AU-10")]
    public async Task Redelivery_SameEventIdGetsTheOriginalDecisionAndNoSecondRow(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var raw = await edge.RawClientAsync("rdr-dh1-in");
        var decisions = await edge.DecisionsAsync(raw, "rdr-dh1-in");
        var swipe = WireFormat.Write(new ReaderEvent("swipe-1", 7, edge.Clock.GetCurrentInstant(), ReaderEventType.Card, Operator, Ev3, false, null));

        async Task<DecisionMessage> SendAsync()
        {
            await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-dh1-in"))
                .WithPayload(swipe).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            return await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        }

        var first = await SendAsync();
        var second = await SendAsync();   // a redelivery: had it been decided again, hard anti-passback would deny it
        edge.Edge.Configuration.UpdateCardholders(c => c.With(c.Credentials[Operator] with { Status = People.CredentialStatus.Revoked }));
        var third = await SendAsync();    // still the original answer, even after the card was revoked

        Assert.Equal(first, second);
        Assert.Equal(first, third);
        Assert.True(first.Grant);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access }));
    }
}

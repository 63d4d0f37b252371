using System.Buffers;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Tests.Protocol;
using MQTTnet;
using MQTTnet.Protocol;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>Thousands of hostile payloads on a running edge: every one accounted for in the log, the service still decides, memory bounded.</summary>
[Trait("control", "NIST-SI-10")]
public class FuzzOverMqttTests
{
    private const int Count = 2000;

    [Fact]
    public async Task FuzzPayloadsOnReaderAndDoorTopics_AreEachLogged_TheServiceStillAnswers_MemoryStaysBounded()
    {
        // Each device sends its thousands as fast as it can, far beyond a device's rate limit: this test is about the parser.
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Pipeline = s.Pipeline with { DeviceBurst = 1_000_000 } });
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var now = edge.Clock.GetCurrentInstant();
        var reader = await edge.RawClientAsync("rdr-dh1-in");
        var decisions = await edge.DecisionsAsync(reader, "rdr-dh1-in");
        var controller = await edge.RawClientAsync("ctl-dh1");

        var readerExpected = await PublishAsync(controller, edge.Edge.Topics.DoorEvents("door-dh1"), WireFuzz.Payloads(7, Count, now), isReader: false);
        var finalDoor = WireFormat.Write(new DoorEvent("fuzz-final-door", 99_000_000, now, DoorEventType.Closed, false));
        await controller.PublishAsync(Message(edge.Edge.Topics.DoorEvents("door-dh1"), finalDoor));
        var doorExpected = readerExpected;

        readerExpected = await PublishAsync(reader, edge.Edge.Topics.ReaderEvents("rdr-dh1-in"), WireFuzz.Payloads(11, Count, now), isReader: true);
        var final = WireFormat.Write(new ReaderEvent("fuzz-final", 99_000_000, now, ReaderEventType.Card, Operator, Ev3, false, null));
        await reader.PublishAsync(Message(edge.Edge.Topics.ReaderEvents("rdr-dh1-in"), final));

        DecisionMessage answer;
        do
        {
            answer = await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        }
        while (answer.EventId != "fuzz-final");

        await edge.RowAsync(r => r.EventId == "fuzz-final-door");
        var rows = edge.Rows(new LogFilter { Limit = 10_000 });
        var fromReader = rows.Where(r => r.Source == "readers/rdr-dh1-in" && r.EventId != "fuzz-final").ToList();
        var fromDoor = rows.Where(r => r.Source == "doors/door-dh1" && r.EventId != "fuzz-final-door").ToList();
        Assert.Equal(readerExpected.Malformed, fromReader.Count(r => r.Kind == LogKinds.Malformed));
        Assert.Equal(readerExpected.Valid, fromReader.Count(r => r.Kind != LogKinds.Malformed));
        Assert.Equal(doorExpected.Malformed, fromDoor.Count(r => r.Kind == LogKinds.Malformed));
        Assert.Equal(doorExpected.Valid, fromDoor.Count(r => r.Kind != LogKinds.Malformed));
        Assert.True(readerExpected.Malformed > Count / 2);

        // Still deciding: the final card (above every fuzz seq, at the service's time) and a simulated reader elsewhere.
        Assert.True(answer.Grant, answer.Reason);
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(after - before < 100_000_000, $"memory grew by {after - before} bytes");
    }

    /// <summary>Publishes the payloads and says what the log must show: a malformed row per payload that does not parse, one row per valid new event.</summary>
    private static async Task<(int Malformed, int Valid)> PublishAsync(IMqttClient client, string topic, IEnumerable<byte[]> payloads, bool isReader)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int malformed = 0, valid = 0;
        foreach (var payload in payloads)
        {
            var sequence = new ReadOnlySequence<byte>(payload);
            string? eventId;
            bool ok;
            bool logged = true;
            if (isReader)
            {
                var parsed = WireFormat.ParseReaderEvent(sequence);
                (ok, eventId) = (parsed.Success, parsed.Success ? parsed.Value!.EventId : parsed.EventId);
                logged = !(parsed.Success && parsed.Value!.Type == ReaderEventType.Heartbeat);
            }
            else
            {
                var parsed = WireFormat.ParseDoorEvent(sequence);
                (ok, eventId) = (parsed.Success, parsed.Success ? parsed.Value!.EventId : parsed.EventId);
            }

            // A second payload with an eventId already logged is answered as a duplicate: no new row.
            var fresh = eventId is null || seen.Add(eventId);
            if (fresh && logged)
            {
                if (ok)
                {
                    valid++;
                }
                else
                {
                    malformed++;
                }
            }

            await client.PublishAsync(Message(topic, payload));
        }

        return (malformed, valid);
    }

    private static MqttApplicationMessage Message(string topic, byte[] payload) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
}

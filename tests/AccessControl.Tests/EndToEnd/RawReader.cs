using System.Threading.Channels;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// A reader as a firmware integrator writes it: a bare MQTT client that publishes exactly the events a test says, and
/// collects what the service sends it (decisions, commands) in channels. For the protocol's corner cases, where the
/// simulators' good manners would get in the way.
/// </summary>
internal sealed class RawReader
{
    private readonly IMqttClient client;
    private readonly EdgeHarness edge;
    private readonly Dictionary<string, (long Seq, Instant At)> sent = new(StringComparer.Ordinal);
    private long seq;

    private RawReader(IMqttClient client, EdgeHarness edge, string readerId)
    {
        this.client = client;
        this.edge = edge;
        ReaderId = readerId;
    }

    public string ReaderId { get; }

    public Channel<DecisionMessage> Decisions { get; } = Channel.CreateUnbounded<DecisionMessage>();

    public Channel<ReaderCommand> Commands { get; } = Channel.CreateUnbounded<ReaderCommand>();

    public static async Task<RawReader> ConnectAsync(EdgeHarness edge, string readerId)
    {
        var client = await edge.RawClientAsync(readerId);
        var reader = new RawReader(client, edge, readerId);
        var topics = edge.Edge.Topics;
        client.ApplicationMessageReceivedAsync += e =>
        {
            var topic = e.ApplicationMessage.Topic;
            if (topic == topics.ReaderDecisions(readerId))
            {
                reader.Decisions.Writer.TryWrite(WireFormat.ParseDecision(e.ApplicationMessage.Payload).Value!);
            }
            else if (topic == topics.ReaderCommands(readerId))
            {
                reader.Commands.Writer.TryWrite(WireFormat.ParseReaderCommand(e.ApplicationMessage.Payload).Value!);
            }

            return Task.CompletedTask;
        };
        await client.SubscribeAsync(topics.ReaderDecisions(readerId), MqttQualityOfServiceLevel.AtLeastOnce);
        await client.SubscribeAsync(topics.ReaderCommands(readerId), MqttQualityOfServiceLevel.AtLeastOnce);
        return reader;
    }

    /// <summary>Publishes a card event (with the eventId of one sent before: its re-send); returns its eventId.</summary>
    public Task<string> CardAsync(string card, string technology = DemoCards.Ev3, string? eventId = null) =>
        PublishAsync(eventId, (id, s, at) => new ReaderEvent(id, s, at, ReaderEventType.Card, card, technology, false, null));

    /// <summary>Publishes a fingerprint_match answer; returns its eventId.</summary>
    public Task<string> FingerprintAsync(string requestId, int score, string? templateId = null, string? eventId = null, bool offline = false) =>
        PublishAsync(eventId, (id, s, at) => new ReaderEvent(id, s, at, ReaderEventType.FingerprintMatch, null, null, offline, null)
        {
            RequestId = requestId,
            Score = score,
            TemplateId = templateId,
        });

    public async Task<DecisionMessage> NextDecisionAsync() => await Decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

    public async Task<ReaderCommand> NextCommandAsync() => await Commands.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

    /// <summary>A new event, or (an <paramref name="eventId"/> sent before) its re-send, with its seq and time as a re-send repeats them (§7.2).</summary>
    private async Task<string> PublishAsync(string? eventId, Func<string, long, Instant, ReaderEvent> create)
    {
        if (eventId is null || !sent.TryGetValue(eventId, out var original))
        {
            var next = Interlocked.Increment(ref seq);
            original = (next, edge.Clock.GetCurrentInstant());
            eventId ??= $"{ReaderId}-{next}";
            sent[eventId] = original;
        }

        var id = eventId;
        var payload = WireFormat.Write(create(id, original.Seq, original.At));
        await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(edge.Edge.Topics.ReaderEvents(ReaderId))
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build()).WaitAsync(EdgeHarness.Timeout);
        return id;
    }
}

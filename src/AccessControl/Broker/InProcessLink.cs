using System.Buffers;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace AccessControl.Broker;

/// <summary>
/// The service inside its own <see cref="EmbeddedBroker"/>: the default in embedded mode. A device's message on one of
/// the service's subscriptions is handed to <c>deliver</c> (the event pipeline) from the broker's publish hook, on that
/// device's receive task, before the device gets its PUBACK; the service's answers go into the broker's dispatch as if
/// the service had published them. What devices see on the wire is the same as with a <see cref="ServiceConnection"/>;
/// what goes away is the service's own TCP connection, its MQTT client and their thread hand-offs, on both legs of
/// every decision (docs/benchmarks.md, ninth session).
/// </summary>
/// <remarks>
/// <para>
/// Until <see cref="StartAsync"/> (the service still starting: site file, cardholders), a device's message for the
/// service is refused with reason code 0x83 (implementation specific error, "not ready"); readers re-send events that
/// have no decision (docs/reader-protocol.md §7.2). Retained statuses (a device's status, its last will) are the
/// exception: the broker keeps them, and the start delivers them first, as a new subscription would get them. Events are
/// never taken from the retained store (as <see cref="ServiceConnection"/> subscribes to them): a swipe or a fire alarm a
/// device published retained, or one left there before the service attached, would otherwise be decided at the start,
/// long after it happened, as if it were new.
/// </para>
/// <para>
/// A device whose message cannot be handed over (the service stopping) gets the same refusal, so it keeps the event.
/// When no other client subscribes, a device's PUBACK carries 0x10 (no matching subscribers), which MQTT 5 counts as
/// accepted; Mosquitto answers the same way whenever the service is away.
/// </para>
/// </remarks>
public sealed class InProcessLink : IServiceLink
{
    private readonly EmbeddedBroker broker;
    private readonly Func<ReceivedMessage, CancellationToken, ValueTask> deliver;
    private readonly IReadOnlyList<string> filters;
    private readonly Topics topics;
    private readonly CancellationTokenSource stopping = new();
    private volatile bool started;

    /// <param name="deliver">Where received messages go (the event pipeline); it may wait, which holds back that one device.</param>
    public InProcessLink(EmbeddedBroker broker, Topics topics, Func<ReceivedMessage, CancellationToken, ValueTask> deliver)
    {
        this.broker = broker;
        this.deliver = deliver;
        this.topics = topics;
        filters = topics.ServiceSubscriptions;
        broker.AttachService(this);
        broker.Started += () =>
        {
            if (started)
            {
                Connected?.Invoke();
            }
        };
        broker.Stopped += () =>
        {
            if (started)
            {
                Disconnected?.Invoke("the embedded broker stopped");
            }
        };
    }

    public event Action? Connected;

    public event Action<string>? Disconnected;

    /// <summary>Never raised: there is nothing to connect to.</summary>
    public event Action<string>? ConnectFailed
    {
        add { }
        remove { }
    }

    public bool IsConnected => started && !stopping.IsCancellationRequested && broker.IsRunning;

    /// <summary>Delivers the retained statuses on the service's subscriptions, then every new message; raises <see cref="Connected"/> when the broker runs.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(stopping.IsCancellationRequested, this);
        if (started)
        {
            return;
        }

        // Retained first, then live: a status published in between may arrive twice, never not at all.
        started = true;
        foreach (var message in await broker.RetainedAsync(topic => Wants(topic) && IsStatus(topic)))
        {
            await deliver(Copy(message, fromRetainedStore: true), cancellationToken);
        }

        if (broker.IsRunning)
        {
            Connected?.Invoke();
        }
    }

    public async Task<PublishOutcome> PublishAsync(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        if (stopping.IsCancellationRequested)
        {
            return PublishOutcome.Failed("the service is stopping");
        }

        return await broker.PublishAsServiceAsync(new MqttApplicationMessage
        {
            Topic = topic,
            Payload = new ReadOnlySequence<byte>(payload),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
            Retain = retain,
            MessageExpiryInterval = retain ? 0 : ServiceConnection.CommandExpiry(topics, topic, payload),
        }, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        if (!stopping.IsCancellationRequested)
        {
            stopping.Cancel();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Whether a topic is on one of the service's subscriptions (on every device message: no allocation).</summary>
    internal bool Wants(string topic)
    {
        foreach (var filter in filters)
        {
            if (MqttTopicFilterComparer.Compare(topic, filter) == MqttTopicFilterCompareResult.IsMatch)
            {
                return true;
            }
        }

        return false;
    }

    internal async Task DeliverAsync(InterceptingPublishEventArgs e)
    {
        if (!started || stopping.IsCancellationRequested)
        {
            // A retained status (a device's status, its will) is kept by the broker and delivered at the start; refusing
            // it would keep it out of the retained store. Anything else, a retained event too, is refused, and readers
            // re-send events.
            if (!e.ApplicationMessage.Retain || !IsStatus(e.ApplicationMessage.Topic))
            {
                Refuse(e, started ? "the access-control service is stopping" : "the access-control service is not ready yet");
            }

            return;
        }

        try
        {
            // Only the service's stopping ends a wait for room in the pipeline (no linked token per message on this path):
            // a device that drops meanwhile has its event delivered, and its re-send is answered as a redelivery.
            await deliver(Copy(e.ApplicationMessage, fromRetainedStore: false), stopping.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Threading.Channels.ChannelClosedException)
        {
            Refuse(e, "the access-control service is stopping");
        }
    }

    private bool IsStatus(string topic) => topics.Parse(topic).Kind is TopicKind.ReaderStatus or TopicKind.DoorStatus;

    private static void Refuse(InterceptingPublishEventArgs e, string why)
    {
        e.ProcessPublish = false;
        e.Response.ReasonCode = MqttPubAckReasonCode.ImplementationSpecificError;
        e.Response.ReasonString = why;
    }

    // The broker reuses its buffers once the hook returns; the pipeline keeps the message longer. Retained means from the
    // broker's store, as a client subscribing hears it: a live publish with the retain flag is as live as any other.
    private static ReceivedMessage Copy(MqttApplicationMessage message, bool fromRetainedStore) =>
        new(message.Topic, message.Payload.ToArray(), fromRetainedStore);
}

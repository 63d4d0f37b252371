using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace AccessControl.Broker;

/// <summary>
/// Wraps MQTTnet's channel adapter so that the service's traffic skips the client's queues and tasks, on the thread
/// that read the packet:
/// <list type="bullet">
/// <item>with <c>deliver</c> (the subscribing connection), an application message (PUBLISH at QoS 0 or 1) goes
/// straight to <c>deliver</c>, and its PUBACK straight back. Through the client, each message would first be queued for
/// a task of the client's own, which hands it to the received-message event: one more wake-up per event;</item>
/// <item>with a <see cref="DirectPublisher"/> (the publish-only connection), the PUBACK of one of its publishes settles
/// that publish right here. Through the client, it would wake a thread-pool worker to finish the client's publish.</item>
/// </list>
/// Every other packet (CONNACK, SUBACK, PINGRESP) goes on to the client as before.
/// </summary>
/// <remarks>
/// The PUBACK goes out once <c>deliver</c> has taken the message, as the client would send it once its handler
/// returned. A <c>deliver</c> that waits (a full pipeline queue) holds back this connection's reading, and so the
/// broker's next messages, until it takes the message: back-pressure, with nothing lost.
/// </remarks>
internal sealed class DirectDeliveryAdapter(IMqttChannelAdapter inner, Func<MqttPublishPacket, ValueTask>? deliver, DirectPublisher? publisher) : IMqttChannelAdapter
{
    public long BytesReceived => inner.BytesReceived;

    public long BytesSent => inner.BytesSent;

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        publisher?.Detach(this, "the connection was closed");
        return inner.DisconnectAsync(cancellationToken);
    }

    public void ResetStatistics() => inner.ResetStatistics();

    public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);

    public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var packet = await inner.ReceivePacketAsync(cancellationToken);
            if (packet is MqttPubAckPacket ack && publisher is not null && publisher.Settle(this, ack))
            {
                continue;
            }

            if (deliver is null || packet is not MqttPublishPacket { QualityOfServiceLevel: MqttQualityOfServiceLevel.AtMostOnce or MqttQualityOfServiceLevel.AtLeastOnce } publish)
            {
                return packet;
            }

            await deliver(publish);
            if (publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtLeastOnce)
            {
                await inner.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = publish.PacketIdentifier, ReasonCode = MqttPubAckReasonCode.Success }, cancellationToken);
            }
        }
    }

    public void Dispose()
    {
        publisher?.Detach(this, "the connection was lost");
        inner.Dispose();
    }
}

/// <summary>
/// Builds the channel adapters of the service's connections to an external broker: a <see cref="BlockingTcpChannel"/>
/// read by a thread of its own, wrapped in a <see cref="DirectDeliveryAdapter"/> for the subscribing connection (with
/// <c>deliver</c>) and the publish-only one (with a <see cref="DirectPublisher"/>).
/// </summary>
internal sealed class ServiceAdapterFactory(
    SslClientAuthenticationOptions? tls, string threadName, Func<MqttPublishPacket, ValueTask>? deliver = null, DirectPublisher? publisher = null) : IMqttClientAdapterFactory
{
    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        var tcp = (MqttClientTcpOptions)options.ChannelOptions;
        var channel = new BlockingTcpChannel(tcp.RemoteEndpoint, options.Timeout, tls, threadName);
        var formatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        var adapter = new MqttChannelAdapter(channel, formatter, logger)
        {
            AllowPacketFragmentation = options.AllowPacketFragmentation,
            PacketInspector = packetInspector,
        };
        if (deliver is null && publisher is null)
        {
            return adapter;
        }

        var direct = new DirectDeliveryAdapter(adapter, deliver, publisher);
        publisher?.Attach(direct);
        return direct;
    }
}

/// <summary>
/// The service's QoS 1 publishes over the publish-only connection, sent through that connection's adapter and settled
/// by their PUBACK on its reading thread (<see cref="DirectDeliveryAdapter"/>). MQTTnet's client would finish each
/// publish on a thread-pool worker woken for it: 1.5 wake-ups per decision (docs/benchmarks.md, eleventh session).
/// </summary>
/// <remarks>
/// The packet identifiers are this class's alone: that connection subscribes to nothing and publishes only through
/// here, so the client never numbers a packet of its own on it. A publish in flight when its connection goes is
/// settled as failed, as the client would have failed it; the device then re-sends and hears the logged decision.
/// </remarks>
internal sealed class DirectPublisher
{
    private readonly Lock gate = new();
    private readonly Dictionary<ushort, TaskCompletionSource<PublishOutcome>> inFlight = [];
    private DirectDeliveryAdapter? current;
    private ushort lastId;

    /// <summary>
    /// Sends a QoS 1 PUBLISH and returns its outcome, settled when the PUBACK arrives; null when there is no connection
    /// to send it over (the caller publishes another way).
    /// </summary>
    public Task<PublishOutcome>? TryPublish(string topic, ReadOnlyMemory<byte> payload, bool retain, CancellationToken cancellationToken)
    {
        // Settled on the reading thread, which then runs the caller's continuation (recording the PUBACK's time) inline.
        var settled = new TaskCompletionSource<PublishOutcome>();
        DirectDeliveryAdapter over;
        ushort id;
        lock (gate)
        {
            if (current is null || inFlight.Count == ushort.MaxValue)
            {
                return null;
            }

            over = current;
            do
            {
                id = ++lastId == 0 ? ++lastId : lastId;
            }
            while (inFlight.ContainsKey(id));

            inFlight.Add(id, settled);
        }

        var packet = new MqttPublishPacket
        {
            Topic = topic,
            Payload = new System.Buffers.ReadOnlySequence<byte>(payload),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
            Retain = retain,
            PacketIdentifier = id,
        };
        return SendAsync(over, packet, settled, cancellationToken);
    }

    /// <summary>Adopts the adapter of a new connection; whatever was in flight on the one before is settled as failed.</summary>
    public void Attach(DirectDeliveryAdapter adapter)
    {
        lock (gate)
        {
            current = adapter;
        }

        // The old connection's PUBACKs can no longer arrive on the new one.
        FailInFlight("the connection was replaced");
    }

    /// <summary>The adapter's connection is gone: its publishes in flight fail, and nothing more is sent over it.</summary>
    public void Detach(DirectDeliveryAdapter adapter, string why)
    {
        lock (gate)
        {
            if (current != adapter)
            {
                return;
            }

            current = null;
        }

        FailInFlight(why);
    }

    /// <summary>Settles the publish a PUBACK answers; false when it is not one of these publishes (the client's own).</summary>
    public bool Settle(DirectDeliveryAdapter from, MqttPubAckPacket ack)
    {
        TaskCompletionSource<PublishOutcome>? settled;
        lock (gate)
        {
            if (from != current || !inFlight.Remove(ack.PacketIdentifier, out settled))
            {
                return false;
            }
        }

        // 0x10 "no matching subscribers" is a success: the broker took the message.
        settled.TrySetResult(ack.ReasonCode < MqttPubAckReasonCode.UnspecifiedError ? PublishOutcome.Ok : PublishOutcome.Failed($"broker answered {ack.ReasonCode}"));
        return true;
    }

    private async Task<PublishOutcome> SendAsync(DirectDeliveryAdapter over, MqttPublishPacket packet, TaskCompletionSource<PublishOutcome> settled, CancellationToken cancellationToken)
    {
        try
        {
            await over.SendPacketAsync(packet, cancellationToken);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or ObjectDisposedException)
        {
            lock (gate)
            {
                inFlight.Remove(packet.PacketIdentifier);
            }

            return PublishOutcome.Failed("connection lost while publishing: " + e.Message);
        }

        return await settled.Task;
    }

    private void FailInFlight(string why)
    {
        List<TaskCompletionSource<PublishOutcome>> failed;
        lock (gate)
        {
            failed = [.. inFlight.Values];
            inFlight.Clear();
        }

        foreach (var publish in failed)
        {
            publish.TrySetResult(PublishOutcome.Failed("connection lost while publishing: " + why));
        }
    }
}

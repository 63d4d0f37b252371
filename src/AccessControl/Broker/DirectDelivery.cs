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
/// Wraps MQTTnet's channel adapter so that an application message (PUBLISH at QoS 0 or 1) goes from the packet just
/// read straight to <c>deliver</c>, and its PUBACK straight back, on the thread that read it. Through the client, each
/// message would first be queued for a task of the client's own, which hands it to the received-message event: one
/// more wake-up per event. Every other packet (CONNACK, SUBACK, PINGRESP, the PUBACKs of the service's own publishes)
/// goes on to the client as before.
/// </summary>
/// <remarks>
/// <para>
/// The PUBACK goes out once <c>deliver</c> has taken the message, as the client would send it once its handler
/// returned. A <c>deliver</c> that waits (a full or stalled pipeline) holds back that message's PUBACK and the delivery
/// of every message after it, in order: back-pressure, with nothing lost.
/// </para>
/// <para>
/// The reading goes on while a delivery waits: the messages read meanwhile wait here, unacknowledged and in order, and
/// every other packet still reaches the client. Without that, a pipeline held up for longer than the keep-alive and
/// its ping's timeout (15 + 5 s by default: MQTTnet pings once it has sent nothing for <c>Broker:KeepAlive</c>, and
/// waits its <c>Timeout</c>, which the service sets to <c>Broker:ConnectTimeout</c>, for the answer) would leave that
/// ping unanswered behind the unread messages; the client would then drop the connection, and with it (clean start)
/// everything the broker had queued for the service. The service announces <c>maxHeld</c> as its MQTT 5 Receive
/// Maximum, so a broker that honours it (Mosquitto does) never has more unacknowledged messages in flight to it; past
/// <c>maxHeld</c> waiting messages (a broker that does not, MQTTnet's server among them, or QoS 0 floods) the reading
/// stops until the delivery completes, so memory stays bounded.
/// </para>
/// <para>
/// Only <see cref="ReceivePacketAsync"/> touches the state below, and the client calls it one call at a time. A
/// delivery completed elsewhere (the pipeline's thread) is noticed here, at the next read or while a read waits.
/// </para>
/// </remarks>
internal sealed class DirectDeliveryAdapter(IMqttChannelAdapter inner, Func<MqttPublishPacket, ValueTask> deliver, int maxHeld) : IMqttChannelAdapter
{
    private readonly Queue<MqttPublishPacket> held = new();
    private Task<MqttPacket>? reading;
    private (MqttPublishPacket Packet, Task Delivery)? waiting;

    public long BytesReceived => inner.BytesReceived;

    public long BytesSent => inner.BytesSent;

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

    /// <summary>The most messages ever read and kept behind a waiting delivery (the broker's flow control bounds it).</summary>
    internal int HeldPeak { get; private set; }

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public void ResetStatistics() => inner.ResetStatistics();

    public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);

    public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await SettleAsync(cancellationToken);
            if (waiting is { } full && held.Count >= maxHeld)
            {
                // Bounded: stop reading until the pipeline takes the waiting message.
                await full.Delivery;
                continue;
            }

            reading ??= inner.ReceivePacketAsync(cancellationToken);
            if (waiting is { } pending && !reading.IsCompleted)
            {
                // Whichever comes first: the next packet, or the pipeline taking the waiting message.
                await Task.WhenAny(reading, pending.Delivery);
                if (!reading.IsCompleted)
                {
                    continue;
                }
            }

            var packet = await reading;
            reading = null;
            if (packet is not MqttPublishPacket { QualityOfServiceLevel: MqttQualityOfServiceLevel.AtMostOnce or MqttQualityOfServiceLevel.AtLeastOnce } publish)
            {
                return packet;
            }

            if (waiting is null && held.Count == 0)
            {
                await HandOverAsync(publish, cancellationToken);
            }
            else
            {
                held.Enqueue(publish);
                HeldPeak = Math.Max(HeldPeak, held.Count);
            }
        }
    }

    public void Dispose() => inner.Dispose();

    /// <summary>Acknowledges the waiting message once the pipeline took it, then hands over those read meanwhile, in order.</summary>
    private async ValueTask SettleAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (waiting is { } pending)
            {
                if (!pending.Delivery.IsCompleted)
                {
                    return;
                }

                waiting = null;
                await pending.Delivery;
                await AcknowledgeAsync(pending.Packet, cancellationToken);
            }

            if (!held.TryDequeue(out var next))
            {
                return;
            }

            await HandOverAsync(next, cancellationToken);
        }
    }

    /// <summary>Hands a message to <c>deliver</c>: acknowledged at once if taken at once (the usual case), else remembered as waiting.</summary>
    private async ValueTask HandOverAsync(MqttPublishPacket publish, CancellationToken cancellationToken)
    {
        var delivery = deliver(publish);
        if (!delivery.IsCompleted)
        {
            waiting = (publish, delivery.AsTask());
            return;
        }

        await delivery;
        await AcknowledgeAsync(publish, cancellationToken);
    }

    private Task AcknowledgeAsync(MqttPublishPacket publish, CancellationToken cancellationToken) =>
        publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtLeastOnce
            ? inner.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = publish.PacketIdentifier, ReasonCode = MqttPubAckReasonCode.Success }, cancellationToken)
            : Task.CompletedTask;
}

/// <summary>
/// Builds the channel adapters of the service's connections to an external broker: a <see cref="BlockingTcpChannel"/>
/// read by a thread of its own, and, for the subscribing connection, <see cref="DirectDeliveryAdapter"/>.
/// </summary>
internal sealed class ServiceAdapterFactory(SslClientAuthenticationOptions? tls, string threadName, Func<MqttPublishPacket, ValueTask>? deliver, int maxHeld = 0) : IMqttClientAdapterFactory
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
        if (deliver is null)
        {
            return adapter;
        }

        earlierPeak = HeldPeak;
        current = new DirectDeliveryAdapter(adapter, deliver, maxHeld);
        return current;
    }

    private DirectDeliveryAdapter? current;
    private int earlierPeak;

    /// <summary>The most messages kept behind a waiting delivery on any of this factory's connections.</summary>
    internal int HeldPeak => Math.Max(earlierPeak, current?.HeldPeak ?? 0);
}

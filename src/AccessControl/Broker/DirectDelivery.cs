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
/// The PUBACK goes out once <c>deliver</c> has taken the message, as the client would send it once its handler
/// returned. A <c>deliver</c> that waits (a full pipeline queue) holds back this connection's reading, and so the
/// broker's next messages, until it takes the message: back-pressure, with nothing lost.
/// </remarks>
internal sealed class DirectDeliveryAdapter(IMqttChannelAdapter inner, Func<MqttPublishPacket, ValueTask> deliver) : IMqttChannelAdapter
{
    public long BytesReceived => inner.BytesReceived;

    public long BytesSent => inner.BytesSent;

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    public MqttPacketFormatterAdapter PacketFormatterAdapter => inner.PacketFormatterAdapter;

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public void ResetStatistics() => inner.ResetStatistics();

    public Task SendPacketAsync(MqttPacket packet, CancellationToken cancellationToken) => inner.SendPacketAsync(packet, cancellationToken);

    public async Task<MqttPacket> ReceivePacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var packet = await inner.ReceivePacketAsync(cancellationToken);
            if (packet is not MqttPublishPacket { QualityOfServiceLevel: MqttQualityOfServiceLevel.AtMostOnce or MqttQualityOfServiceLevel.AtLeastOnce } publish)
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

    public void Dispose() => inner.Dispose();
}

/// <summary>
/// Builds the channel adapters of the service's connections to an external broker: a <see cref="BlockingTcpChannel"/>
/// read by a thread of its own, and, for the subscribing connection, <see cref="DirectDeliveryAdapter"/>.
/// </summary>
internal sealed class ServiceAdapterFactory(SslClientAuthenticationOptions? tls, string threadName, Func<MqttPublishPacket, ValueTask>? deliver) : IMqttClientAdapterFactory
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
        return deliver is null ? adapter : new DirectDeliveryAdapter(adapter, deliver);
    }
}

using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using MQTTnet.Exceptions;
using MQTTnet.Protocol;

namespace AccessControl.Broker;

/// <summary>A packet refused by <see cref="PacketLimitChannel"/>: its type and announced size, and who sent it (client id and username once logged in).</summary>
internal readonly record struct OversizedPacket(MqttControlPacketType Type, long Bytes, EndPoint? From, string? ClientId, string? Username);

/// <summary>
/// A client's connection to the embedded broker, read through a check on each packet's size: a packet whose fixed
/// header announces more than the limit (header included, as MQTT 5's Maximum Packet Size and Mosquitto's
/// <c>max_packet_size</c> count) fails the read that would complete that header, so MQTTnet never allocates or reads its
/// body, and the server closes the connection. Without it MQTTnet allocates whatever a header announces (up to 256 MB
/// from five bytes, before any login) and waits for the body.
/// </summary>
/// <remarks>
/// MQTTnet reads a packet's header byte by byte and then exactly its body, but the check follows the stream itself
/// (type byte, remaining length, body), so it holds for reads of any size. Only the connection's receive loop reads.
/// Until the login, each read also ends when the connection's <see cref="PendingLogin"/> deadline passes: MQTTnet takes
/// the cancelled read for a connection that sent no CONNECT and closes it. Until the login, too, the first packet must be
/// a CONNECT and no packet may announce more than <see cref="PreLoginLimits.MaxPacketBytes"/>: a connection that breaks
/// either is closed at that byte and reported as closed before its login (MQTTnet would read a first PUBLISH whole, up
/// to the general limit, and close the connection without a word).
/// </remarks>
/// <param name="closedBeforeLogin">Receives why a connection is closed before its login by the checks above.</param>
internal sealed class PacketLimitChannel(
    IMqttChannel inner,
    int maxPacketBytes,
    Action<OversizedPacket> onRefused,
    PendingLogin? pending = null,
    int maxPreLoginPacketBytes = int.MaxValue,
    Action<string>? closedBeforeLogin = null) : IMqttChannel
{
    // Where the stream stands: before a packet's type byte (type < 0), in its remaining length, or in its body.
    private int type = -1;
    private int lengthBytes;
    private long length;
    private long multiplier;
    private long bodyLeft;
    private bool refused;
    private bool started;
    private volatile Login? login;

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    /// <summary>
    /// The broker accepts the login: from now on a refused packet is reported as this client's, and the deadline and
    /// count of connections waiting to log in no longer apply. False when the deadline passed first: refuse the login.
    /// </summary>
    internal bool LoggedIn(string clientId, string username)
    {
        if (pending is not null && !pending.TryLogIn())
        {
            return false;
        }

        login = new Login(clientId, username);
        return true;
    }

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, isEndOfPacket, cancellationToken);

    public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (refused)
        {
            return Task.FromException<int>(new MqttProtocolViolationException("The connection sent a packet over the size limit."));
        }

        // Also past the deadline: the read then ends at once.
        if (pending is not null && login is null)
        {
            return ReadBeforeLoginAsync(buffer, offset, count, cancellationToken);
        }

        var read = inner.ReadAsync(buffer, offset, count, cancellationToken);
        if (!read.IsCompletedSuccessfully)
        {
            return CheckedAsync(read, buffer, offset);
        }

        // The usual case: the bytes were there already; no second task.
        return Check(buffer.AsSpan(offset, read.Result)) is { } refusal ? Task.FromException<int>(refusal) : read;
    }

    public void Dispose() => inner.Dispose();

    private async Task<int> ReadBeforeLoginAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, pending!.Expired);
        return await CheckedAsync(inner.ReadAsync(buffer, offset, count, either.Token), buffer, offset);
    }

    private async Task<int> CheckedAsync(Task<int> read, byte[] buffer, int offset)
    {
        var count = await read;
        return Check(buffer.AsSpan(offset, count)) is { } refusal ? throw refusal : count;
    }

    /// <summary>Follows the stream through the bytes just read; the refusal when they complete a header over the limit.</summary>
    private MqttProtocolViolationException? Check(ReadOnlySpan<byte> read)
    {
        var i = 0;
        while (i < read.Length)
        {
            if (bodyLeft > 0)
            {
                var skipped = (int)Math.Min(bodyLeft, read.Length - i);
                bodyLeft -= skipped;
                i += skipped;
                continue;
            }

            var next = read[i++];
            var beforeLogin = pending is not null && login is null;
            if (type < 0)
            {
                (type, lengthBytes, length, multiplier) = (next >> 4, 0, 0, 1);
                if (beforeLogin && !started && (MqttControlPacketType)type != MqttControlPacketType.Connect)
                {
                    return CloseBeforeLogin($"first packet is {NameOf(type)} (type {type}), not CONNECT; connection closed before reading it");
                }

                started = true;
                continue;
            }

            length += (next & 0x7F) * multiplier;
            multiplier *= 128;
            lengthBytes++;
            if ((next & 0x80) != 0)
            {
                // More length to come. MQTTnet refuses a fifth length byte before reading it, so this stays within four.
                continue;
            }

            var size = 1 + lengthBytes + length;
            if (beforeLogin && size > maxPreLoginPacketBytes)
            {
                return CloseBeforeLogin($"{NameOf(type)} packet of {size} bytes before login exceeds the limit of {maxPreLoginPacketBytes} bytes before login; connection closed before reading it");
            }

            if (size > maxPacketBytes)
            {
                refused = true;
                var who = login;
                onRefused(new OversizedPacket((MqttControlPacketType)type, size, inner.RemoteEndPoint, who?.ClientId, who?.Username));
                return new MqttProtocolViolationException($"A packet of {size} bytes exceeds the limit of {maxPacketBytes} bytes.");
            }

            (type, bodyLeft) = (-1, length);
        }

        return null;
    }

    private static string NameOf(int type) => ((MqttControlPacketType)type).ToString().ToUpperInvariant();

    private MqttProtocolViolationException CloseBeforeLogin(string why)
    {
        refused = true;

        // Unless the deadline passed first: then the connection was reported already.
        if (pending!.TryClose())
        {
            closedBeforeLogin?.Invoke(why);
        }

        return new MqttProtocolViolationException($"Closed before login: {why}.");
    }

    private sealed record Login(string ClientId, string Username);
}

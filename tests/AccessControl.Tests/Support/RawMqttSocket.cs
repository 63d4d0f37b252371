using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AccessControl.Tests.Support;

/// <summary>
/// An MQTT 5 connection written byte by byte over a plain socket, for what no client library sends: a fixed header
/// without its body, a packet of an exact size. Every wait is bounded by <see cref="TestTimeouts.Signal"/>.
/// </summary>
public sealed class RawMqttSocket : IDisposable
{
    public const byte Connect = 0x10;
    public const byte PublishQos1 = 0x32;
    public const byte PubAck = 0x40;

    /// <summary>The largest remaining length MQTT can express: 256 MB announced in a five-byte header.</summary>
    public const int LargestRemainingLength = 268_435_455;

    private readonly Socket socket;

    private RawMqttSocket(Socket socket) => this.socket = socket;

    /// <summary>This end of the connection, as the broker sees the client.</summary>
    public EndPoint LocalEndPoint => socket.LocalEndPoint!;

    /// <summary>Every byte sent so far.</summary>
    public long BytesSent { get; private set; }

    /// <param name="from">The loopback address to connect from (any of 127.0.0.0/8), so the broker sees several hosts; 127.0.0.1 by default.</param>
    public static async Task<RawMqttSocket> OpenAsync(int port, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TestTimeouts.Signal);
        return new RawMqttSocket(socket);
    }

    /// <summary>
    /// Opens a connection and completes when the broker closes it unread; a close so quick that it fails the connect
    /// itself counts too (a refused connect does not: nothing listened).
    /// </summary>
    public static async Task ClosedAtOnceAsync(int port, IPAddress? from = null)
    {
        RawMqttSocket raw;
        try
        {
            raw = await OpenAsync(port, from);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown)
        {
            // Reset (or, on Linux, EPIPE) as the connect completed: the broker closed it before the client had it.
            return;
        }

        using (raw)
        {
            await raw.ClosedByServerAsync();
        }
    }

    /// <summary>Opens a connection and logs in (CONNECT, then a successful CONNACK) with client id = username.</summary>
    public static async Task<RawMqttSocket> LoginAsync(int port, string username, string password)
    {
        var raw = await OpenAsync(port);
        await raw.LogInAsync(username, password);
        return raw;
    }

    /// <summary>Logs in on this open connection (CONNECT, then a successful CONNACK) with client id = username.</summary>
    public async Task LogInAsync(string username, string password)
    {
        var body = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 5, 0xC2, 0, 60, 0 };
        foreach (var field in new[] { username, username, password })
        {
            var bytes = Encoding.UTF8.GetBytes(field);
            body.AddRange([(byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes]);
        }

        await SendAsync([.. Header(Connect, body.Count), .. body]);
        var (type, connAck) = await ReadPacketAsync();
        Assert.Equal(0x20, type);
        Assert.Equal(0, connAck[1]);
    }

    /// <summary>An MQTT fixed header: the type byte, then the remaining length as a variable byte integer.</summary>
    public static byte[] Header(byte type, int remainingLength)
    {
        var header = new List<byte> { type };
        do
        {
            var digit = (byte)(remainingLength % 128);
            remainingLength /= 128;
            header.Add(remainingLength > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (remainingLength > 0);

        return [.. header];
    }

    /// <summary>The fixed header of a packet of exactly <paramref name="packetBytes"/> bytes, header included.</summary>
    public static byte[] HeaderOfSize(byte type, int packetBytes)
    {
        for (var lengthBytes = 1; lengthBytes <= 4; lengthBytes++)
        {
            var header = Header(type, packetBytes - 1 - lengthBytes);
            if (header.Length == 1 + lengthBytes)
            {
                return header;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(packetBytes), packetBytes, "No packet has this size.");
    }

    /// <summary>A QoS 1 PUBLISH (packet id 1, no properties) of exactly <paramref name="packetBytes"/> bytes, header included.</summary>
    public static byte[] PublishOfSize(string topic, int packetBytes)
    {
        var name = Encoding.UTF8.GetBytes(topic);
        var header = HeaderOfSize(PublishQos1, packetBytes);
        var payload = packetBytes - header.Length - (2 + name.Length + 2 + 1);
        return [.. header, (byte)(name.Length >> 8), (byte)name.Length, .. name, 0, 1, 0, .. new byte[payload]];
    }

    public async Task SendAsync(byte[] bytes)
    {
        await socket.SendAsync(bytes).WaitAsync(TestTimeouts.Signal);
        BytesSent += bytes.Length;
    }

    /// <summary>The next packet from the broker: its type byte and its body.</summary>
    public async Task<(byte Type, byte[] Body)> ReadPacketAsync()
    {
        var type = (await ReadExactlyAsync(1))[0];
        var length = 0;
        var multiplier = 1;
        byte digit;
        do
        {
            digit = (await ReadExactlyAsync(1))[0];
            length += (digit & 0x7F) * multiplier;
            multiplier *= 128;
        }
        while ((digit & 0x80) != 0);

        return (type, await ReadExactlyAsync(length));
    }

    /// <summary>Completes when the broker closes the connection (whatever it sends before); times out while it stays open.</summary>
    public async Task ClosedByServerAsync()
    {
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer).WaitAsync(TestTimeouts.Signal) > 0)
            {
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Closed with unread data on the broker's side: a reset rather than a FIN.
        }
    }

    public void Dispose() => socket.Dispose();

    private async Task<byte[]> ReadExactlyAsync(int count)
    {
        var bytes = new byte[count];
        var read = 0;
        while (read < count)
        {
            var n = await socket.ReceiveAsync(bytes.AsMemory(read)).AsTask().WaitAsync(TestTimeouts.Signal);
            if (n == 0)
            {
                throw new EndOfStreamException($"The broker closed the connection after {read} of {count} bytes.");
            }

            read += n;
        }

        return bytes;
    }
}

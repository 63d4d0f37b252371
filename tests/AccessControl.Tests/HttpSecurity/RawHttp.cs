using System.Text;

namespace AccessControl.Tests.HttpSecurity;

/// <summary>
/// HTTP/1.1 by hand over a TCP connection, for what HttpClient does not do: send part of an announced body and read the
/// answer meanwhile, or keep sending a body while the answer comes.
/// </summary>
internal static class RawHttp
{
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

    /// <summary>Reads one response: status line, headers, and a body by Content-Length or chunked.</summary>
    public static async Task<Response> ReadResponseAsync(Stream stream)
    {
        var status = await ReadLineAsync(stream);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var line = await ReadLineAsync(stream); line.Length > 0; line = await ReadLineAsync(stream))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        var body = new MemoryStream();
        if (headers.TryGetValue("Content-Length", out var length))
        {
            await CopyExactlyAsync(stream, body, int.Parse(length, System.Globalization.CultureInfo.InvariantCulture));
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            int size;
            while ((size = int.Parse((await ReadLineAsync(stream)).Split(';')[0], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture)) > 0)
            {
                await CopyExactlyAsync(stream, body, size);
                await ReadLineAsync(stream);
            }

            string trailer;
            do
            {
                trailer = await ReadLineAsync(stream);
            }
            while (trailer.Length > 0);
        }

        return new Response(int.Parse(status.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    /// <summary>
    /// Whether the server has closed the connection: the end of the stream, or a reset (a server that closes with bytes
    /// of the client's unread resets the connection).
    /// </summary>
    public static async Task<bool> ClosedAsync(Stream stream)
    {
        try
        {
            return await stream.ReadAsync(new byte[1]) == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>
    /// Sends a chunked body, 16 KiB a chunk, until <paramref name="most"/> bytes, <paramref name="stop"/>, or the server
    /// closing the connection; returns the bytes of body sent.
    /// </summary>
    public static async Task<long> SendChunksAsync(Stream stream, long most, CancellationToken stop)
    {
        var data = new byte[16 * 1024];
        Array.Fill(data, (byte)' ');
        var chunk = Encoding.ASCII.GetBytes($"{data.Length:x}\r\n").Concat(data).Concat("\r\n"u8.ToArray()).ToArray();
        long sent = 0;
        try
        {
            while (sent < most)
            {
                await stream.WriteAsync(chunk, stop);
                sent += data.Length;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The server closed the connection, or the answer came: either way, no more is sent.
        }

        return sent;
    }

    private static async Task<string> ReadLineAsync(Stream stream)
    {
        var line = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            await stream.ReadExactlyAsync(one);
            if (one[0] == (byte)'\n')
            {
                return Encoding.ASCII.GetString([.. line]).TrimEnd('\r');
            }

            line.Add(one[0]);
        }
    }

    private static async Task CopyExactlyAsync(Stream from, Stream to, int count)
    {
        var buffer = new byte[count];
        await from.ReadExactlyAsync(buffer);
        await to.WriteAsync(buffer);
    }
}

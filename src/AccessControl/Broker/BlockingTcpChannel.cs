using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;

namespace AccessControl.Broker;

/// <summary>
/// The service's MQTT channel to an external broker: a TCP connection (TLS optional) read by a thread of its own with
/// blocking calls, so that a packet arriving wakes that one thread and nothing else.
/// </summary>
/// <remarks>
/// <para>
/// MQTTnet's own channel reads asynchronously. Each packet then wakes .NET's socket thread (epoll), which wakes a
/// thread-pool worker to run the client's receive loop: two wake-ups per received packet, each of them costly on a
/// virtual machine (docs/benchmarks.md, eleventh session).
/// </para>
/// <para>
/// Here the client's receive loop moves onto the reading thread: the first read it asks for from another thread is
/// handed to the reading thread, which completes it synchronously, so the loop continues there. Its later reads find
/// themselves on the reading thread and block in <c>recv</c> right there. Should the loop wait for something else
/// (a busy send lock) and come back on another thread, its next read is handed over again.
/// </para>
/// <para>
/// The socket never sees an asynchronous call: after the first one, .NET would switch it to non-blocking mode and
/// emulate every blocking call through its socket thread again. So the connect is a blocking one on a thread of its
/// own, bounded by the connect timeout, and writes are blocking sends on the caller's thread (they return as soon as
/// the kernel has the bytes). Closing the channel shuts the socket down, which returns a blocked <c>recv</c> at once.
/// </para>
/// </remarks>
internal sealed class BlockingTcpChannel : IMqttChannel
{
    private readonly EndPoint remote;
    private readonly TimeSpan connectTimeout;
    private readonly SslClientAuthenticationOptions? tls;
    private readonly string threadName;
    private readonly SemaphoreSlim asked = new(0);
    private readonly Lock gate = new();
    private Socket? socket;
    private Stream? stream;
    private Thread? thread;
    private bool closed;

    // A read asked for by another thread, waiting for the reading thread.
    private TaskCompletionSource<int>? pending;
    private Memory<byte> pendingInto;
    private CancellationTokenRegistration pendingCancel;

    /// <param name="threadName">The reading thread's name, as <c>top</c> and the per-thread CPU figures show it.</param>
    public BlockingTcpChannel(EndPoint remote, TimeSpan connectTimeout, SslClientAuthenticationOptions? tls, string threadName)
    {
        this.remote = remote;
        this.connectTimeout = connectTimeout;
        this.tls = tls;
        this.threadName = threadName;
    }

    public X509Certificate2? ClientCertificate => null;

    public EndPoint? RemoteEndPoint => remote;

    public EndPoint? LocalEndPoint { get; private set; }

    public bool IsSecureConnection => tls is not null;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var connecting = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // Blocking calls only (see remarks), on a thread of their own so that the timeout can give up on them;
            // disposing the socket then ends them.
            var connect = Task.Factory.StartNew(() => Open(connecting), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var opened = await connect.WaitAsync(connectTimeout, cancellationToken);
            lock (gate)
            {
                ObjectDisposedException.ThrowIf(closed, this);
                socket = connecting;
                stream = opened;
                LocalEndPoint = connecting.LocalEndPoint;
                thread = new Thread(ReadForOthers) { IsBackground = true, Name = threadName };
                thread.Start();
            }
        }
        catch
        {
            connecting.Dispose();
            throw;
        }
    }

    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        Close();
        return Task.CompletedTask;
    }

    public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (Thread.CurrentThread == thread)
        {
            try
            {
                return Task.FromResult(Read(buffer.AsSpan(offset, count)));
            }
            catch (Exception e) when (IsClosedConnection(e))
            {
                return Task.FromException<int>(Closed(e));
            }
        }

        // Not the reading thread: hand the read over. Its completion runs the caller's continuation on the reading
        // thread (no RunContinuationsAsynchronously), which is how the receive loop moves there.
        var read = new TaskCompletionSource<int>();
        lock (gate)
        {
            if (closed || pending is not null)
            {
                return Task.FromException<int>(closed
                    ? Closed(new ObjectDisposedException(nameof(BlockingTcpChannel)))
                    : new InvalidOperationException("Only one read at a time."));
            }

            pending = read;
            pendingInto = buffer.AsMemory(offset, count);
            pendingCancel = cancellationToken.UnsafeRegister(static channel => ((BlockingTcpChannel)channel!).Close(), this);
        }

        asked.Release();
        return read.Task;
    }

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        try
        {
            var open = Volatile.Read(ref stream) ?? throw new ObjectDisposedException(nameof(BlockingTcpChannel));
            if (buffer.IsSingleSegment)
            {
                open.Write(buffer.FirstSpan);
            }
            else
            {
                // One write, so one TCP segment (one TLS record), for a packet MQTTnet holds in pieces.
                var whole = ArrayPool<byte>.Shared.Rent((int)buffer.Length);
                buffer.CopyTo(whole);
                open.Write(whole, 0, (int)buffer.Length);
                ArrayPool<byte>.Shared.Return(whole);
            }

            return Task.CompletedTask;
        }
        catch (Exception e) when (IsClosedConnection(e))
        {
            return Task.FromException(Closed(e));
        }
    }

    public void Dispose() => Close();

    private Stream Open(Socket connecting)
    {
        connecting.Connect(remote);
        var plain = new BlockingSocketStream(connecting);
        if (tls is null)
        {
            return plain;
        }

        // Bounded like the connect: a broker that takes the connection and never answers must not hold the thread.
        connecting.ReceiveTimeout = (int)connectTimeout.TotalMilliseconds;
        var secure = new SslStream(plain, leaveInnerStreamOpen: false);
        secure.AuthenticateAsClient(tls);
        connecting.ReceiveTimeout = 0;
        return secure;
    }

    private int Read(Span<byte> into)
    {
        var open = Volatile.Read(ref stream) ?? throw new ObjectDisposedException(nameof(BlockingTcpChannel));
        return open.Read(into);
    }

    /// <summary>The reading thread: serves reads handed over by other threads until the channel closes.</summary>
    private void ReadForOthers()
    {
        while (true)
        {
            asked.Wait();
            TaskCompletionSource<int>? read;
            Memory<byte> into;
            CancellationTokenRegistration cancel;
            lock (gate)
            {
                (read, into, cancel) = (pending, pendingInto, pendingCancel);
                (pending, pendingInto, pendingCancel) = (null, default, default);
            }

            if (read is null)
            {
                return;
            }

            int count;
            try
            {
                count = Read(into.Span);
            }
            catch (Exception e) when (IsClosedConnection(e))
            {
                cancel.Dispose();
                read.SetException(Closed(e));
                continue;
            }

            cancel.Dispose();
            read.SetResult(count);
        }
    }

    private void Close()
    {
        Socket? open;
        lock (gate)
        {
            if (closed)
            {
                return;
            }

            closed = true;
            open = socket;
            socket = null;
        }

        if (open is not null)
        {
            try
            {
                open.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already reset by the other side.
            }

            open.Dispose();
        }

        // Ends the reading thread once it has failed whatever read was pending.
        asked.Release();
    }

    private static bool IsClosedConnection(Exception e) => e is SocketException or IOException or ObjectDisposedException;

    private static IOException Closed(Exception e) => e as IOException ?? new IOException("The broker connection was closed: " + e.Message, e);

    /// <summary>A stream over a socket used only with blocking calls, with a read-ahead buffer: a packet's header and body cost one <c>recv</c>.</summary>
    private sealed class BlockingSocketStream(Socket socket) : Stream
    {
        private readonly byte[] buffer = new byte[64 * 1024];
        private int start;
        private int end;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> into)
        {
            if (start == end)
            {
                start = 0;
                end = socket.Receive(buffer, SocketFlags.None);
                if (end == 0)
                {
                    return 0;
                }
            }

            var count = Math.Min(into.Length, end - start);
            buffer.AsSpan(start, count).CopyTo(into);
            start += count;
            return count;
        }

        public override int Read(byte[] into, int offset, int count) => Read(into.AsSpan(offset, count));

        // SslStream reads and writes its inner stream asynchronously during the handshake: served synchronously here.
        public override ValueTask<int> ReadAsync(Memory<byte> into, CancellationToken cancellationToken = default) => new(Read(into.Span));

        public override Task<int> ReadAsync(byte[] into, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(into.AsSpan(offset, count)));

        public override void Write(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                data = data[socket.Send(data, SocketFlags.None)..];
            }
        }

        public override void Write(byte[] data, int offset, int count) => Write(data.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
        {
            Write(data.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] data, int offset, int count, CancellationToken cancellationToken)
        {
            Write(data.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

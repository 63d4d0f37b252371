using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

namespace AccessControl.Broker;

/// <summary>A connection the embedded broker closed before its login: why, and where it came from.</summary>
internal readonly record struct RefusedConnection(string Why, EndPoint? From);

/// <summary>
/// The embedded broker's TCP listeners (the endpoints of its <see cref="MqttServerOptions"/>: plain, TLS or both), in
/// place of MQTTnet's own. Every accepted connection is admitted by a <see cref="PreLoginGate"/> at once, gets its
/// <see cref="PendingLogin"/> deadline, which covers its TLS handshake and its CONNECT, and is read through a
/// <see cref="PacketLimitChannel"/> from its first MQTT byte. A connection over the gate's counts is closed at once, unread.
/// </summary>
/// <remarks>
/// MQTTnet 5.2's listener runs the TLS handshake with no time limit and counts nothing until it is done: anyone who can
/// reach the port could hold sockets (and file descriptors) for ever by never finishing one, until devices that
/// reconnect find none left. A failed handshake is reported as <see cref="SecurityEvent.ConnectionClosed"/>, unless the
/// client certificate was what failed it: the broker's certificate check reported that one already. After the handshake
/// a connection is MQTTnet's as before (its channel, adapter and packet formatter): only its beginning differs.
/// </remarks>
internal sealed class BrokerListeners : IMqttServerAdapter
{
    private readonly int maxPacketBytes;
    private readonly Action<OversizedPacket> onRefused;
    private readonly PreLoginLimits preLogin;
    private readonly PreLoginGate gate;
    private readonly TimeProvider time;
    private readonly Action<RefusedConnection> onClosed;
    private readonly Func<Socket, CancellationToken, ValueTask<Socket>> accept;

    // The limit of each connection handed to the server, for the login check: MQTTnet's adapter does not show its channel.
    private readonly ConcurrentDictionary<IMqttChannelAdapter, PacketLimitChannel> limits = new(ReferenceEqualityComparer.Instance);
    private readonly List<Socket> sockets = [];
    private readonly List<Task> accepting = [];
    private CancellationTokenSource? stopping;

    /// <summary>How long accepting waits after an accept failed (out of file descriptors, say) before it tries again.</summary>
    internal static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromSeconds(1);

    /// <param name="onClosed">Receives each connection closed before its login: over the counts, past its deadline, a failed TLS handshake, a first packet that is not a CONNECT, or one over the pre-login size limit.</param>
    /// <param name="accept">Accepts a connection on a listening socket; <see cref="Socket.AcceptAsync(CancellationToken)"/> but in tests that make it fail.</param>
    public BrokerListeners(int maxPacketBytes, Action<OversizedPacket> onRefused, PreLoginLimits preLogin, TimeProvider time, Action<RefusedConnection> onClosed,
        Func<Socket, CancellationToken, ValueTask<Socket>>? accept = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPacketBytes);
        this.maxPacketBytes = maxPacketBytes;
        this.onRefused = onRefused;
        this.preLogin = preLogin;
        gate = new PreLoginGate(preLogin);
        this.time = time;
        this.onClosed = onClosed;
        this.accept = accept ?? (static (listening, stop) => listening.AcceptAsync(stop));
    }

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>The packet limit of a connection of these listeners, or null for an adapter that is not one of them.</summary>
    public PacketLimitChannel? LimitOf(IMqttChannelAdapter? adapter) => adapter is not null && limits.TryGetValue(adapter, out var limit) ? limit : null;

    /// <summary>Binds every enabled endpoint; one bound to port 0 gets the port the OS chose written back into its options.</summary>
    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        if (stopping is not null)
        {
            throw new InvalidOperationException("The listeners are already started.");
        }

        stopping = new CancellationTokenSource();
        try
        {
            if (options.DefaultEndpointOptions.IsEnabled)
            {
                Listen(options.DefaultEndpointOptions, null, options, logger);
            }

            if (options.TlsEndpointOptions.IsEnabled)
            {
                var tls = options.TlsEndpointOptions;
                var certificate = tls.CertificateProvider?.GetCertificate() ?? throw new ArgumentException("The TLS endpoint has no certificate.", nameof(options));
                if (!certificate.HasPrivateKey)
                {
                    throw new ArgumentException("The TLS endpoint's certificate has no private key.", nameof(options));
                }

                Listen(tls, new Tls(certificate, tls), options, logger);
            }
        }
        catch
        {
            Close();
            throw;
        }

        return Task.CompletedTask;
    }

    /// <summary>Stops accepting and ends every TLS handshake still running; connections already handed over are the server's to close.</summary>
    public async Task StopAsync()
    {
        Task[] loops = [.. accepting];
        Close();
        await Task.WhenAll(loops);
    }

    public void Dispose() => Close();

    private void Close()
    {
        // Cancelled, not disposed: handshakes still link to its token, and without a timer it holds nothing to release.
        stopping?.Cancel();
        stopping = null;
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        sockets.Clear();
        accepting.Clear();
    }

    private void Listen(MqttServerTcpEndpointBaseOptions endpoint, Tls? tls, MqttServerOptions options, IMqttNetLogger logger)
    {
        foreach (var address in new[] { endpoint.BoundInterNetworkAddress, endpoint.BoundInterNetworkV6Address })
        {
            if (address.Equals(IPAddress.None))
            {
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            sockets.Add(socket);
            Configure(socket, endpoint);
            socket.Bind(new IPEndPoint(address, endpoint.Port));
            endpoint.Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            socket.Listen(endpoint.ConnectionBacklog);
            var listener = new Listener(socket, endpoint, tls, options, logger, logger.WithSource(nameof(BrokerListeners)));
            var stop = stopping!.Token;
            accepting.Add(Task.Run(() => AcceptAsync(listener, stop)));
        }
    }

    // SO_REUSEADDR alone, so that a restart binds the port while old connections linger in TIME_WAIT. .NET's
    // ReuseAddress option also sets SO_REUSEPORT on Linux and macOS, which lets a second process (a second service
    // started by hand beside the unit) listen on the same port: the kernel then hands each device's connection to
    // either of them, and two databases decide the site's doors. Without it that second bind fails with "address in
    // use", and the start says so. Windows allows the rebind without any option.
    internal static void AllowRebindOnly(Socket socket)
    {
        if (OperatingSystem.IsLinux())
        {
            const int SolSocket = 1, SoReuseAddr = 2;
            socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        }
        else if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
        {
            const int SolSocket = 0xffff, SoReuseAddr = 4;
            socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        }
    }

    // The endpoint's socket options, set on the listening socket as MQTTnet's listener does: accepted connections
    // inherit them (linger 0 by default: a connection the broker closes is reset, not left in TIME_WAIT).
    private static void Configure(Socket socket, MqttServerTcpEndpointBaseOptions endpoint)
    {
        if (endpoint.ReuseAddress)
        {
            AllowRebindOnly(socket);
        }

        socket.NoDelay = endpoint.NoDelay;
        if (endpoint.LingerState is { } linger)
        {
            socket.LingerState = linger;
        }

        if (endpoint.KeepAlive is { } keepAlive)
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, keepAlive);
        }

        foreach (var (option, value) in new[]
        {
            (SocketOptionName.TcpKeepAliveTime, endpoint.TcpKeepAliveTime),
            (SocketOptionName.TcpKeepAliveInterval, endpoint.TcpKeepAliveInterval),
            (SocketOptionName.TcpKeepAliveRetryCount, endpoint.TcpKeepAliveRetryCount),
        })
        {
            if (value is { } set)
            {
                socket.SetSocketOption(SocketOptionLevel.Tcp, option, set);
            }
        }
    }

    // A failing accept is logged when it starts failing and when it succeeds again, not at every retry: out of file
    // descriptors for minutes, a line a second would fill the broker's share of the log (MqttNetLog) and hide the rest.
    private async Task AcceptAsync(Listener listener, CancellationToken stop)
    {
        var failures = 0;
        var failingSince = 0L;
        while (!stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await accept(listener.Socket, stop);
            }
            catch (Exception e) when (stop.IsCancellationRequested || e is ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (OfOneConnection(e.SocketErrorCode))
            {
                // That client went away between its SYN and the accept (or its network did): the listener is fine and
                // the next connection is waiting. Not logged, as the broker's log keeps nothing below a warning.
                continue;
            }
            catch (SocketException e)
            {
                if (failures++ == 0)
                {
                    failingSince = time.GetTimestamp();
                    listener.Log.Error(e, "Accepting connections on {0} fails; no device can connect until it succeeds again (tried every {1:0.###} s)",
                        listener.Socket.LocalEndPoint, AcceptRetryDelay.TotalSeconds);
                }

                // Out of file descriptors, say: give the connections that hold them time to end rather than spin.
                await Task.Delay(AcceptRetryDelay, time, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            if (failures > 0)
            {
                listener.Log.Publish(MqttNetLogLevel.Warning, "Accepting connections on {0} again, after {1} failed attempts over {2:0.#} s",
                    [listener.Socket.LocalEndPoint!, failures, time.GetElapsedTime(failingSince).TotalSeconds], null!);
                failures = 0;
            }

            _ = Task.Run(() => ServeAsync(client, listener, stop), CancellationToken.None);
        }
    }

    /// <summary>
    /// An accept's error that belongs to the one connection it would have returned, not to the listener: Linux's
    /// accept(2) passes a pending connection's network error on, and asks that it be retried at once. Any other error
    /// (out of file descriptors or buffers, or one not foreseen) waits <see cref="AcceptRetryDelay"/>, so a listener
    /// that keeps failing does not spin.
    /// </summary>
    internal static bool OfOneConnection(SocketError error) => error is SocketError.ConnectionAborted or SocketError.ConnectionReset
        or SocketError.NetworkDown or SocketError.NetworkUnreachable or SocketError.HostDown or SocketError.HostUnreachable;

    // Completes when the connection ends, which closes its socket.
    private async Task ServeAsync(Socket client, Listener listener, CancellationToken stop)
    {
        var from = client.RemoteEndPoint;
        var address = SecurityEvent.AddressOf(from) ?? "";
        if (gate.TryEnter(address) is { } full)
        {
            onClosed(new RefusedConnection(full + "; connection closed unread", from));
            client.Dispose();
            return;
        }

        Stream stream = new NetworkStream(client, ownsSocket: true);
        SslStream? secure = null;
        var seconds = preLogin.ConnectDeadline.TotalSeconds;
        using var pending = new PendingLogin(gate, address, preLogin.ConnectDeadline, time, () => onClosed(new RefusedConnection(
            secure is { IsAuthenticated: false } ? $"no TLS handshake within {seconds:0.###} s of connecting; connection closed"
                : $"no login within {seconds:0.###} s of connecting; connection closed", from)));
        try
        {
            client.NoDelay = listener.Endpoint.NoDelay;
            X509Certificate2? certificate = null;
            if (listener.Tls is { } tls)
            {
                stream = secure = new SslStream(stream, leaveInnerStreamOpen: false);
                if (!await HandshakeAsync(secure, tls, from, pending, stop))
                {
                    return;
                }

                certificate = secure.RemoteCertificate switch
                {
                    null => null,
                    X509Certificate2 whole => whole,
                    var other => X509CertificateLoader.LoadCertificate(other.Export(X509ContentType.Cert)),
                };
            }

            if (ClientHandler is not { } handler)
            {
                return;
            }

            var channel = new PacketLimitChannel(new MqttTcpChannel(stream, client.LocalEndPoint, from, certificate), maxPacketBytes, onRefused, pending,
                Math.Min(preLogin.MaxPacketBytes, maxPacketBytes), why => onClosed(new RefusedConnection(why, from)));
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(listener.Options.WriterBufferSize, listener.Options.WriterBufferSizeMax));
            using var adapter = new MqttChannelAdapter(channel, formatter, listener.Logger)
            {
                AllowPacketFragmentation = listener.Endpoint.AllowPacketFragmentation,
            };
            limits[adapter] = channel;
            try
            {
                await handler(adapter);
            }
            finally
            {
                limits.TryRemove(adapter, out _);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // The connection broke or was closed under the server; nothing to report beyond what the server did.
        }
        catch (Exception e)
        {
            listener.Log.Error(e, "Serving the connection from {0} failed", from);
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    /// <summary>The TLS handshake, within the connection's deadline; false when it did not complete (the connection is to be closed).</summary>
    private async Task<bool> HandshakeAsync(SslStream secure, Tls tls, EndPoint? from, PendingLogin pending, CancellationToken stop)
    {
        var certificateRefused = false;
        bool Check(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            var valid = tls.Endpoint.RemoteCertificateValidationCallback?.Invoke(sender, certificate, chain, errors) ?? errors == SslPolicyErrors.None;
            certificateRefused = !valid;
            return valid;
        }

        using var either = CancellationTokenSource.CreateLinkedTokenSource(pending.Expired, stop);
        try
        {
            await secure.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificate = tls.Certificate,
                ClientCertificateRequired = tls.Endpoint.ClientCertificateRequired,
                EnabledSslProtocols = tls.Endpoint.SslProtocol,
                CertificateRevocationCheckMode = tls.Endpoint.CheckCertificateRevocation ? X509RevocationMode.Online : X509RevocationMode.NoCheck,
                CipherSuitesPolicy = tls.Endpoint.CipherSuitesPolicy,
                RemoteCertificateValidationCallback = Check,
            }, either.Token);
        }
        catch (Exception) when (either.IsCancellationRequested)
        {
            // Past the deadline (reported when it passed) or the broker is stopping.
            return false;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException)
        {
            if (!certificateRefused)
            {
                onClosed(new RefusedConnection($"TLS handshake failed ({e.Message}); connection closed", from));
            }

            return false;
        }

        return true;
    }

    private sealed record Tls(X509Certificate2 Certificate, MqttServerTlsTcpEndpointOptions Endpoint);

    private sealed record Listener(Socket Socket, MqttServerTcpEndpointBaseOptions Endpoint, Tls? Tls, MqttServerOptions Options, IMqttNetLogger Logger, MqttNetSourceLogger Log);
}

using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using AccessControl.HttpSecurity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using NodaTime;
using NodaTime.Testing;

namespace AccessControl.Tests.HttpSecurity;

/// <summary>
/// Kestrel on a loopback port with the service's body limits (Kestrel's set as the service sets it, and
/// <c>UseHttpSecurity</c>) and one endpoint, <c>POST /upload</c>, that reads its whole body and takes a larger one than
/// the default (<see cref="BodySizeLimit"/>), as the HR feed does. It counts the bytes the server took off the connection.
/// </summary>
internal sealed class CountingHost : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly TaskCompletionSource<long> ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CountingHost(WebApplication app) => this.app = app;

    public int Port => new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single()).Port;

    /// <summary>How much Kestrel reads off a connection ahead of what the request has consumed (its MaxRequestBufferSize).</summary>
    public long RequestBufferBytes => app.Services.GetRequiredService<IOptions<KestrelServerOptions>>().Value.Limits.MaxRequestBufferSize ?? 0;

    /// <summary>Completes when the server has done with the (first) connection, with the bytes it took off it.</summary>
    public Task<long> ConnectionEnded => ended.Task;

    public static async Task<CountingHost> StartAsync(long endpointLimit)
    {
        var options = new HttpSecurityOptions();
        CountingHost? host = null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Use(next => connection => host!.CountAsync(next, connection)));
        });
        builder.Services.AddSingleton<IClock>(new FakeClock(Instant.FromUtc(2026, 12, 1, 9, 0)));
        builder.Services.AddHttpSecurity(options);
        var app = builder.Build();
        app.UseHttpSecurity();
        app.MapPost("/upload", async (HttpContext http) =>
        {
            await http.Request.Body.CopyToAsync(Stream.Null, http.RequestAborted);
            return Results.Ok();
        }).WithMetadata(new BodySizeLimit(endpointLimit));
        host = new CountingHost(app);
        await app.StartAsync();
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private async Task CountAsync(ConnectionDelegate next, ConnectionContext connection)
    {
        var transport = connection.Transport;
        var counting = new CountingReader(transport.Input);
        connection.Transport = new DuplexPipe(counting, transport.Output);
        try
        {
            await next(connection);
        }
        finally
        {
            ended.TrySetResult(counting.Received);
        }
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    /// <summary>
    /// Counts what the server has taken off the connection: what it consumed, and what it has been handed beyond that.
    /// </summary>
    private sealed class CountingReader(PipeReader inner) : PipeReader
    {
        private ReadOnlySequence<byte> last;
        private long consumed;
        private long received;

        public long Received => Interlocked.Read(ref received);

        public override async ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => Seen(await inner.ReadAsync(cancellationToken));

        public override bool TryRead(out ReadResult result)
        {
            if (!inner.TryRead(out result))
            {
                return false;
            }

            Seen(result);
            return true;
        }

        public override void AdvanceTo(SequencePosition consumedTo) => AdvanceTo(consumedTo, consumedTo);

        public override void AdvanceTo(SequencePosition consumedTo, SequencePosition examined)
        {
            consumed += last.Slice(last.Start, consumedTo).Length;
            inner.AdvanceTo(consumedTo, examined);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        private ReadResult Seen(ReadResult result)
        {
            last = result.Buffer;
            Interlocked.Exchange(ref received, Math.Max(Interlocked.Read(ref received), consumed + last.Length));
            return result;
        }
    }
}

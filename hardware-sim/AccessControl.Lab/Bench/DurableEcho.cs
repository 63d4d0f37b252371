using System.Collections.Concurrent;
using AccessControl.Devices;
using AccessControl.Protocol;
using MQTTnet;
using MQTTnet.Protocol;

namespace AccessControl.Lab.Bench;

/// <summary>
/// The durable floor's responder: an echo that answers each reader event only once a record of it is on disk. Events
/// go from the MQTT client to a queue and a thread of their own, which writes one 4 KiB block for everything queued
/// (group commit), syncs it (<c>fsync</c>, as SQLite does) and then publishes the answers. That is the service's path
/// (MQTT client, queue, one thread, durable write, publish) without a decision, SQLite, the hash chain or JSON: what
/// "durable before visible" costs on this machine and disk, whatever the service does besides.
/// </summary>
/// <remarks>
/// The file is written in place over 32 MiB allocated up front, as SQLite's WAL is after its first restart, so a sync
/// never has to extend the file.
/// </remarks>
internal sealed class DurableEcho : IAsyncDisposable
{
    private const int Block = 4096;
    private const long FileBytes = 32L << 20;
    private readonly IMqttClient client;
    private readonly Topics topics;
    private readonly FileStream file;
    private readonly ConcurrentQueue<(string ReaderId, byte[] Payload)> queue = new();
    private readonly ManualResetEventSlim queued = new(false, spinCount: 0);
    private readonly Thread thread;
    private volatile bool stopping;
    private long offset;

    private DurableEcho(IMqttClient client, Topics topics, string path)
    {
        this.client = client;
        this.topics = topics;
        file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        var zeros = new byte[1 << 20];
        for (var written = 0L; written < FileBytes; written += zeros.Length)
        {
            file.Write(zeros);
        }

        file.Flush(flushToDisk: true);
        thread = new Thread(Run) { IsBackground = true, Name = "durable-echo" };
        thread.Start();
    }

    public static async Task<DurableEcho> StartAsync(int port, DeviceSecrets secrets, Topics topics, string directory)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var echo = new DurableEcho(client, topics, Path.Combine(directory, "durable-echo.bin"));
        await BenchCommand.Echo.ConnectInServicePlaceAsync(client, port, secrets, topics, "durable echo", (readerId, payload) =>
        {
            echo.queue.Enqueue((readerId, System.Buffers.BuffersExtensions.ToArray(payload)));
            echo.queued.Set();
        });
        return echo;
    }

    private void Run()
    {
        var block = new byte[Block];
        var batch = new List<(string ReaderId, byte[] Payload)>();
        while (!stopping)
        {
            while (queue.IsEmpty && !stopping)
            {
                queued.Reset();
                if (queue.IsEmpty)
                {
                    queued.Wait(TimeSpan.FromMilliseconds(100));
                }
            }

            batch.Clear();
            var used = 0;
            while (queue.TryDequeue(out var item))
            {
                batch.Add(item);
                var take = Math.Min(item.Payload.Length, Block - used);
                item.Payload.AsSpan(0, take).CopyTo(block.AsSpan(used));
                used += take;
            }

            if (batch.Count == 0)
            {
                continue;
            }

            file.Position = offset;
            file.Write(block);
            file.Flush(flushToDisk: true);
            offset = (offset + Block) % FileBytes;
            foreach (var (readerId, payload) in batch)
            {
                _ = client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topics.ReaderDecisions(readerId))
                    .WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await client.DisconnectAsync();
        client.Dispose();
        stopping = true;
        queued.Set();
        thread.Join();
        file.Dispose();
        queued.Dispose();
    }
}

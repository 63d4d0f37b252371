using System.Diagnostics;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
using MQTTnet;
using NodaTime;

namespace AccessControl.Lab.Bench;

/// <summary>The broker under test: our embedded MQTTnet broker, or a Mosquitto process with the generated config.</summary>
internal sealed class BenchBroker : IAsyncDisposable
{
    private readonly EmbeddedBroker? embedded;
    private Process? mosquitto;
    private string? configFile;
    private DeviceSecrets? secrets;

    private BenchBroker(int port, EmbeddedBroker? embedded, Process? mosquitto)
    {
        Port = port;
        this.embedded = embedded;
        this.mosquitto = mosquitto;
    }

    public int Port { get; }

    public static async Task<BenchBroker> StartAsync(string kind, SiteTopology topology, DeviceSecrets secrets, Topics topics, IClock clock, string directory)
    {
        if (kind == "embedded")
        {
            var broker = new EmbeddedBroker(0, topics, () => topology, secrets, clock);
            await broker.StartAsync();
            return new BenchBroker(broker.Port, broker, null);
        }

        var port = FreePort();
        var files = MosquittoConfig.Write(topology, secrets, port, directory, topics);
        var process = await StartMosquittoAsync(files.ConfigFile, port, secrets);
        return new BenchBroker(port, null, process) { configFile = files.ConfigFile, secrets = secrets };
    }

    /// <summary>Stops the broker (Mosquitto: SIGKILL, as a crash would) and starts it again on the same port.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        if (embedded is not null)
        {
            await embedded.StopAsync();
            await Task.Delay(down);
            await embedded.StartAsync();
            return;
        }

        mosquitto!.Kill();
        await mosquitto.WaitForExitAsync();
        mosquitto.Dispose();
        await Task.Delay(down);
        mosquitto = await StartMosquittoAsync(configFile!, Port, secrets!);
    }

    private static async Task<Process> StartMosquittoAsync(string configFile, int port, DeviceSecrets secrets)
    {
        var process = Process.Start(new ProcessStartInfo("mosquitto", ["-c", configFile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("mosquitto could not be started (is it installed? tests/run.sh installs it)");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // Ready when a login works.
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var probe = new MqttClientFactory().CreateMqttClient();
            try
            {
                var result = await probe.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port)
                    .WithClientId(DeviceSecrets.MonitorUsername).WithCredentials(DeviceSecrets.MonitorUsername, secrets.For(DeviceSecrets.MonitorUsername)).Build());
                if (result.ResultCode == MqttClientConnectResultCode.Success)
                {
                    await probe.DisconnectAsync();
                    return process;
                }
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                await Task.Delay(100);
            }
        }

        process.Kill();
        throw new InvalidOperationException($"mosquitto did not accept logins on port {port}");
    }

    public async ValueTask DisposeAsync()
    {
        if (embedded is not null)
        {
            await embedded.DisposeAsync();
        }

        if (mosquitto is not null)
        {
            mosquitto.Kill();
            await mosquitto.WaitForExitAsync();
            mosquitto.Dispose();
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Diagnostics;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
using MQTTnet;

namespace AccessControl.Lab.Bench;

/// <summary>
/// The broker under test, in a process of its own: our embedded MQTTnet broker (<c>aclab broker</c>, the same
/// <see cref="EmbeddedBroker"/> the service hosts, with the demo site's logins and rights), or Mosquitto with the
/// generated config.
/// </summary>
internal sealed class BenchBroker : IAsyncDisposable
{
    private ChildProcess? embedded;
    private Process? mosquitto;
    private string? configFile;
    private DeviceSecrets? secrets;
    private string[] embeddedArguments = [];

    private BenchBroker(int port, ChildProcess? embedded, Process? mosquitto)
    {
        Port = port;
        this.embedded = embedded;
        this.mosquitto = mosquitto;
    }

    public int Port { get; }

    /// <param name="keyFile">The provisioning key <paramref name="secrets"/> came from (the embedded broker's process reads it).</param>
    public static async Task<BenchBroker> StartAsync(string kind, SiteTopology topology, DeviceSecrets secrets, Topics topics, string siteFile, string keyFile, string directory)
    {
        var port = FreePort();
        if (kind == "embedded")
        {
            string[] arguments = ["broker", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--site", siteFile, "--key-file", keyFile];
            return new BenchBroker(port, await ChildProcess.StartAsync("aclab.dll", arguments, "broker ready"), null) { embeddedArguments = arguments };
        }

        var files = MosquittoConfig.Write(topology, secrets, port, directory, topics);
        var process = await StartMosquittoAsync(files.ConfigFile, port, secrets);
        return new BenchBroker(port, null, process) { configFile = files.ConfigFile, secrets = secrets };
    }

    /// <summary>Stops the broker (Mosquitto: SIGKILL, as a crash would) and starts it again on the same port.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        if (embedded is not null)
        {
            await embedded.KillAsync();
            await embedded.DisposeAsync();
            await Task.Delay(down);
            embedded = await ChildProcess.StartAsync("aclab.dll", embeddedArguments, "broker ready");
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
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo("mosquitto", ["-c", configFile])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            }) ?? throw new BenchSetupException(BenchPreflight.NoMosquitto);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new BenchSetupException($"{BenchPreflight.NoMosquitto}: {ex.Message}", ex);
        }

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
            embedded = null;
        }

        if (mosquitto is not null)
        {
            mosquitto.Kill();
            await mosquitto.WaitForExitAsync();
            mosquitto.Dispose();
            mosquitto = null;
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>The bench cannot start (a broker missing from the machine): the lab prints the message, not a stack trace.</summary>
public sealed class BenchSetupException(string message, Exception? inner = null) : Exception(message, inner);

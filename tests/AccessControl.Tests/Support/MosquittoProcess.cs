using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
using MQTTnet;
using MQTTnet.Exceptions;

namespace AccessControl.Tests.Support;

/// <summary>
/// A real Mosquitto broker as a child process, configured by <see cref="MosquittoConfig"/> in a temporary directory,
/// on a free port of 127.0.0.1. It is ready when it has accepted a login (polled, no fixed sleep). It can be killed
/// and started again on the same port, for broker-restart tests.
/// </summary>
/// <remarks>
/// Mosquitto must be installed. It is never skipped: a missing broker fails the test with a message saying how to
/// get it, because a silently skipped security test is a passed security test nobody ran.
/// </remarks>
public sealed class MosquittoProcess : ITestBroker
{
    private readonly string executable;
    private readonly DeviceSecrets secrets;
    private readonly StringBuilder log = new();
    private readonly TestPki? pki;
    private Process? process;

    private MosquittoProcess(string executable, DeviceSecrets secrets, string directory, MosquittoFiles files, int port, TestPki? pki = null)
    {
        this.pki = pki;
        this.executable = executable;
        this.secrets = secrets;
        Directory = directory;
        Files = files;
        Port = port;
    }

    public BrokerKind Kind => BrokerKind.Mosquitto;

    public int Port { get; }

    public string Directory { get; }

    public MosquittoFiles Files { get; }

    /// <summary>The process id of the last Mosquitto started, running or not; null before the first start.</summary>
    public int? LastProcessId { get; private set; }

    /// <summary>Everything Mosquitto printed so far, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    /// <param name="pki">When given, Mosquitto listens with mutual TLS only (certificates and CRL from it).</param>
    public static async Task<MosquittoProcess> StartAsync(SiteTopology topology, DeviceSecrets secrets, Topics topics, TestPki? pki = null)
    {
        var executable = FindExecutable();
        var directory = System.IO.Directory.CreateTempSubdirectory("ac-mosquitto-").FullName;

        // A free port can be taken by someone else between probing and binding; then try another one.
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort();
            var files = MosquittoConfig.Write(topology, secrets, port, directory, topics, pki?.MosquittoTls);
            var broker = new MosquittoProcess(executable, secrets, directory, files, port, pki);
            try
            {
                await broker.StartAgainAsync();
                return broker;
            }
            catch (InvalidOperationException) when (attempt < 3 && broker.Log.Contains("Address already in use", StringComparison.Ordinal))
            {
                // StartAgainAsync has already stopped the process; try another port.
            }
            catch (InvalidOperationException)
            {
                System.IO.Directory.Delete(directory, recursive: true);
                throw;
            }
        }
    }

    /// <summary>Starts (or restarts) Mosquitto on <see cref="Port"/> and waits until it accepts a login.</summary>
    public async Task StartAgainAsync()
    {
        if (process is not null)
        {
            throw new InvalidOperationException("Mosquitto is already running.");
        }

        var started = new Process
        {
            StartInfo = new ProcessStartInfo(executable, ["-c", Files.ConfigFile])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            },
        };
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (log)
                {
                    log.AppendLine(e.Data);
                }
            }
        };
        started.OutputDataReceived += collect;
        started.ErrorDataReceived += collect;

        started.Start();
        process = started;
        LastProcessId = started.Id;
        started.BeginOutputReadLine();
        started.BeginErrorReadLine();

        try
        {
            await WaitUntilServiceCanLogInAsync(started);
        }
        catch (InvalidOperationException e)
        {
            // Never leave a broker behind that nobody will stop. Stopping also waits for its last output.
            await StopAsync();
            throw new InvalidOperationException($"{e.Message} Mosquitto said:\n{Log}", e);
        }
    }

    /// <summary>Kills Mosquitto (as a crash would) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        var running = process;
        process = null;
        if (running is null)
        {
            return;
        }

        if (!running.HasExited)
        {
            running.Kill();
        }

        await running.WaitForExitAsync();
        running.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>
    /// Polls a login until it succeeds, which proves Mosquitto listens and can read its password file. It logs in as
    /// the monitor, not the service: sessions are keyed by username, so a probe logging in as the service would kick
    /// off a ServiceConnection that reconnected first (exactly what the broker-restart tests exercise). Mosquitto's own "running" log line is no use
    /// as a signal: its stdout is block-buffered when it is a pipe. A refused TCP connect fails at once, hence the
    /// short poll interval; the overall wait is bounded by <see cref="TestTimeouts.Signal"/>.
    /// </summary>
    private async Task WaitUntilServiceCanLogInAsync(Process started)
    {
        using var deadline = new CancellationTokenSource(TestTimeouts.Signal);
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(IPAddress.Loopback.ToString(), Port)
            .WithClientId(DeviceSecrets.MonitorUsername)
            .WithCredentials(DeviceSecrets.MonitorUsername, secrets.For(DeviceSecrets.MonitorUsername))
            .WithTimeout(TimeSpan.FromSeconds(2))
            .WithTlsOptions(pki?.ClientTls(DeviceSecrets.MonitorUsername) ?? new MqttClientTlsOptions { UseTls = false })
            .Build();
        string? lastFailure = null;
        do
        {
            if (started.HasExited)
            {
                throw new InvalidOperationException($"Mosquitto exited during start-up on port {Port}.");
            }

            // Each attempt is short: if something else holds the port it may accept TCP and never answer MQTT.
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            attempt.CancelAfter(TimeSpan.FromSeconds(2));
            try
            {
                var result = await client.ConnectAsync(options, attempt.Token);
                if (result.ResultCode == MqttClientConnectResultCode.Success)
                {
                    await client.DisconnectAsync();
                    return;
                }

                lastFailure = $"refused the monitor's login ({result.ResultCode})";
            }
            catch (MqttCommunicationException e)
            {
                lastFailure = e.Message;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException)
            {
                lastFailure = "no CONNACK within 2 s";
            }
        }
        while (await WaitForNextPollAsync(poll, deadline.Token));

        throw new InvalidOperationException($"Mosquitto did not accept the monitor's login on port {Port} within {TestTimeouts.Signal}: {lastFailure}");
    }

    private static async Task<bool> WaitForNextPollAsync(PeriodicTimer poll, CancellationToken deadline)
    {
        try
        {
            return await poll.WaitForNextTickAsync(deadline);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static string FindExecutable()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        var candidates = path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/usr/bin"])
            .Select(dir => Path.Combine(dir, "mosquitto"));
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                "Mosquitto is not installed, and the broker tests run against it as well as the embedded broker. " +
                "Run the test script (.ci/run), which installs it, or install it yourself: apt-get install -y mosquitto mosquitto-clients");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

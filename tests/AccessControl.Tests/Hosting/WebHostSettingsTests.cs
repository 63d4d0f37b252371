using System.Net;
using System.Net.Sockets;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;

namespace AccessControl.Tests.Hosting;

/// <summary>
/// The admin API listens where the service's settings say (<c>--http</c>, <c>AccessControl:HttpUrl</c>) and nowhere
/// else: not where an <c>appsettings.json</c> that happens to lie in the working directory, or a <c>Kestrel__...</c>
/// variable, would have ASP.NET Core's defaults open another endpoint (plain HTTP, on any interface, past the
/// loopback default the operations guide relies on).
/// </summary>
public sealed class WebHostSettingsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    [Trait("control", "NIST-CM-7")]
    public async Task Run_FromAFolderHoldingAnotherAppsettingsJson_OpensNoEndpointThatFileNames()
    {
        using var data = new DataFolder();
        using var elsewhere = new DataFolder();
        var stray = FreePort();
        await File.WriteAllTextAsync(Path.Combine(elsewhere.Path, "appsettings.json"),
            $$$"""{"Kestrel": {"Endpoints": {"Stray": {"Url": "http://127.0.0.1:{{{stray}}}"} } } }""");
        var settings = Path.Combine(data.Path, "service.json");
        await File.WriteAllTextAsync(settings, "{}");

        var (running, output, listens) = await WhileRunningAsync(data.Path, ["--config", settings], environment: null, workingDirectory: elsewhere.Path,
            () => Listens(stray));

        Assert.True(running, output);
        Assert.DoesNotContain($":{stray}", output, StringComparison.Ordinal);
        Assert.False(listens, $"the service listens on {stray}, the port the working directory's appsettings.json named");
    }

    [Fact]
    [Trait("control", "NIST-CM-7")]
    public async Task Run_WithAKestrelEndpointVariable_OpensNoEndpointThatVariableNames()
    {
        using var data = new DataFolder();
        var stray = FreePort();

        var (running, output, listens) = await WhileRunningAsync(data.Path, [], new Dictionary<string, string>
        {
            ["Kestrel__Endpoints__Stray__Url"] = $"http://127.0.0.1:{stray}",
        }, workingDirectory: null, () => Listens(stray));

        Assert.True(running, output);
        Assert.DoesNotContain($":{stray}", output, StringComparison.Ordinal);
        Assert.False(listens, $"the service listens on {stray}, the port a Kestrel__ variable named");
    }

    /// <summary>
    /// The console (journald under systemd) is the operator's: ASP.NET Core's four information lines per request would
    /// bury the service's own lines under a console that polls the API. Requests are answered, and nothing of theirs is
    /// written below a warning.
    /// </summary>
    [Fact]
    public async Task Run_AnsweringRequests_WritesNoLinePerRequestToTheConsole()
    {
        using var data = new DataFolder();
        var port = FreePort();
        var (process, printed, error) = await StartRunAsync(data.Path, ["--http", $"http://127.0.0.1:{port}"], environment: null, workingDirectory: null);
        try
        {
            Assert.True(!process.HasExited, printed.ToString());
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var answers = new List<HttpStatusCode>();
            for (var i = 0; i < 3; i++)
            {
                answers.Add((await http.GetAsync("/api/v1/people")).StatusCode);
            }

            Assert.All(answers, a => Assert.Equal(HttpStatusCode.Unauthorized, a));

            // Stopped as systemd stops it, so that the console writes out everything it was given before the end.
            using (var stop = System.Diagnostics.Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await stop.WaitForExitAsync().WaitAsync(Timeout);
            }

            printed.Append(await process.StandardOutput.ReadToEndAsync().WaitAsync(Timeout));
            await process.WaitForExitAsync().WaitAsync(Timeout);
            var output = printed + await error;

            Assert.Contains("Application is shutting down", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Request starting", output, StringComparison.Ordinal);
            Assert.DoesNotContain("Microsoft.AspNetCore", output, StringComparison.Ordinal);
        }
        finally
        {
            await StopAsync(process);
        }
    }

    /// <summary>
    /// Starts <c>accesscontrol run</c> on free ports; once it says it is running, asks <paramref name="probe"/>, then
    /// stops it. Running is false when it exited instead; Output is what it printed until then.
    /// </summary>
    private static async Task<(bool Running, string Output, bool Probe)> WhileRunningAsync(string data, string[] arguments,
        IReadOnlyDictionary<string, string>? environment, string? workingDirectory, Func<bool> probe)
    {
        var (process, printed, error) = await StartRunAsync(data, ["--http", "http://127.0.0.1:0", .. arguments], environment, workingDirectory);
        try
        {
            if (!process.HasExited)
            {
                return (true, printed.ToString(), probe());
            }

            return (false, printed + await error, false);
        }
        finally
        {
            await StopAsync(process);
        }
    }

    /// <summary>
    /// Starts <c>accesscontrol run</c> (the demo site, a free broker port) and reads what it prints until it says it is
    /// running, or until it exits (then HasExited). The caller stops it (<see cref="StopAsync"/>).
    /// </summary>
    private static async Task<(System.Diagnostics.Process Process, System.Text.StringBuilder Printed, Task<string> Error)> StartRunAsync(
        string data, string[] arguments, IReadOnlyDictionary<string, string>? environment, string? workingDirectory)
    {
        var process = ProgramRun.Start("dotnet",
            [Path.Combine(AppContext.BaseDirectory, "accesscontrol.dll"), "run", "--site", EdgeHarness.DemoSiteFile, "--data", data,
             "--broker-port", "0", .. arguments], environment, workingDirectory);
        var error = process.StandardError.ReadToEndAsync();
        var printed = new System.Text.StringBuilder();
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(Timeout) is { } line)
        {
            printed.AppendLine(line);
            if (line.StartsWith("AccessControl edge running", StringComparison.Ordinal))
            {
                return (process, printed, error);
            }
        }

        await process.WaitForExitAsync().WaitAsync(Timeout);
        return (process, printed, error);
    }

    private static async Task StopAsync(System.Diagnostics.Process process)
    {
        using (process)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static bool Listens(int port)
    {
        using var client = new TcpClient();
        try
        {
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

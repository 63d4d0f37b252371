using System.Diagnostics;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// The service as a process of its own (<c>dotnet accesscontrol.dll run ...</c>), so that a test can kill it the way
/// a power cut or the OOM killer would (SIGKILL: no shutdown code runs) and start it again on the same data folder.
/// </summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process process;

    private ServiceProcess(Process process) => this.process = process;

    public static async Task<ServiceProcess> StartAsync(string dataDirectory, string siteFile, int brokerPort)
    {
        var start = new ProcessStartInfo("dotnet",
        [
            Path.Combine(AppContext.BaseDirectory, "accesscontrol.dll"), "run", "--site", siteFile, "--data", dataDirectory,
            "--external-broker", $"127.0.0.1:{brokerPort}", "--http", "http://127.0.0.1:0",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start accesscontrol.dll");
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("AccessControl edge running", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"the service exited with {process.ExitCode} before it was ready"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(90));
        return new ServiceProcess(process);
    }

    /// <summary>SIGKILL: the process ends at once, mid-commit or mid-publish, whatever it was doing.</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>SIGTERM: a clean stop (the host signs a final checkpoint of the entry log).</summary>
    public async Task StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }
}

/// <summary>The wall clock for a test whose devices talk to a service process that runs on the wall clock.</summary>
internal sealed class WallClock(TimeProvider time) : NodaTime.IClock
{
    public NodaTime.Instant GetCurrentInstant() => NodaTime.Instant.FromDateTimeOffset(time.GetUtcNow());
}

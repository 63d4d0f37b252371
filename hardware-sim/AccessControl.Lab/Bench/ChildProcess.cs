using System.Diagnostics;

namespace AccessControl.Lab.Bench;

/// <summary>A program of this build run as a separate process (<c>dotnet X.dll ...</c>), ready when it prints a marker.</summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private const int KeptLines = 200;
    private readonly Process process;
    private readonly Queue<string> tail;

    private ChildProcess(Process process, Queue<string> tail, string readyLine)
    {
        this.process = process;
        this.tail = tail;
        ReadyLine = readyLine;
    }

    /// <summary>The line of output that carried the ready marker (it may say where the program listens).</summary>
    public string ReadyLine { get; }

    /// <summary>The last lines the process printed (standard output and error), for failure messages.</summary>
    public string RecentOutput
    {
        get
        {
            lock (tail)
            {
                return string.Join(Environment.NewLine, tail);
            }
        }
    }

    /// <param name="environment">Variables added to the child's environment (e.g. libfaketime's, for clock faults).</param>
    public static async Task<ChildProcess> StartAsync(string dll, string[] args, string readyMarker, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, dll), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Each program runs with the garbage collector it is built for (the service: server GC; see GcReport). Until the
        // thirteenth session this forced the workstation collector on all of them, so the bench measured the service
        // with another collector than it runs with (docs/benchmarks.md).
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {dll}");
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var tail = new Queue<string>();
        void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > KeptLines)
                {
                    tail.Dequeue();
                }
            }
        }

        process.OutputDataReceived += (_, e) =>
        {
            Keep(e.Data);
            if (e.Data?.Contains(readyMarker, StringComparison.Ordinal) == true)
            {
                ready.TrySetResult(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) =>
        {
            lock (tail)
            {
                ready.TrySetException(new InvalidOperationException($"{dll} exited with {process.ExitCode} before it was ready:{Environment.NewLine}{string.Join(Environment.NewLine, tail)}"));
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // Generous: a service started on a seeded log (bench --seed-rows) first indexes it.
        var line = await ready.Task.WaitAsync(TimeSpan.FromMinutes(5));
        return new ChildProcess(process, tail, line);
    }

    /// <summary>SIGKILL: ends the process at once, whatever it was doing (a power cut, the OOM killer).</summary>
    public async Task KillAsync()
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>SIGTERM: asks the process to stop cleanly and waits for it.</summary>
    public async Task StopAsync()
    {
        using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await term.WaitForExitAsync();
        }

        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }

        await process.WaitForExitAsync();
        process.Dispose();
    }
}

using NodaTime;

namespace AccessControl.Lab.Chaos;

/// <summary>
/// A long run with faults (issue 5, item 2), as a repeatable harness outside the test suite: simulated readers present
/// cards to the real service process, through Mosquitto, while faults strike at evenly spaced points (see
/// <see cref="ChaosRun"/>). At the end the service stops cleanly and <see cref="ChaosLogCheck"/> checks the database
/// and the checkpoint file. Exit code 0 only if everything holds.
/// </summary>
public sealed class ChaosCommand(IClock clock, TimeProvider time, TextWriter output)
{
    public async Task<int> RunAsync(ChaosOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        var started = time.GetTimestamp();
        var directory = Directory.CreateTempSubdirectory("aclab-chaos-").FullName;
        var kept = directory;
        Tmpfs? disk = null;
        var passed = false;
        try
        {
            if (options.DiskFull)
            {
                disk = await Tmpfs.MountAsync(directory, TmpfsMegabytes(options));
            }

            await using var run = new ChaosRun(directory, disk, options, clock, time, output);
            passed = await run.ExecuteAsync(cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            // A fault whose effect never came, a service that would not start, a tmpfs that could not be mounted.
            output.WriteLine($"chaos: {e.Message}");
        }
        finally
        {
            if (disk is not null)
            {
                if (!passed)
                {
                    // The tmpfs goes with the unmount: what went wrong stays on disk for a look.
                    kept = directory + "-kept";
                    CopyFolder(directory, kept);
                }

                await disk.DisposeAsync();
            }

            if (passed)
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        var seconds = time.GetElapsedTime(started).TotalSeconds;
        output.WriteLine(passed ? $"chaos: PASS ({seconds:0} s)" : $"chaos: FAIL ({seconds:0} s); data kept in {kept}");
        return passed ? 0 : 1;
    }

    /// <summary>
    /// A ceiling, not an allocation (tmpfs takes memory as files grow): room for the log and its WAL with the cards
    /// presented while faults last, several times the cards between them. The WAL grows by some 20 KiB a card while
    /// the readers never pause, because the background checkpoints never let it start over under such a load.
    /// </summary>
    private static int TmpfsMegabytes(ChaosOptions options) => 1024 + (options.Events / 5);

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != Tmpfs.FillerName))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}

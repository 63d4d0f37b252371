using System.Diagnostics;
using System.Globalization;

namespace AccessControl.Lab.Chaos;

/// <summary>
/// A tmpfs mounted on a folder, so that a fault can fill it for real: the service's data folder then runs out of space
/// the way a real disk does (<c>ENOSPC</c> on the WAL, the database and the checkpoint file alike), not through a
/// limit SQLite was told about. Needs root (<c>mount</c>); the CI and the lab run as root.
/// </summary>
/// <remarks>
/// The size given at mount is only a ceiling (tmpfs takes memory as files grow). <see cref="FillAsync"/> first lowers the
/// ceiling to what is in use plus a little, so that the filler stays small however much the run has written, then
/// fills the rest; <see cref="FreeAsync"/> deletes the filler and raises the ceiling again.
/// </remarks>
internal sealed class Tmpfs : IAsyncDisposable
{
    /// <summary>The file that fills the filesystem.</summary>
    public const string FillerName = "filler.bin";

    private const int ENOSPC = 28;
    private const long Slack = 1 << 20;
    private readonly string filler;
    private readonly int megabytes;
    private bool mounted;

    private Tmpfs(string directory, int megabytes)
    {
        Directory = directory;
        this.megabytes = megabytes;
        filler = Path.Combine(directory, FillerName);
    }

    /// <summary>The mount point.</summary>
    public string Directory { get; }

    /// <summary>
    /// Mounts a tmpfs of at most <paramref name="megabytes"/> MiB on <paramref name="directory"/> (which must exist and
    /// be empty). Throws, with mount's own message, when it cannot: a fault that was asked for is never skipped.
    /// </summary>
    public static async Task<Tmpfs> MountAsync(string directory, int megabytes)
    {
        var (exit, error) = await RunAsync("mount", "-t", "tmpfs", "-o", Size((long)megabytes << 20), "tmpfs", directory);
        if (exit != 0)
        {
            throw new InvalidOperationException(
                $"could not mount a {megabytes} MiB tmpfs on {directory} for the full-filesystem fault (mount exited {exit}: {error.Trim()}); " +
                "it needs root, or CAP_SYS_ADMIN in a container");
        }

        return new Tmpfs(directory, megabytes) { mounted = true };
    }

    /// <summary>
    /// Shrinks the filesystem to what is in use plus a little, then writes a filler file until the filesystem refuses
    /// with ENOSPC, down to the last page. Returns the filler's size.
    /// </summary>
    public async Task<long> FillAsync()
    {
        // What is in use grows while the service writes: measure again if it outgrew the measure before the remount.
        var shrunk = false;
        for (var attempt = 0; attempt < 10 && !shrunk; attempt++)
        {
            var drive = new DriveInfo(Directory);
            shrunk = (await RunAsync("mount", "-o", $"remount,{Size(drive.TotalSize - drive.AvailableFreeSpace + Slack)}", Directory)).Exit == 0;
        }

        if (!shrunk)
        {
            throw new InvalidOperationException($"could not shrink the tmpfs on {Directory} to what is in use");
        }

        using var handle = File.OpenHandle(filler, FileMode.OpenOrCreate, FileAccess.Write);
        foreach (var chunk in new[] { 1 << 16, 4096, 512 })
        {
            var bytes = new byte[chunk];
            while (true)
            {
                // A write cut short by ENOSPC may have added part of the chunk: go on from the file's real length.
                var length = RandomAccess.GetLength(handle);
                try
                {
                    RandomAccess.Write(handle, bytes, length);
                }
                catch (IOException e) when (e.HResult == ENOSPC)
                {
                    break;
                }
            }
        }

        return RandomAccess.GetLength(handle);
    }

    /// <summary>Deletes the filler and gives the filesystem its size again: the space is back.</summary>
    public async Task FreeAsync()
    {
        File.Delete(filler);
        var (exit, error) = await RunAsync("mount", "-o", $"remount,{Size((long)megabytes << 20)}", Directory);
        if (exit != 0)
        {
            throw new InvalidOperationException($"could not give the tmpfs on {Directory} its size back (mount exited {exit}: {error.Trim()})");
        }
    }

    /// <summary>Unmounts (lazily if something still holds a file open there); whatever was on it is gone.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!mounted)
        {
            return;
        }

        mounted = false;
        var (exit, error) = await RunAsync("umount", Directory);
        if (exit != 0)
        {
            (exit, error) = await RunAsync("umount", "-l", Directory);
            if (exit != 0)
            {
                throw new InvalidOperationException($"could not unmount the tmpfs on {Directory} (umount exited {exit}: {error.Trim()})");
            }
        }
    }

    private static string Size(long bytes) => "size=" + ((bytes + 4095) / 4096 * 4096).ToString(CultureInfo.InvariantCulture);

    private static async Task<(int Exit, string Error)> RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program, args) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not run {program}");
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await error);
    }
}

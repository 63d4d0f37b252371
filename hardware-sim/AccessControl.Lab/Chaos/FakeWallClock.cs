using System.Globalization;

namespace AccessControl.Lab.Chaos;

/// <summary>
/// The wall clock of a child process, stepped from outside with libfaketime (Debian package <c>faketime</c>), while
/// its monotonic clock runs on untouched: what NTP correcting a bad clock, an operator setting it or a resumed VM do
/// to a real edge box. The process is started with <see cref="Environment"/>; <see cref="StepTo"/> then moves its
/// <c>DateTime.UtcNow</c> by an offset from the real time, at once (the offset file is read at every clock call).
/// </summary>
/// <remarks>
/// <c>FAKETIME_FORCE_MONOTONIC_FIX=0</c> is needed for .NET: with libfaketime's default, <c>Thread.Sleep</c> and the
/// runtime's timers stop sleeping. <c>FAKETIME_DONT_FAKE_MONOTONIC=1</c> keeps <c>Stopwatch</c> on the real
/// monotonic clock, which is what the service's clock check compares against.
/// <para>
/// Not atomic across threads: libfaketime parses the offset file on every call into state all threads share, so for a
/// few seconds after a step, threads that read the clock at the same moment can see the old offset again (a .NET
/// program with 4 threads reading <c>DateTime.UtcNow</c>: 104 steps seen for 60, 46 of them a step back within 200 ms
/// of a step forward; 1 thread: none). A real step of the kernel's clock is seen by every thread at once. The service
/// checks its clock before every batch, so under load it raises a <c>clock_anomaly</c> for each such flap (the chaos
/// run counts 10-18 alarm rows for 4 steps), and each flap back moves its escort windows back: they close early, never
/// late.
/// </para>
/// </remarks>
internal sealed class FakeWallClock
{
    /// <summary>Where Debian's package puts the library (multiarch first, then the older layout).</summary>
    private static readonly string[] LibraryPaths =
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    ];

    private readonly string offsetFile;

    private FakeWallClock(string offsetFile, string library)
    {
        this.offsetFile = offsetFile;
        Environment = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = library,
            ["FAKETIME_TIMESTAMP_FILE"] = offsetFile,
            ["FAKETIME_NO_CACHE"] = "1",
            ["FAKETIME_DONT_FAKE_MONOTONIC"] = "1",
            ["FAKETIME_FORCE_MONOTONIC_FIX"] = "0",
        };
    }

    /// <summary>The variables to start the process with.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>How far the process's wall clock is from the real one now.</summary>
    public TimeSpan Offset { get; private set; }

    /// <summary>
    /// Writes the offset file (<c>faketime.offset</c> in <paramref name="directory"/>, offset zero) and finds the
    /// library; throws if libfaketime is not installed, naming the package (tests/run.sh installs it).
    /// </summary>
    public static FakeWallClock Create(string directory)
    {
        var library = LibraryPaths.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                $"libfaketime is not installed (looked for {string.Join(", ", LibraryPaths)}): `apt-get install faketime` (tests/run.sh installs it)");
        var clock = new FakeWallClock(Path.Combine(directory, "faketime.offset"), library);
        clock.StepTo(TimeSpan.Zero);
        return clock;
    }

    /// <summary>Sets the process's wall clock to the real time plus <paramref name="offset"/> (whole seconds).</summary>
    public void StepTo(TimeSpan offset)
    {
        // Written beside and renamed over, so the process never reads a half-written file.
        var seconds = (long)offset.TotalSeconds;
        var next = offsetFile + ".next";
        File.WriteAllText(next, (seconds < 0 ? "" : "+") + seconds.ToString(CultureInfo.InvariantCulture));
        File.Move(next, offsetFile, overwrite: true);
        Offset = TimeSpan.FromSeconds(seconds);
    }
}

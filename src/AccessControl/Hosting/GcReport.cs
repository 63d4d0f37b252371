using System.Globalization;

namespace AccessControl.Hosting;

/// <summary>
/// The garbage collector the service runs with, for its start-up output: each collection pauses every thread, the
/// swipes' among them, so an operator comparing latency between machines needs to know which one it was.
/// </summary>
/// <remarks>
/// The service is built for the server collector (<c>AccessControl.csproj</c>; with .NET's dynamic adaptation it starts
/// with one heap and grows only when it must). On the 2-core VM of docs/benchmarks.md it collected two or three times a
/// second at 1000 events/s, 1-2 ms each, with two threads. The workstation collector sizes its gen0 budget from the CPU
/// cache: where a VM hides its cache it falls to about 2 MiB (4-5 collections a second), and with a larger budget
/// (<c>DOTNET_GCgen0size</c>) each pause grew to 4-5 ms, some to 8-22 ms; the decision p99 was higher either way (thirteenth session).
/// </remarks>
public static class GcReport
{
    /// <summary>One line: the collector's kind and its largest gen0 budget, from <see cref="GC.GetConfigurationVariables"/>.</summary>
    public static string Describe(IReadOnlyDictionary<string, object> gcConfiguration)
    {
        ArgumentNullException.ThrowIfNull(gcConfiguration);
        var server = gcConfiguration.TryGetValue("ServerGC", out var s) && s is true;
        var concurrent = gcConfiguration.TryGetValue("ConcurrentGC", out var c) && c is true;
        var budget = gcConfiguration.TryGetValue("GCGen0MaxBudget", out var b) ? Convert.ToInt64(b, CultureInfo.InvariantCulture) : 0;
        return string.Create(CultureInfo.InvariantCulture,
            $"garbage collector: {(server ? "server" : "workstation")}{(concurrent ? ", concurrent" : "")}, gen0 budget up to {budget / (1024.0 * 1024):0.#} MiB");
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using AccessControl.Events;

namespace AccessControl.Lab.Bench;

/// <summary>
/// Splits each decision's round trip into its legs, joining the readers' send and receive times with the service's
/// <see cref="LatencyTrace"/> (same machine, same monotonic clock): to the service, waiting for the pipeline, the durable
/// commit, building and handing over the answer, and back to the reader. Printed as p50, p99 and the mean over the
/// slowest 1 % of round trips, which says what the tail is made of.
/// </summary>
public static class LatencyBreakdown
{
    /// <summary>A reader's view of one answered event: its key is reader id, tab, eventId.</summary>
    public readonly record struct Answered(string Key, long Sent, long Received);

    private static readonly string[] Legs =
    [
        "reader -> service's MQTT client",
        "waiting for the pipeline",
        "durable commit of its batch",
        "answer built and handed over",
        "service's MQTT client -> reader",
        "round trip",
    ];

    public static string Format(IEnumerable<Answered> answered, IEnumerable<LatencyTrace.Line> trace)
    {
        var service = new Dictionary<string, LatencyTrace.Line>(StringComparer.Ordinal);
        foreach (var line in trace)
        {
            service[line.ReaderId + "\t" + line.EventId] = line;
        }

        var rows = new List<double[]>();
        foreach (var a in answered)
        {
            if (service.TryGetValue(a.Key, out var s))
            {
                rows.Add([Ms(a.Sent, s.Received), Ms(s.Received, s.CommitStarted), Ms(s.CommitStarted, s.Committed), Ms(s.Committed, s.Handed), Ms(s.Handed, a.Received), Ms(a.Sent, a.Received)]);
            }
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"    breakdown of {rows.Count} decisions (ms)       p50      p99   slowest 1 %");
        if (rows.Count == 0)
        {
            return text.ToString();
        }

        var slowest = rows.OrderByDescending(r => r[^1]).Take(Math.Max(1, rows.Count / 100)).ToList();
        for (var leg = 0; leg < Legs.Length; leg++)
        {
            var values = rows.Select(r => r[leg]).Order().ToList();
            text.AppendLine(string.Format(CultureInfo.InvariantCulture, "      {0,-32} {1,8:0.000} {2,8:0.000} {3,8:0.000}",
                Legs[leg], Rank(values, 0.50), Rank(values, 0.99), slowest.Average(r => r[leg])));
        }

        return text.ToString();
    }

    private static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    /// <summary>Nearest rank, as the round trips' own percentiles.</summary>
    private static double Rank(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

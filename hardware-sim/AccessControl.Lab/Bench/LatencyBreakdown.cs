using System.Diagnostics;
using System.Globalization;
using System.Text;
using AccessControl.Events;

namespace AccessControl.Lab.Bench;

/// <summary>
/// Splits each decision's round trip into its legs, joining the readers' send and receive times with the service's
/// <see cref="LatencyTrace"/> (same machine, same monotonic clock): to the service, waiting for the pipeline, the durable
/// commit, building and handing over the answer, and back to the reader. Printed as p50, p99 and the mean over the
/// slowest 1 % of round trips, which says what the tail is made of; then when the slowest 1 % happened (<see cref="Bursts"/>).
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

    /// <summary>Slow round trips sent within this of the previous slow one belong to the same burst.</summary>
    public static readonly TimeSpan BurstGap = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The slowest 1 % by when they were sent: how many bursts they came in, and the largest bursts with their time since
    /// the first event and their worst round trip. Bursts that recur at the same fraction of a second point at a periodic
    /// job (a WAL checkpoint, supervision); a tail spread evenly over time points at scheduling.
    /// </summary>
    public static string Bursts(IReadOnlyList<Answered> answered, int largest = 6)
    {
        if (answered.Count == 0)
        {
            return "";
        }

        var start = answered.Min(a => a.Sent);
        var slowest = answered.OrderByDescending(a => a.Received - a.Sent).Take(Math.Max(1, answered.Count / 100)).OrderBy(a => a.Sent).ToList();
        var gap = (long)(BurstGap.TotalSeconds * Stopwatch.Frequency);
        var bursts = new List<List<Answered>>();
        foreach (var a in slowest)
        {
            if (bursts.Count > 0 && a.Sent - bursts[^1][^1].Sent <= gap)
            {
                bursts[^1].Add(a);
            }
            else
            {
                bursts.Add([a]);
            }
        }

        var top = bursts.OrderByDescending(b => b.Count).ThenBy(b => b[0].Sent).Take(largest)
            .Select(b => string.Format(CultureInfo.InvariantCulture, "{0} at +{1:0.000} s (worst {2:0.0} ms)", b.Count, Ms(start, b[0].Sent) / 1000, b.Max(a => Ms(a.Sent, a.Received))));
        return string.Format(CultureInfo.InvariantCulture, "    slowest 1 %: {0} round trips in {1} bursts (gaps under {2:0} ms); largest: {3}",
            slowest.Count, bursts.Count, BurstGap.TotalMilliseconds, string.Join(", ", top)) + Environment.NewLine;
    }

    /// <summary>
    /// What the service was running while each of the slowest 1 % was under way (<see cref="LatencyTrace.SpanLine"/>: its
    /// periodic jobs, the WAL checkpoint and index round, garbage-collection pauses): how many of them overlapped each
    /// kind of span, and how many overlapped none. A round trip may count under several names.
    /// </summary>
    public static string Beside(IReadOnlyList<Answered> answered, IReadOnlyList<LatencyTrace.SpanLine> spans)
    {
        if (answered.Count == 0 || spans.Count == 0)
        {
            return "";
        }

        var slowest = answered.OrderByDescending(a => a.Received - a.Sent).Take(Math.Max(1, answered.Count / 100)).ToList();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var alone = 0;
        foreach (var a in slowest)
        {
            var names = spans.Where(s => s.Start < a.Received && s.End > a.Sent).Select(s => s.Name).Distinct(StringComparer.Ordinal).ToList();
            alone += names.Count == 0 ? 1 : 0;
            foreach (var name in names)
            {
                counts[name] = counts.GetValueOrDefault(name) + 1;
            }
        }

        // Against how often any round trip overlapped the same kind of span: a slow round trip lasts longer, so it
        // overlaps more by chance alone; a cause shows as a share among the slowest well above the share among all.
        var listed = counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => string.Format(CultureInfo.InvariantCulture, "{0} {1} ({2:0.0} % of all)", c.Key, c.Value, 100.0 * Overlapping(answered, spans, c.Key) / answered.Count));
        return string.Format(CultureInfo.InvariantCulture, "    slowest 1 % beside: {0}; beside nothing the service ran: {1}",
            counts.Count == 0 ? "-" : string.Join(", ", listed), alone) + Environment.NewLine;
    }

    /// <summary>
    /// How long each kind of span lasted while the phase ran (count, p50, p90, longest, and its share of the phase's
    /// time): what a change to the background work itself did, beside what it did to the round trips.
    /// </summary>
    public static string Durations(IReadOnlyList<Answered> answered, IReadOnlyList<LatencyTrace.SpanLine> spans)
    {
        if (answered.Count == 0 || spans.Count == 0)
        {
            return "";
        }

        var (from, to) = (answered.Min(a => a.Sent), answered.Max(a => a.Received));
        var kinds = spans.Where(s => s.Start < to && s.End > from).GroupBy(s => s.Name, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var ms = g.Select(s => Ms(s.Start, s.End)).Order().ToList();
                return string.Format(CultureInfo.InvariantCulture, "{0} {1}x p50 {2:0.00} p90 {3:0.00} max {4:0.00} ms ({5:0.00} % of the time)",
                    g.Key, ms.Count, Rank(ms, 0.50), Rank(ms, 0.90), ms[^1], 100 * ms.Sum() / Ms(from, to));
            });
        return "    background work: " + string.Join(", ", kinds) + Environment.NewLine;
    }

    /// <summary>How many round trips overlapped at least one span of that name.</summary>
    private static int Overlapping(IReadOnlyList<Answered> answered, IReadOnlyList<LatencyTrace.SpanLine> spans, string name)
    {
        var named = spans.Where(s => s.Name == name).OrderBy(s => s.Start).ToList();
        var starts = named.Select(s => s.Start).ToArray();
        var longest = named.Count == 0 ? 0 : named.Max(s => s.End - s.Start);
        var count = 0;
        foreach (var a in answered)
        {
            // Only spans that start at most the longest span's length before the round trip can still be running then.
            var i = Array.BinarySearch(starts, a.Sent - longest);
            for (i = i < 0 ? ~i : i; i < named.Count && named[i].Start < a.Received; i++)
            {
                if (named[i].End > a.Sent)
                {
                    count++;
                    break;
                }
            }
        }

        return count;
    }

    private static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    /// <summary>Nearest rank, as the round trips' own percentiles.</summary>
    private static double Rank(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}

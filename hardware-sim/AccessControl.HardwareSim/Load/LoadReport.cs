using System.Globalization;
using System.Text;

namespace AccessControl.HardwareSim.Load;

/// <summary>Latency percentiles by the nearest-rank method, from <see cref="System.Diagnostics.Stopwatch"/> measurements.</summary>
public readonly record struct LatencySummary(int Count, TimeSpan P50, TimeSpan P90, TimeSpan P99, TimeSpan Max)
{
    public static LatencySummary From(IEnumerable<TimeSpan> samples)
    {
        var sorted = samples.Order().ToArray();
        if (sorted.Length == 0)
        {
            return default;
        }

        TimeSpan Rank(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new LatencySummary(sorted.Length, Rank(0.50), Rank(0.90), Rank(0.99), sorted[^1]);
    }
}

/// <summary>What a load run came to.</summary>
/// <param name="Sent">Card events made (published or buffered).</param>
/// <param name="Acked">Card events answered by a decision before the drain ended.</param>
/// <param name="Unanswered">Card events still without a decision when the drain ended.</param>
/// <param name="Resent">Re-sends the readers made (no decision within the resend interval).</param>
/// <param name="Elapsed">From the first event to the end of the drain.</param>
public sealed record LoadReport(
    int Readers,
    long Sent,
    long Acked,
    long Grants,
    long Denies,
    long Unanswered,
    long Resent,
    LatencySummary Latency,
    TimeSpan SendPhase,
    TimeSpan Elapsed)
{
    /// <summary>Events per second actually issued during the send phase.</summary>
    public double AchievedRate => SendPhase > TimeSpan.Zero ? Sent / SendPhase.TotalSeconds : 0;

    public string Format()
    {
        static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.000", CultureInfo.InvariantCulture) + " ms";
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"readers    {Readers}");
        text.AppendLine(CultureInfo.InvariantCulture, $"sent       {Sent} ({AchievedRate:0.0}/s over {SendPhase.TotalSeconds:0.0} s)");
        text.AppendLine(CultureInfo.InvariantCulture, $"acked      {Acked}  (grant {Grants}, deny {Denies})");
        text.AppendLine(CultureInfo.InvariantCulture, $"unanswered {Unanswered}");
        text.AppendLine(CultureInfo.InvariantCulture, $"resent     {Resent}");
        text.Append(CultureInfo.InvariantCulture, $"latency    p50 {Ms(Latency.P50)}  p90 {Ms(Latency.P90)}  p99 {Ms(Latency.P99)}  max {Ms(Latency.Max)}  (n={Latency.Count})");
        return text.ToString();
    }
}

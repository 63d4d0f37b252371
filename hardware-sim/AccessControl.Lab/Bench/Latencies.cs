namespace AccessControl.Lab.Bench;

/// <summary>Round-trip times of one run, in milliseconds, with the percentiles the benchmark reports.</summary>
public sealed class Latencies(string name, IReadOnlyList<double> milliseconds, int sent, double seconds)
{
    private readonly double[] sorted = [.. milliseconds.Order()];

    public string Name { get; } = name;

    public int Sent { get; } = sent;

    public int Received => sorted.Length;

    public double Seconds { get; } = seconds;

    public double P50 => Percentile(0.50);

    public double P99 => Percentile(0.99);

    public double Max => sorted.Length == 0 ? double.NaN : sorted[^1];

    /// <summary>Nearest-rank percentile.</summary>
    public double Percentile(double p)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

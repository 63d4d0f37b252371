using System.Collections.Immutable;
using AccessControl.Fingerprints;

namespace AccessControl.HardwareSim.Fingerprints;

/// <summary>
/// Measured error rates of the <see cref="SyntheticFingers"/> matcher: score histograms of genuine trials (a live
/// capture of the enrolled finger) and impostor trials (another person's finger, or another finger of the same
/// person), from which the false-match and false-non-match rates at any threshold follow.
/// </summary>
/// <param name="GenuineScores">Count of genuine trials per score 0..100.</param>
/// <param name="ImpostorScores">Count of impostor trials per score 0..100.</param>
/// <param name="SamePersonTrials">Impostor trials that used another finger of the enrolled person (a quarter of them).</param>
public sealed record MatcherRates(
    int GenuineTrials,
    int ImpostorTrials,
    int SamePersonTrials,
    ImmutableArray<int> GenuineScores,
    ImmutableArray<int> ImpostorScores)
{
    /// <summary>Synthetic people in the measurement (ten fingers each).</summary>
    public const int DefaultPopulation = 200;

    /// <summary>Share of impostor trials (at a threshold) that scored at or above it: they would have been let in.</summary>
    public double FalseMatchRate(int threshold) => (double)ImpostorScores.Skip(Math.Clamp(threshold, 0, 101)).Sum() / ImpostorTrials;

    /// <summary>Share of genuine trials that scored below the threshold: the right finger, refused.</summary>
    public double FalseNonMatchRate(int threshold) => (double)GenuineScores.Take(Math.Clamp(threshold, 0, 101)).Sum() / GenuineTrials;

    public int HighestImpostorScore => LastIndexOfNonZero(ImpostorScores);

    public int LowestGenuineScore => GenuineScores.IndexOf(GenuineScores.First(c => c > 0));

    /// <summary>
    /// Runs the trials. Everything is drawn from one <see cref="Random"/> seeded with <paramref name="seed"/>, so a run is
    /// repeatable; enrollment templates are the deterministic ones of <see cref="SyntheticFingers.EnrollmentTemplateData"/>.
    /// </summary>
    public static MatcherRates Measure(int genuineTrials, int impostorTrials, int seed, int population = DefaultPopulation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(genuineTrials, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(impostorTrials, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(population, 2);

        var fingerCount = Fingers.All.Length;
        var features = new double[population * fingerCount][];
        var templates = new byte[population * fingerCount][];
        for (var p = 0; p < population; p++)
        {
            var person = $"sim-p{p:D5}";
            for (var f = 0; f < fingerCount; f++)
            {
                features[(p * fingerCount) + f] = SyntheticFingers.Features(person, Fingers.All[f]);
                templates[(p * fingerCount) + f] = SyntheticFingers.EnrollmentTemplateData(person, Fingers.All[f]);
            }
        }

        var random = new Random(seed);
        var genuine = new int[101];
        for (var i = 0; i < genuineTrials; i++)
        {
            var finger = random.Next(features.Length);
            genuine[SyntheticFingers.Score(SyntheticFingers.Capture(features[finger], random), templates[finger])]++;
        }

        var impostor = new int[101];
        var samePerson = 0;
        for (var i = 0; i < impostorTrials; i++)
        {
            var person = random.Next(population);
            var finger = random.Next(fingerCount);
            int other;
            if (i % 4 == 0)
            {
                other = (person * fingerCount) + ((finger + 1 + random.Next(fingerCount - 1)) % fingerCount);
                samePerson++;
            }
            else
            {
                var otherPerson = (person + 1 + random.Next(population - 1)) % population;
                other = (otherPerson * fingerCount) + random.Next(fingerCount);
            }

            impostor[SyntheticFingers.Score(SyntheticFingers.Capture(features[other], random), templates[(person * fingerCount) + finger])]++;
        }

        return new MatcherRates(genuineTrials, impostorTrials, samePerson, [.. genuine], [.. impostor]);
    }

    /// <summary>The threshold where the two error rates are closest (the equal-error point), and the rate there.</summary>
    public (int Threshold, double Rate) EqualErrorPoint
    {
        get
        {
            var best = Enumerable.Range(0, 101).MinBy(t => Math.Abs(FalseMatchRate(t) - FalseNonMatchRate(t)));
            return (best, Math.Max(FalseMatchRate(best), FalseNonMatchRate(best)));
        }
    }

    /// <summary>A plain-text report: trials, a table of both rates at a few thresholds, and the extremes.</summary>
    public string Format(IEnumerable<int>? thresholds = null)
    {
        var text = new System.Text.StringBuilder();
        var c = System.Globalization.CultureInfo.InvariantCulture;
        text.AppendLine(c, $"matcher {SyntheticFingers.Format}: {GenuineTrials} genuine trials, {ImpostorTrials} impostor trials ({SamePersonTrials} with another finger of the same person)");
        text.AppendLine("threshold  FMR          FNMR");
        foreach (var t in thresholds ?? [30, 40, 45, 50, 55, 60, 65, 70, 75, 80])
        {
            text.AppendLine(c, $"{t,9}  {FalseMatchRate(t),-11:0.000000}  {FalseNonMatchRate(t):0.0000}{(t == FingerprintPolicy.DefaultThreshold ? "   <- default threshold" : "")}");
        }

        var (eerThreshold, eer) = EqualErrorPoint;
        text.AppendLine(eer > 0
            ? string.Create(c, $"equal-error point: threshold {eerThreshold}, rate {eer:0.000000}")
            : "equal-error point: none measurable, genuine and impostor scores did not overlap in these trials");
        text.Append(c, $"highest impostor score {HighestImpostorScore}, lowest genuine score {LowestGenuineScore}");
        return text.ToString();
    }

    private static int LastIndexOfNonZero(ImmutableArray<int> counts)
    {
        for (var i = counts.Length - 1; i >= 0; i--)
        {
            if (counts[i] > 0)
            {
                return i;
            }
        }

        return -1;
    }
}

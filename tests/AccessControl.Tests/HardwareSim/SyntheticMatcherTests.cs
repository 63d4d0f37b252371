using AccessControl.Fingerprints;
using AccessControl.HardwareSim.Fingerprints;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class SyntheticMatcherTests(ITestOutputHelper output)
{
    // 30,000 impostor trials without a false match bound the FMR below 1/10,000 with 95 % confidence (rule of three).
    private const int ImpostorTrials = 30_000;
    private const int GenuineTrials = 10_000;
    private const int Seed = 20261128;

    [Fact]
    [Trait("control", "NIST-SP800-63B-5.2.3")]
    public void Measure_AtTheDefaultThreshold_MeetsTheFalseMatchAndFalseNonMatchTargets()
    {
        var rates = MatcherRates.Measure(GenuineTrials, ImpostorTrials, Seed);
        var threshold = FingerprintPolicy.DefaultThreshold;
        foreach (var t in new[] { 40, 50, 55, 60, 65, 70 })
        {
            output.WriteLine($"threshold {t}: FMR {rates.FalseMatchRate(t):0.######}  FNMR {rates.FalseNonMatchRate(t):0.####}");
        }

        output.WriteLine($"highest impostor score {rates.HighestImpostorScore}, lowest genuine score {rates.LowestGenuineScore}");
        Assert.True(rates.FalseMatchRate(threshold) <= 1.0 / 10_000, $"FMR {rates.FalseMatchRate(threshold)}");
        Assert.True(rates.FalseNonMatchRate(threshold) <= 0.01, $"FNMR {rates.FalseNonMatchRate(threshold)}");
        Assert.True(rates.FalseNonMatchRate(threshold) > 0, "genuine captures should be noisy enough to fail now and then");
        Assert.Equal(ImpostorTrials / 4, rates.SamePersonTrials);
    }

    [Fact]
    public void EnrollmentTemplateData_IsTheSameBytesEveryTime_AndDiffersPerFinger()
    {
        var first = SyntheticFingers.EnrollmentTemplateData("p-mkoch", "right-index");

        Assert.Equal(first, SyntheticFingers.EnrollmentTemplateData("p-mkoch", "right-index"));
        Assert.NotEqual(first, SyntheticFingers.EnrollmentTemplateData("p-mkoch", "left-index"));
        Assert.NotEqual(first, SyntheticFingers.EnrollmentTemplateData("p-other", "right-index"));
        Assert.Equal(SyntheticFingers.EncodedLength, first.Length);
        Assert.Equal("AS\u0001@"u8.ToArray(), first[..4]);
        Assert.DoesNotContain(unchecked((byte)SyntheticFingers.Missing), first[4..]);
    }

    [Fact]
    public void EnrollmentTemplateData_IsPinned()
    {
        // Pinned so that a change to the model (which would invalidate enrolled demo templates) is a conscious one.
        var data = SyntheticFingers.EnrollmentTemplateData("p-mkoch", "right-index");

        Assert.Equal(PinnedMkochRightIndex, Convert.ToBase64String(data));
    }

    [Fact]
    public void EnrollmentTemplate_CarriesFormatFingerAndAStableId()
    {
        var template = SyntheticFingers.EnrollmentTemplate("p-mkoch", "right-index");

        Assert.Equal(("right-index", "ac-sim-v1"), (template.Finger, template.Format));
        Assert.Equal(template.TemplateId, SyntheticFingers.EnrollmentTemplate("p-mkoch", "right-index").TemplateId);
        Assert.Matches("^sim-[0-9a-f]{16}$", template.TemplateId);
        Assert.Equal("tpl-1", SyntheticFingers.EnrollmentTemplate("p-mkoch", "right-index", "tpl-1").TemplateId);
    }

    [Fact]
    public void Score_RightFingerHigh_WrongFingerLow()
    {
        var template = SyntheticFingers.EnrollmentTemplateData("p-mkoch", "right-index");
        var random = new Random(7);

        var right = SyntheticFingers.Score(SyntheticFingers.Capture("p-mkoch", "right-index", random), template);
        var otherFinger = SyntheticFingers.Score(SyntheticFingers.Capture("p-mkoch", "left-little", random), template);
        var otherPerson = SyntheticFingers.Score(SyntheticFingers.Capture("p-jdoe", "right-index", random), template);

        Assert.InRange(right, FingerprintPolicy.DefaultThreshold, 100);
        Assert.InRange(otherFinger, 0, FingerprintPolicy.DefaultThreshold - 1);
        Assert.InRange(otherPerson, 0, FingerprintPolicy.DefaultThreshold - 1);
    }

    [Fact]
    public void Score_OfSomethingNotAnAcSimV1Encoding_IsZero()
    {
        var template = SyntheticFingers.EnrollmentTemplateData("p-mkoch", "right-index");
        var sample = SyntheticFingers.Capture("p-mkoch", "right-index", new Random(1));

        Assert.Equal(0, SyntheticFingers.Score(sample, template.AsSpan(0, 10)));
        Assert.Equal(0, SyntheticFingers.Score(new byte[SyntheticFingers.EncodedLength], template));
        Assert.Equal(0, SyntheticFingers.Score(sample, new byte[SyntheticFingers.EncodedLength]));
    }

    private const string PinnedMkochRightIndex = "QVMBQD3m/szq3gD7zhXN9PnyEPrY/ir2FjM8IvL15yz3+QyyBj3r/gf8HwMD0vIO5vUV0vnhBQTu6c8GQf8FAwcM/f0=";
}

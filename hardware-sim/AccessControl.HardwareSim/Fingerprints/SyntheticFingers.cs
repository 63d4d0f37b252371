using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using AccessControl.Fingerprints;

namespace AccessControl.HardwareSim.Fingerprints;

/// <summary>
/// Synthetic fingers for the simulated fingerprint reader: no images, no minutiae, just a statistical stand-in that
/// behaves like a matcher should (genuine scores high but noisy, impostor scores low, a measurable error rate), so
/// that two-factor entry can be exercised and its error rates stated honestly (docs/fingerprints.md, "Reference
/// matcher of the simulator").
/// </summary>
/// <remarks>
/// <para>
/// Model: every (person, finger) has a hidden feature vector <c>f</c> of <see cref="Dimensions"/> standard normal
/// values, derived from SHA-256 of <c>"person|finger"</c> (and of <c>"person"</c>: 10 % of each finger's variance is
/// shared by all fingers of a person, so a person's other fingers are slightly more alike than a stranger's).
/// A capture is <c>f + σ·noise</c>, quantized to bytes. The enrollment template is one careful capture
/// (σ = 0.30, the whole finger, noise itself derived from SHA-256, so the template is the same bytes on every machine).
/// A live capture varies per touch: σ = 0.30 + 0.35·u² (pressure, moisture) and only a contiguous
/// 63 % to 100 % of the features are seen (partial placement); the rest are marked missing.
/// </para>
/// <para>
/// Matcher: over the features present in both, the cosine <c>c</c> of the two vectors over <c>m</c> features; an
/// unrelated finger gives <c>c·√m</c> ≈ N(0, 1), so <c>z = c·√m</c> is the resemblance in impostor standard
/// deviations. Score = round(12.5·z) clamped to 0..100; the default threshold 60 is z = 4.8.
/// </para>
/// </remarks>
public static class SyntheticFingers
{
    /// <summary>The simulator's template format name, sent in verify commands.</summary>
    public const string Format = "ac-sim-v1";

    /// <summary>Features per finger.</summary>
    public const int Dimensions = 64;

    /// <summary>Bytes of an <c>ac-sim-v1</c> template or sample: 4 header bytes and one byte per feature.</summary>
    public const int EncodedLength = HeaderLength + Dimensions;

    /// <summary>Feature value of a byte: <c>value / 32</c>, so ±127 covers ±3.97 (about ±3.5 standard deviations of a capture).</summary>
    public const float QuantizationScale = 32f;

    /// <summary>The byte that marks a feature the capture did not see (partial placement). Never in a template.</summary>
    public const sbyte Missing = sbyte.MinValue;

    /// <summary>Score per impostor standard deviation of resemblance (see the remarks).</summary>
    public const double ScorePerSigma = 12.5;

    private const int HeaderLength = 4;
    private const byte Magic0 = (byte)'A';
    private const byte Magic1 = (byte)'S';
    private const byte Version = 1;
    private const double SharedPersonVariance = 0.10;
    private const double EnrollmentNoise = 0.30;
    private const double LiveNoiseMin = 0.30;
    private const double LiveNoiseSpread = 0.35;
    private const double MinCoverage = 0.63;

    /// <summary>
    /// The enrollment template of a finger in <c>ac-sim-v1</c>: the same bytes every time, on every machine, so that a
    /// test or the lab demo can enroll a person and the simulated reader later matches their live finger.
    /// </summary>
    /// <param name="personId">Any stable text, usually the person id (e.g. <c>p-mkoch</c>).</param>
    /// <param name="finger">One of <see cref="Fingers.All"/>.</param>
    public static byte[] EnrollmentTemplateData(string personId, string finger)
    {
        var features = Features(personId, finger);
        var noise = new HashStream($"{personId}|{finger}|enrollment");
        var encoded = NewEncoded();
        for (var i = 0; i < Dimensions; i++)
        {
            encoded[HeaderLength + i] = Quantize(features[i] + (EnrollmentNoise * noise.NextGaussian()));
        }

        return encoded;
    }

    /// <summary>
    /// <see cref="EnrollmentTemplateData"/> wrapped as a template to put in a verify command or an enrollment request.
    /// </summary>
    /// <param name="templateId">The id the service gave the template; defaults to <see cref="DefaultTemplateId"/>.</param>
    public static FingerprintTemplate EnrollmentTemplate(string personId, string finger, string? templateId = null) =>
        new(templateId ?? DefaultTemplateId(personId, finger), finger, Format, EnrollmentTemplateData(personId, finger));

    /// <summary>A stable, valid template id for a person's finger when the caller has none: <c>sim-</c> and 16 hex digits.</summary>
    public static string DefaultTemplateId(string personId, string finger) =>
        "sim-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{personId}|{finger}|template-id")).AsSpan(0, 8));

    /// <summary>
    /// A live capture of the finger, in <c>ac-sim-v1</c> with unseen features marked <see cref="Missing"/>. Each call is a
    /// new touch, with its own noise and placement drawn from <paramref name="random"/> (seed it for reproducible runs).
    /// </summary>
    public static byte[] Capture(string personId, string finger, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return Capture(Features(personId, finger), random);
    }

    /// <summary>
    /// How much a capture resembles a template, 0 (nothing in common) to 100. 0 as well when either is not a valid
    /// <c>ac-sim-v1</c> encoding, so that a template in a format this matcher cannot read never matches.
    /// </summary>
    public static int Score(ReadOnlySpan<byte> sample, ReadOnlySpan<byte> template)
    {
        if (!IsEncoded(sample) || !IsEncoded(template))
        {
            return 0;
        }

        long dot = 0;
        long sampleSquares = 0;
        long templateSquares = 0;
        var shared = 0;
        for (var i = HeaderLength; i < EncodedLength; i++)
        {
            var a = (sbyte)sample[i];
            var b = (sbyte)template[i];
            if (a == Missing || b == Missing)
            {
                continue;
            }

            dot += a * b;
            sampleSquares += a * a;
            templateSquares += b * b;
            shared++;
        }

        if (shared == 0 || sampleSquares == 0 || templateSquares == 0)
        {
            return 0;
        }

        var cosine = dot / Math.Sqrt((double)sampleSquares * templateSquares);
        var z = cosine * Math.Sqrt(shared);
        return (int)Math.Clamp(Math.Round(ScorePerSigma * z, MidpointRounding.AwayFromZero), 0, 100);
    }

    /// <summary>Whether <paramref name="data"/> is an <c>ac-sim-v1</c> encoding (magic, version, dimension count, length).</summary>
    public static bool IsEncoded(ReadOnlySpan<byte> data) =>
        data.Length == EncodedLength && data[0] == Magic0 && data[1] == Magic1 && data[2] == Version && data[3] == Dimensions;

    /// <summary>The hidden feature vector of a finger (before any capture noise). Deterministic.</summary>
    internal static double[] Features(string personId, string finger)
    {
        ArgumentException.ThrowIfNullOrEmpty(personId);
        ArgumentException.ThrowIfNullOrEmpty(finger);
        var person = new HashStream($"{personId}");
        var own = new HashStream($"{personId}|{finger}");
        var shared = Math.Sqrt(SharedPersonVariance);
        var individual = Math.Sqrt(1 - SharedPersonVariance);
        var features = new double[Dimensions];
        for (var i = 0; i < Dimensions; i++)
        {
            features[i] = (shared * person.NextGaussian()) + (individual * own.NextGaussian());
        }

        return features;
    }

    /// <summary>A live capture of known features (lets the rate measurement skip re-deriving them per trial).</summary>
    internal static byte[] Capture(double[] features, Random random)
    {
        var u = random.NextDouble();
        var sigma = LiveNoiseMin + (LiveNoiseSpread * u * u);
        var seen = (int)Math.Round((MinCoverage + ((1 - MinCoverage) * random.NextDouble())) * Dimensions);
        var first = random.Next(Dimensions);
        var encoded = NewEncoded();
        for (var i = 0; i < Dimensions; i++)
        {
            encoded[HeaderLength + i] = unchecked((byte)Missing);
        }

        for (var k = 0; k < seen; k++)
        {
            var i = (first + k) % Dimensions;
            encoded[HeaderLength + i] = Quantize(features[i] + (sigma * Gaussian(random)));
        }

        return encoded;
    }

    private static byte[] NewEncoded()
    {
        var encoded = new byte[EncodedLength];
        encoded[0] = Magic0;
        encoded[1] = Magic1;
        encoded[2] = Version;
        encoded[3] = Dimensions;
        return encoded;
    }

    // -127..127: -128 is reserved for Missing.
    private static byte Quantize(double value) =>
        unchecked((byte)(sbyte)Math.Clamp(Math.Round(value * QuantizationScale, MidpointRounding.AwayFromZero), -127, 127));

    private static double Gaussian(Random random) => BoxMuller(random.NextDouble(), random.NextDouble());

    private static double BoxMuller(double u1, double u2) => Math.Sqrt(-2 * Math.Log(1 - u1)) * Math.Cos(2 * Math.PI * u2);

    /// <summary>
    /// Uniform numbers from SHA-256 in counter mode: unlike <see cref="Random"/>, whose algorithm .NET may change between
    /// versions, these stay the same for ever, and so do enrollment templates.
    /// </summary>
    private sealed class HashStream(string label)
    {
        private readonly byte[] prefix = Encoding.UTF8.GetBytes(label + "#");
        private readonly byte[] block = new byte[SHA256.HashSizeInBytes];
        private int counter;
        private int offset = SHA256.HashSizeInBytes;

        public double NextGaussian() => BoxMuller(NextUniform(), NextUniform());

        /// <summary>Uniform in [0, 1) with 53 bits.</summary>
        private double NextUniform()
        {
            if (offset + sizeof(ulong) > block.Length)
            {
                var input = new byte[prefix.Length + sizeof(int)];
                prefix.CopyTo(input, 0);
                BinaryPrimitives.WriteInt32BigEndian(input.AsSpan(prefix.Length), counter++);
                SHA256.HashData(input, block);
                offset = 0;
            }

            var bits = BinaryPrimitives.ReadUInt64BigEndian(block.AsSpan(offset)) >> 11;
            offset += sizeof(ulong);
            return bits * (1.0 / (1UL << 53));
        }
    }
}

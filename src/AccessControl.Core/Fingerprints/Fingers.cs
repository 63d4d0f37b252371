using System.Collections.Immutable;

namespace AccessControl.Fingerprints;

/// <summary>
/// Finger positions, named after ISO/IEC 19794-2's finger position codes 1 to 10, as lower-case tokens.
/// A person has at most one active template per finger.
/// </summary>
public static class Fingers
{
    /// <summary>All ten positions, in ISO code order (right thumb = 1 ... left little = 10).</summary>
    public static ImmutableArray<string> All { get; } =
    [
        "right-thumb", "right-index", "right-middle", "right-ring", "right-little",
        "left-thumb", "left-index", "left-middle", "left-ring", "left-little",
    ];

    public static bool IsValid(string? finger) => finger is not null && All.Contains(finger);
}

/// <summary>
/// One enrolled fingerprint template as the matcher needs it: opaque bytes in a named format (ISO/IEC 19794-2,
/// ANSI 378, or the simulator's <c>ac-sim-v1</c>). Never an image. Only held in memory while a verification is
/// pending; at rest it is encrypted (see the service's fingerprint store).
/// </summary>
public sealed record FingerprintTemplate(string TemplateId, string Finger, string Format, ReadOnlyMemory<byte> Data)
{
    /// <summary>Largest template accepted (ISO minutiae templates are a few hundred bytes).</summary>
    public const int MaxBytes = 2048;

    /// <summary>Redacted: a template must never reach a log through ToString.</summary>
    public override string ToString() => $"FingerprintTemplate {{ TemplateId = {TemplateId}, Finger = {Finger}, Format = {Format}, Data = [{Data.Length} bytes] }}";
}

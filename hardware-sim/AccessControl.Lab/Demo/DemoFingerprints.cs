using AccessControl.Admin;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.Hosting;

namespace AccessControl.Lab.Demo;

/// <summary>
/// The demo's fingerprint enrollment: the people who may enter the two-factor server room have the simulator's
/// template of their right index enrolled, by an enrollment operator at a desk, through the same service call the
/// enrollment API uses (so the entry log shows <c>fingerprint.enroll</c> rows, and templates are encrypted at rest).
/// </summary>
internal static class DemoFingerprints
{
    public const string Finger = "right-index";

    public static readonly string[] People = ["p-mkoch", "p-jweber"];

    private static readonly OperatorIdentity Enroller = new("demo-enrollment-desk", OperatorRole.Enrollment, "p-demo-enroller");

    /// <summary>Enrolls whoever is not enrolled yet (a demo data folder survives restarts).</summary>
    public static async Task EnrollAsync(EdgeService edge, TextWriter output, CancellationToken cancellationToken)
    {
        foreach (var person in People)
        {
            if (edge.Fingerprints.List(person).Value is { Count: > 0 })
            {
                continue;
            }

            var result = await edge.Fingerprints.EnrollAsync(Enroller, person, Finger, "demo-enroll-1", SyntheticFingers.Format,
                SyntheticFingers.EnrollmentTemplateData(person, Finger), cancellationToken: cancellationToken);
            if (result.Value is null)
            {
                output.WriteLine($"Could not enroll the demo fingerprint of {person}: {result}");
            }
        }
    }
}

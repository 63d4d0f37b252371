using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Fingerprints;
using AccessControl.Sites;
using AccessControl.Tests.EndToEnd;

namespace AccessControl.Tests.Fingerprints;

/// <summary>The fingerprint store as the edge service composes it: key file, enrollment, the pipeline's view.</summary>
public class FingerprintEdgeTests
{
    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    public async Task TheEdge_CreatesAnOwnerOnlyKeyFile_AndAnEnrollmentIsAuditedAndLive()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var keyFile = Path.Combine(edge.Directory, "fingerprint.keys");
        var template = FingerprintDesk.NewTemplate();

        var result = await edge.Edge.Fingerprints.EnrollAsync(new OperatorIdentity("enroller", OperatorRole.Enrollment, "p-enroller"), "p-lromano", "right-index", "enroll-1", "ac-sim-v1", template);
        var row = await edge.RowAsync(r => r.Kind == LogKinds.Admin && r.Reason == FingerprintActions.Enroll && r.PersonId == "p-lromano");

        Assert.True(result.IsOk, result.Message);
        Assert.True(File.Exists(keyFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }

        Assert.Equal("p-lromano", row.PersonId);
        Assert.Contains(new PersonId("p-lromano"), edge.Edge.Configuration.Cardholders.FingerprintEnrolled);
        Assert.Equal(template, Assert.Single(edge.Edge.Fingerprints.Templates.ActiveTemplates(new PersonId("p-lromano"))).Data.ToArray());
    }
}

using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Fingerprints;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Tests.EndToEnd;
using Dapper;
using static AccessControl.Tests.EndToEnd.DemoCards;

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

    /// <summary>
    /// p-mkoch's card is waiting for her finger at server room 1 when her template is revoked: the finger, decided while
    /// the revocation's audit row is already in the same commit, must not open the door. If the store then refuses the
    /// revocation, a <c>.failed</c> row says so and the template works again.
    /// </summary>
    [Theory]
    [Trait("control", "ISO-IEC-24745")]
    [Trait("control", "NIST-PE-3")]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AFingerMatchedOnATemplateWhoseRevocationIsInFlight_IsDenied_AndARevocationNotStoredIsWithdrawn(bool storeRefuses)
    {
        await using var edge = await EdgeHarness.StartAsync();
        var card = await RawReader.ConnectAsync(edge, "rdr-sr1-in");
        var finger = await RawReader.ConnectAsync(edge, EdgeHarness.DemoFingerprintReader);
        var verify = await CardThenVerifyRequestAsync(card, finger);
        var template = Assert.Single(verify.Templates).TemplateId;
        if (storeRefuses)
        {
            using var connection = edge.Edge.Database.Open();
            connection.Execute("CREATE TRIGGER refuse_revoke BEFORE UPDATE OF revoked_at ON fingerprint_templates BEGIN SELECT RAISE(ABORT, 'test: disk I/O error'); END");
        }

        Task<FingerprintResult<FingerprintRecord>> revoke;
        string fingerEvent;
        await using (var held = await HeldPipeline.HoldAsync(edge))
        {
            revoke = edge.Edge.Fingerprints.RevokeAsync("enroller-test", template, "finger injured");
            await held.WhenQueuedAsync(1);
            fingerEvent = await finger.FingerprintAsync(verify.RequestId, 95, template);
            await held.WhenQueuedAsync(2);
            held.Release();
        }

        var result = await revoke.WaitAsync(EdgeHarness.Timeout);
        var final = await card.NextDecisionAsync();
        var during = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == fingerEvent);
        var revocation = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = FingerprintActions.Revoke }));

        Assert.True(revocation.Seq < during.Seq, "the finger is logged after the revocation's audit row");
        Assert.Equal(("deny", "fingerprint_not_enrolled"), (during.Decision, during.Reason));
        Assert.Contains("\"changeInFlight\":\"true\"", during.Detail, StringComparison.Ordinal);
        Assert.Equal((false, "fingerprint_not_enrolled"), (final.Grant, final.Reason));
        if (!storeRefuses)
        {
            Assert.True(result.IsOk, result.Message);
            return;
        }

        var failed = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = FingerprintActions.Revoke + ".failed" }));
        Assert.Equal(FingerprintOutcome.Unavailable, result.Outcome);
        Assert.Contains($"\"failedSeq\":{revocation.Seq}", failed.Detail, StringComparison.Ordinal);
        var again = await CardThenVerifyRequestAsync(card, finger);
        Assert.Equal(template, Assert.Single(again.Templates).TemplateId);
        await finger.FingerprintAsync(again.RequestId, 95, template);
        var granted = await card.NextDecisionAsync();
        Assert.Equal((true, "granted"), (granted.Grant, granted.Reason));
    }

    /// <summary>The verify request went out with the template before it was revoked: the reader may still match on it.</summary>
    [Fact]
    [Trait("control", "ISO-IEC-24745")]
    [Trait("control", "NIST-PE-3")]
    public async Task AFingerMatchedOnATemplateRevokedAfterTheRequestWasSent_IsDenied()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var card = await RawReader.ConnectAsync(edge, "rdr-sr1-in");
        var finger = await RawReader.ConnectAsync(edge, EdgeHarness.DemoFingerprintReader);
        var verify = await CardThenVerifyRequestAsync(card, finger);

        await edge.RevokeFingerprintsAsync("p-mkoch");
        await finger.FingerprintAsync(verify.RequestId, 95);
        var final = await card.NextDecisionAsync();

        Assert.Equal((false, "fingerprint_not_enrolled"), (final.Grant, final.Reason));
    }

    /// <summary>
    /// The reader answers p-mkoch's request with a match on p-jweber's template, which it was never sent for it (a faulty
    /// or forged answer): the finger proves nothing about her, and does not count toward her card's lockout, whatever the
    /// score (a low one too: a reader that names a template it was not sent is at fault, not her finger, and the row must
    /// say so, not raise fingerprint_failures against her card).
    /// </summary>
    [Theory]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NIST-SP800-63B-5.2.3")]
    [InlineData(95)]
    [InlineData(30)]
    public async Task AFingerMatchedOnATemplateTheReaderWasNotSent_IsDeniedFingerprintMismatch_WithoutCountingTowardTheLockout(int score)
    {
        await using var edge = await EdgeHarness.StartAsync();
        var card = await RawReader.ConnectAsync(edge, "rdr-sr1-in");
        var finger = await RawReader.ConnectAsync(edge, EdgeHarness.DemoFingerprintReader);
        var someoneElses = edge.Edge.Fingerprints.List("p-jweber").Value![0].TemplateId;

        var lockoutAfter = edge.Edge.Configuration.Topology.Sites[new SiteId("demo")].Fingerprints.LockoutAfter;
        for (var attempt = 0; attempt < lockoutAfter; attempt++)
        {
            var verify = await CardThenVerifyRequestAsync(card, finger);
            var fingerEvent = await finger.FingerprintAsync(verify.RequestId, score, someoneElses);
            var final = await card.NextDecisionAsync();
            var row = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == fingerEvent);

            Assert.DoesNotContain(someoneElses, verify.Templates.Select(t => t.TemplateId));
            Assert.Equal((false, "fingerprint_mismatch"), (final.Grant, final.Reason));
            Assert.Equal(("deny", "fingerprint_mismatch"), (row.Decision, row.Reason));
            Assert.Contains("\"why\":\"template not sent\"", row.Detail, StringComparison.Ordinal);
        }

        await card.CardAsync(Operator);
        Assert.Equal("fingerprint_required", (await card.NextDecisionAsync()).Reason);
    }

    private static async Task<ReaderCommand> CardThenVerifyRequestAsync(RawReader card, RawReader finger)
    {
        await card.CardAsync(Operator);
        Assert.True((await card.NextDecisionAsync()).Pending);
        return await finger.NextCommandAsync();
    }
}

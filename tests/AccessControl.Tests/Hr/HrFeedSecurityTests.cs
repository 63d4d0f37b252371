using System.Net;
using AccessControl.EntryLog;
using AccessControl.Hr;
using AccessControl.Tests.EndToEnd;
using NodaTime;
using NodaTime.Text;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Hr;

/// <summary>Only the HR system's signed, fresh requests terminate anyone; a replay changes nothing.</summary>
public class HrFeedSecurityTests
{
    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "NIST-IA-9")]
    public async Task UnsignedWronglySignedOrStaleRequests_AreRefusedAndLogged_AndChangeNothing()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        var body = HrFeedClient.Body(HrFeedClient.Termination("hr-2026-000500"));
        var now = InstantPattern.General.Format(edge.Clock.GetCurrentInstant());
        var stale = InstantPattern.General.Format(edge.Clock.GetCurrentInstant() - Duration.FromMinutes(6));
        var otherKey = new HrFeedSigner(new byte[32]);
        var tampered = HrFeedClient.Body(HrFeedClient.Termination("hr-2026-000500", person: "p-jweber"));

        using var missing = await hr.PostRawAsync(body, now, null);
        using var wrongKey = await hr.PostRawAsync(body, now, otherKey.Sign(now, body));
        using var otherBody = await hr.PostRawAsync(tampered, now, hr.Signer.Sign(now, body));
        using var otherTime = await hr.PostRawAsync(body, stale, hr.Signer.Sign(now, body));
        using var tooOld = await hr.PostSignedAsync(body, edge.Clock.GetCurrentInstant() - Duration.FromMinutes(6));
        using var tooNew = await hr.PostSignedAsync(body, edge.Clock.GetCurrentInstant() + Duration.FromMinutes(6));
        var swipe = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.All([missing, wrongKey, otherBody, otherTime, tooOld, tooNew], r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        Assert.True(swipe.Grant);
        var refusals = edge.Rows(new LogFilter { Kind = LogKinds.Security }).Where(r => r.Actor == HrFeedService.Actor).Select(r => r.Reason).ToList();
        Assert.Equal(["hr.missing_signature", "hr.invalid_signature", "hr.invalid_signature", "hr.invalid_signature", "hr.stale_timestamp", "hr.stale_timestamp"], refusals);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.event" }));
    }

    [Fact]
    [Trait("control", "NIST-PS-4")]
    [Trait("control", "PCI-9.2")]
    public async Task AReplayedRequest_IsAlreadyApplied_AndAReusedEventIdIsAConflict()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var hr = new HrFeedClient(edge);
        var body = HrFeedClient.Body(HrFeedClient.Termination("hr-2026-000600"));
        var timestamp = InstantPattern.General.Format(edge.Clock.GetCurrentInstant());
        var signature = hr.Signer.Sign(timestamp, body);

        using var first = await hr.PostRawAsync(body, timestamp, signature);
        using var replay = await hr.PostRawAsync(body, timestamp, signature);
        var reused = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000600", person: "p-jweber")));

        Assert.Equal(HrOutcomes.Applied, Assert.Single(await HrFeedClient.ResultsAsync(first)).Outcome);
        Assert.Equal(HrOutcomes.AlreadyApplied, Assert.Single(await HrFeedClient.ResultsAsync(replay)).Outcome);
        Assert.Equal(HrOutcomes.Conflict, reused.Outcome);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "person.terminate", PersonId = "p-mkoch" }));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "person.terminate", PersonId = "p-jweber" }));
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "hr.applied" }));
    }

    [Fact]
    public async Task AnEventWithoutEffectiveAt_IsAnsweredWithTheInstantItIsKept_TheSameWhenSentAgain()
    {
        await using var edge = await EdgeHarness.StartAsync();
        // A clock between two milliseconds, as a real one nearly always is; the store keeps whole milliseconds.
        edge.Clock.AdvanceNanoseconds(1_234_567);
        using var hr = new HrFeedClient(edge);

        var first = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000700")));
        var again = Assert.Single(await hr.SendAsync(HrFeedClient.Termination("hr-2026-000700")));

        Assert.Equal(HrOutcomes.Applied, first.Outcome);
        Assert.Equal(HrOutcomes.AlreadyApplied, again.Outcome);
        Assert.Equal(again.EffectiveAt, first.EffectiveAt);
    }

    [Fact]
    public void TheKeyFile_IsCreatedOnFirstStart_OwnerOnly_AndReadBackTheSame()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-hrkey-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var file = Path.Combine(directory, HrFeedKey.FileName);
            var created = HrFeedKey.Load(file, _ => null);
            var read = HrFeedKey.Read(file, _ => null);
            var body = "{}"u8.ToArray();

            Assert.True(read.Verify("t", body, created.Sign("t", body)));
            Assert.False(read.Verify("t2", body, created.Sign("t", body)));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

using AccessControl.Fingerprints;
using AccessControl.HardwareSim.Fingerprints;
using AccessControl.HardwareSim.Readers;
using AccessControl.Protocol;
using AccessControl.Tests.HardwareSim.Support;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class FingerprintReaderTests(ITestOutputHelper output)
{
    private const string Fp = "fp-sr1-in";
    private const string Person = "p-mkoch";

    private static readonly FingerprintTemplate RightIndex = SyntheticFingers.EnrollmentTemplate(Person, "right-index", "tpl-ri");
    private static readonly FingerprintTemplate LeftThumb = SyntheticFingers.EnrollmentTemplate(Person, "left-thumb", "tpl-lt");

    [Fact]
    [Trait("control", "NIST-SP800-63B-5.2.3")]
    public async Task Verify_ThenRightFinger_PublishesFingerprintMatchWithAPassingScoreAndTheRightTemplate()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp);
        await reader.StartAsync().Guarded();

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-1", LeftThumb, RightIndex));
        var request = await reader.WhenVerifyRequestedAsync().Guarded();
        var capture = await reader.PresentFingerAsync(Person, "right-index").Guarded();
        var message = await h.Service.WaitForReaderEventAsync(Fp, ReaderEventType.FingerprintMatch).Guarded();

        Assert.Equal(("req-1", "card-ev-1"), (request.RequestId, request.CardEventId));
        Assert.Equal(["tpl-lt", "tpl-ri"], request.TemplateIds);
        Assert.NotNull(capture);
        var e = message.ReaderEvent!;
        Assert.Equal(("req-1", "tpl-ri", capture.Score), (e.RequestId, e.TemplateId, e.Score!.Value));
        Assert.InRange(capture.Score, FingerprintPolicy.DefaultThreshold, 100);
        Assert.Equal(
            $$"""{"eventId":"{{e.EventId}}","seq":1,"at":"2026-11-28T09:15:02Z","type":"fingerprint_match","requestId":"req-1","score":{{capture.Score}},"templateId":"tpl-ri"}""",
            message.Json);
        Assert.Null(reader.CurrentRequest);
    }

    [Theory]
    [InlineData(Person, "left-little")]
    [InlineData("p-someone-else", "right-index")]
    [Trait("control", "NIST-SP800-63B-5.2.3")]
    public async Task Verify_ThenWrongFinger_ScoresBelowTheThreshold(string person, string finger)
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp);
        await reader.StartAsync().Guarded();

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-2", RightIndex));
        await reader.WhenVerifyRequestedAsync().Guarded();
        var capture = await reader.PresentFingerAsync(person, finger).Guarded();
        var e = (await h.Service.WaitForReaderEventAsync(Fp, ReaderEventType.FingerprintMatch).Guarded()).ReaderEvent!;

        Assert.Equal("req-2", e.RequestId);
        Assert.InRange(e.Score!.Value, 0, FingerprintPolicy.DefaultThreshold - 1);
        Assert.Equal(capture!.Score, e.Score);
    }

    [Fact]
    public async Task FingerPresentedBeforeTheRequest_IsCapturedWhenTheRequestArrives()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp);
        await reader.StartAsync().Guarded();

        var touch = reader.PresentFingerAsync(Person, "right-index");
        Assert.False(touch.IsCompleted);
        await h.Service.SendReaderCommandAsync(Fp, Verify("req-3", RightIndex));
        var capture = await touch.Guarded();

        Assert.Equal("req-3", capture!.RequestId);
        Assert.Equal("req-3", (await h.Service.WaitForReaderEventAsync(Fp, ReaderEventType.FingerprintMatch).Guarded()).ReaderEvent!.RequestId);
    }

    [Fact]
    public async Task NoFinger_RequestTimesOut_TemplatesDroppedAndNothingSent()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp);
        var ended = new TaskCompletionSource<VerifyRequestEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.VerifyRequestEnded += e => ended.TrySetResult(e);
        await reader.StartAsync().Guarded();

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-4", RightIndex));
        await reader.WhenVerifyRequestedAsync().Guarded();
        reader.PresentNothing();
        h.Time.Advance(TimeSpan.FromSeconds(10));
        var end = await ended.Task.Guarded();

        Assert.Equal(("req-4", VerifyRequestEnd.TimedOut), (end.Request.RequestId, end.How));
        Assert.Null(reader.CurrentRequest);
        Assert.Equal((0L, 0), (reader.Counters.Sent, reader.Counters.Pending));
    }

    [Fact]
    public async Task Cancel_DropsTheRequest_SoALaterFingerProducesNoEvent()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp, new FingerprintReaderOptions { HeartbeatInterval = TimeSpan.Zero, FingerDwell = TimeSpan.FromSeconds(3) });
        var ended = new TaskCompletionSource<VerifyRequestEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.VerifyRequestEnded += e => ended.TrySetResult(e);
        await reader.StartAsync().Guarded();

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-5", RightIndex));
        await reader.WhenVerifyRequestedAsync().Guarded();
        await h.Service.SendReaderCommandAsync(Fp, new ReaderCommand("cmd-c", ReaderCommands.CancelFingerprint, "req-5", "card-ev-1", 0, []));
        var end = await ended.Task.Guarded();
        var touch = reader.PresentFingerAsync(Person, "right-index");
        h.Time.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal(VerifyRequestEnd.Cancelled, end.How);
        Assert.Null(await touch.Guarded());
        Assert.Null(reader.CurrentRequest);
        Assert.Equal((0L, 0), (reader.Counters.Sent, reader.Counters.Pending));
    }

    [Fact]
    public async Task FingerprintMatch_WithoutDecision_IsResentUntilTheDecisionArrives()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp);
        var received = new TaskCompletionSource<ReceivedFingerprintDecision>(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.DecisionReceived += d => received.TrySetResult(d);
        await reader.StartAsync().Guarded();

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-6", RightIndex));
        await reader.WhenVerifyRequestedAsync().Guarded();
        var capture = (await reader.PresentFingerAsync(Person, "right-index").Guarded())!;
        await capture.Event.HandedOff.Guarded();
        var first = await h.Service.WaitForReaderEventAsync(Fp, ReaderEventType.FingerprintMatch).Guarded();
        h.Time.Advance(h.Options.ResendInterval);
        var second = await h.Service.WaitForReaderEventAsync(Fp, ReaderEventType.FingerprintMatch, occurrence: 2).Guarded();

        Assert.Equal(first.Json, second.Json);
        Assert.False(capture.Decision.IsCompleted);
        await h.Service.SendDecisionAsync(Fp, new DecisionMessage(capture.Event.EventId, true, "granted", "door-sr1", 0));

        Assert.Equal("granted", (await capture.Decision.Guarded()).Reason);
        var seen = await received.Task.Guarded();
        Assert.Equal(("req-6", "tpl-ri", capture.Score), (seen.RequestId, seen.TemplateId, seen.Score));
        Assert.Equal((1L, 1L, 1L, 0), (reader.Counters.Sent, reader.Counters.Acked, reader.Counters.Resent, reader.Counters.Pending));
    }

    [Fact]
    public async Task NewVerify_SupersedesTheHeldOne()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp);
        var ended = new TaskCompletionSource<VerifyRequestEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.VerifyRequestEnded += e => ended.TrySetResult(e);
        await reader.StartAsync().Guarded();

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-7", RightIndex));
        await reader.WhenVerifyRequestedAsync().Guarded();
        await h.Service.SendReaderCommandAsync(Fp, Verify("req-8", LeftThumb));
        var end = await ended.Task.Guarded();

        Assert.Equal(("req-7", VerifyRequestEnd.Superseded), (end.Request.RequestId, end.How));
        Assert.Equal("req-8", (await reader.WhenVerifyRequestedAsync().Guarded()).RequestId);
    }

    [Fact]
    [Trait("control", "NIST-SP800-63B-5.2.3")]
    public async Task Verify_WithNoTemplateInAFormatItReads_PublishesNothing_AndReportsAFault()
    {
        // reader-protocol §6.7: templates in a format the reader does not support are skipped; if none is usable it
        // publishes nothing. A score of 0 for them would be a fingerprint_mismatch, and the third one locks the card.
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp, new FingerprintReaderOptions { HeartbeatInterval = TimeSpan.Zero, FingerDwell = TimeSpan.FromSeconds(3) });
        var requested = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ended = new TaskCompletionSource<VerifyRequestEnded>(TaskCreationOptions.RunContinuationsAsynchronously);
        reader.VerifyRequested += _ => requested.TrySetResult();
        reader.VerifyRequestEnded += e => ended.TrySetResult(e);
        await reader.StartAsync().Guarded();
        var unreadable = new FingerprintTemplate("tpl-iso", "right-index", "iso-19794-2", RightIndex.Data);

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-9", unreadable));
        await requested.Task.Guarded();
        var touch = reader.PresentFingerAsync(Person, "right-index");
        h.Time.Advance(TimeSpan.FromSeconds(3));

        Assert.Null(await touch.Guarded());
        Assert.Equal(("req-9", VerifyRequestEnd.NoUsableTemplate), ((await ended.Task.Guarded()).Request.RequestId, (await ended.Task).How));
        Assert.Null(reader.CurrentRequest);
        Assert.Equal((0L, 0), (reader.Counters.Sent, reader.Counters.Pending));
    }

    [Fact]
    public async Task RepeatedVerifyCommandId_IsIgnored_SoAnAnsweredRequestDoesNotAskForAFingerAgain()
    {
        // reader-protocol §6.7: QoS 1 may deliver a command twice; a reader ignores a commandId it has already handled.
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.FingerprintReader(Fp);
        var requested = System.Threading.Channels.Channel.CreateUnbounded<string>();
        reader.VerifyRequested += r => requested.Writer.TryWrite(r.RequestId);
        await reader.StartAsync().Guarded();

        await h.Service.SendReaderCommandAsync(Fp, Verify("req-10", RightIndex));
        await reader.WhenVerifyRequestedAsync().Guarded();
        await reader.PresentFingerAsync(Person, "right-index").Guarded();
        await h.Service.SendReaderCommandAsync(Fp, Verify("req-10", RightIndex));
        await h.Service.SendReaderCommandAsync(Fp, Verify("req-11", RightIndex));
        var seen = new List<string>();
        while (seen.LastOrDefault() != "req-11")
        {
            seen.Add(await requested.Reader.ReadAsync().AsTask().Guarded());
        }

        Assert.Equal(["req-10", "req-11"], seen);
    }

    private static ReaderCommand Verify(string requestId, params FingerprintTemplate[] templates) =>
        new($"cmd-{requestId}", ReaderCommands.VerifyFingerprint, requestId, "card-ev-1", 10, [.. templates]);
}

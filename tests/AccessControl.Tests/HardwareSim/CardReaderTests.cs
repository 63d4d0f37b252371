using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Tests.HardwareSim.Support;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace AccessControl.Tests.HardwareSim;

public class CardReaderTests(ITestOutputHelper output)
{
    private const string Card = "04A1B2C3D4E5F6";
    private const string Technology = "desfire-ev3";

    [Fact]
    public async Task PresentCard_PublishesCardEventMatchingTheProtocolLiterally()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        _ = reader.PresentCardAsync(Card, Technology);
        var message = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card).Guarded();

        var eventId = message.ReaderEvent!.EventId;
        Assert.Matches("^[A-Za-z0-9._:-]{1,64}$", eventId);
        Assert.Equal("ac/v1/readers/rdr-dh1-in/events", message.Topic);
        Assert.Equal(
            $$"""{"eventId":"{{eventId}}","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1B2C3D4E5F6","technology":"desfire-ev3"}""",
            message.Json);
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, message.QoS);
    }

    [Fact]
    public async Task PresentCard_CompletesWithTheDecisionThatEchoesItsEventId()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        var raised = new TaskCompletionSource<AccessControl.HardwareSim.Readers.ReceivedDecision>();
        reader.DecisionReceived += d => raised.TrySetResult(d);
        await reader.StartAsync().Guarded();

        var swipe = reader.PresentCard(Card, Technology);
        var eventId = (await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card).Guarded()).ReaderEvent!.EventId;
        await h.Service.SendDecisionAsync("rdr-dh1-in", new DecisionMessage("someone-elses-event", false, "no_access_to_zone", "door-dh1", 0));
        await h.Service.SendDecisionAsync("rdr-dh1-in", new DecisionMessage(eventId, true, "granted", "door-dh1", 5));

        Assert.Equal(eventId, swipe.EventId);
        Assert.Equal(new DecisionMessage(eventId, true, "granted", "door-dh1", 5), await swipe.Decision.Guarded());
        await swipe.HandedOff.Guarded();
        var seen = await raised.Task.Guarded();
        Assert.Equal((eventId, Card, Technology, false), (seen.EventId, seen.Card, seen.Technology, seen.Offline));
        Assert.Equal((1L, 1L, 0L, 0), (reader.Counters.Sent, reader.Counters.Acked, reader.Counters.Resent, reader.Counters.Pending));
    }

    /// <summary>
    /// <c>--verbose</c> prints the device log on the operator's terminal, and it quotes what arrived from the broker: a
    /// reason with an ESC sequence, a newline or a bidi override must be read there, not obeyed.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task DeviceLog_QuotingTextFromTheBroker_ShowsControlAndBidiCharactersEscaped()
    {
        await using var h = await SimHarness.StartAsync(output);
        var lines = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var reader = h.Track(new AccessControl.HardwareSim.Readers.CardReader(
            "rdr-dh1-in", h.Options with { Log = line => lines.Writer.TryWrite(line) }, h.Secrets, h.Time, h.Time, new() { HeartbeatInterval = TimeSpan.Zero }));
        await reader.StartAsync().Guarded();

        await h.Service.SendDecisionAsync("rdr-dh1-in", new DecisionMessage("no-such-event", false, "x\x1B[2J\r\nforged\u202Eevil", "door-dh1", 0));

        string line;
        do
        {
            line = await lines.Reader.ReadAsync().AsTask().Guarded();
        }
        while (!line.Contains("no-such-event", StringComparison.Ordinal));

        Assert.EndsWith(@"deny x\x1B[2J\r\nforged\u202Eevil", line, StringComparison.Ordinal);
        Assert.DoesNotContain(line, c => char.IsControl(c) || c == '\u202E');
    }

    [Fact]
    public async Task PresentCard_WithoutDecision_IsResentWithTheSameEventIdAndSeq()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        var swipe = reader.PresentCard(Card, Technology);
        await swipe.HandedOff.Guarded();
        var first = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card).Guarded();
        h.Time.Advance(h.Options.ResendInterval);
        var second = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card, occurrence: 2).Guarded();

        Assert.Equal(first.Json, second.Json);
        Assert.False(swipe.Decision.IsCompleted);

        await h.Service.SendDecisionAsync("rdr-dh1-in", new DecisionMessage(swipe.EventId, true, "granted", "door-dh1", 5));
        Assert.True((await swipe.Decision.Guarded()).Grant);
    }

    [Fact]
    public async Task PresentCard_Unanswered_IsResentWithAWaitThatDoublesUpToTheLongestInterval()
    {
        await using var h = await SimHarness.StartAsync(output);
        // No connection checks in the way: the re-send timer is the only one that can fire.
        var reader = h.Track(new AccessControl.HardwareSim.Readers.CardReader(
            "rdr-dh1-in", h.Options with { ConnectionCheckInterval = TimeSpan.FromDays(1) }, h.Secrets, h.Time, h.Time, new() { HeartbeatInterval = TimeSpan.Zero }));
        await reader.StartAsync().Guarded();

        var swipe = reader.PresentCard(Card, Technology);
        var first = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card).Guarded();

        // 2 s, then 4, 8, 16 and from then on the longest interval, 30 s: §7.2, "until the decision arrives".
        int[] waits = [2, 4, 8, 16, 30, 30, 30];
        for (var i = 0; i < waits.Length; i++)
        {
            await ResendTimerArmedAsync(h, reader, publishes: i + 1);
            var wait = TimeSpan.FromSeconds(waits[i]);
            Assert.Equal(0, h.Time.Advance(wait - TimeSpan.FromMilliseconds(1)));
            Assert.Equal(1, h.Time.Advance(TimeSpan.FromMilliseconds(1)));
            await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card, occurrence: i + 2).Guarded();
        }

        Assert.All(h.Service.All(m => m.ReaderEvent?.Type == ReaderEventType.Card), m => Assert.Equal(first.Json, m.Json));
        Assert.False(swipe.Decision.IsCompleted);
    }

    [Fact]
    public async Task PresentCard_UnansweredFor4Minutes_IsResentMarkedOffline_WithTheSameEventIdSeqAndAt()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        var swipe = reader.PresentCard(Card, Technology);
        var first = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card).Guarded();
        var offline = h.Service.WaitForAsync(m => m.ReaderEvent is { Type: ReaderEventType.Card, Offline: true });
        await h.Time.AdvanceUntilAsync(offline);
        h.Service.Answer = e => new DecisionMessage(e.EventId, true, "granted", "door-dh1", 5);
        await h.Time.AdvanceUntilAsync(swipe.Decision);

        var marked = (await offline).Json;
        Assert.True(h.Time.GetCurrentInstant() - SimHarness.Start >= NodaTime.Duration.FromMinutes(4));
        Assert.Equal(
            $$"""{"eventId":"{{swipe.EventId}}","seq":1,"at":"2026-11-28T09:15:02Z","type":"card","card":"04A1B2C3D4E5F6","technology":"desfire-ev3","offline":true}""",
            marked);
        var cards = h.Service.All(m => m.ReaderEvent?.Type == ReaderEventType.Card);
        Assert.All(cards.TakeWhile(m => !m.ReaderEvent!.Offline), m => Assert.Equal(first.Json, m.Json));
        Assert.All(cards.SkipWhile(m => !m.ReaderEvent!.Offline), m => Assert.Equal(marked, m.Json));
        Assert.True(swipe.Offline);
    }

    [Fact]
    public async Task PresentCard_WhileTheBrokerIsDown_IsReplayedMarkedOfflineWhenItReturns()
    {
        await using var h = await SimHarness.StartAsync(output);
        h.Service.Answer = e => new DecisionMessage(e.EventId, true, "granted", "door-dh1", 5);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        await h.Broker.StopAsync();
        await reader.WhenDisconnectedAsync().Guarded();
        var swipe = reader.PresentCard(Card, Technology);
        Assert.True(swipe.Offline);
        Assert.Equal(1, reader.Counters.Buffered);

        await h.Broker.StartAgainAsync();
        await h.ReconnectServiceAsync();
        await h.Time.AdvanceUntilAsync(reader.WhenConnectedAsync());
        await h.Time.AdvanceUntilAsync(swipe.Decision);

        var replayed = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Card).Guarded();
        Assert.Equal(swipe.EventId, replayed.ReaderEvent!.EventId);
        Assert.True(replayed.ReaderEvent.Offline);
        Assert.Contains("\"offline\":true", replayed.Json, StringComparison.Ordinal);
        Assert.Equal("granted", (await swipe.Decision).Reason);
    }

    [Fact]
    public async Task EventsBufferedOffline_AreReplayedInTheOrderTheyWereMade()
    {
        await using var h = await SimHarness.StartAsync(output);
        h.Service.Answer = e => new DecisionMessage(e.EventId, true, "granted", "door-dh1", 5);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        await reader.DropConnectionAsync();
        var swipes = Enumerable.Range(0, 5).Select(_ => reader.PresentCard(Card, Technology)).ToList();
        await reader.TamperAsync("cover opened").Guarded();
        await reader.RestoreConnectionAsync().Guarded();
        await Task.WhenAll(swipes.Select(s => s.Decision)).Guarded();
        await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Tamper).Guarded();

        var seqs = h.Service.All(m => m.ReaderEvent is { Offline: true }).Select(m => m.ReaderEvent!.Seq).ToList();
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], seqs);
        Assert.Equal(6, reader.Counters.Buffered);
    }

    [Fact]
    public async Task Connect_PublishesRetainedOnlineStatus()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        var online = await h.Service.WaitForReaderStatusAsync("rdr-dh1-in", DeviceState.Online).Guarded();
        Assert.Equal("""{"state":"online","at":"2026-11-28T09:15:02Z","firmware":"hardware-sim/1.0"}""", online.Json);

        await using var late = await TestService.ConnectAsync(h.Broker);
        Assert.True((await late.WaitForReaderStatusAsync("rdr-dh1-in", DeviceState.Online).Guarded()).Retained);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task LastWill_PublishesOfflineStatus_WhenTheConnectionDropsUncleanly()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();
        await h.Service.WaitForReaderStatusAsync("rdr-dh1-in", DeviceState.Online).Guarded();

        await reader.DropConnectionAsync();

        var will = await h.Service.WaitForReaderStatusAsync("rdr-dh1-in", DeviceState.Offline).Guarded();
        Assert.Equal("""{"state":"offline","at":"2026-11-28T09:15:02Z","firmware":"hardware-sim/1.0"}""", will.Json);
        Assert.Equal("ac/v1/readers/rdr-dh1-in/status", will.Topic);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public async Task Start_WithAPasswordFromAnotherKey_IsRefusedByTheBroker()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in", new DeviceSecrets(DeviceSecrets.NewKey()));

        reader.Start();

        Assert.Equal("rdr-dh1-in", await h.Broker.Refused.ReadAsync().AsTask().Guarded());
        Assert.False(reader.IsConnected);
    }

    [Fact]
    public async Task Tamper_PublishesATamperEventWithItsDetail()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        await reader.TamperAsync("cover opened").Guarded();

        var tamper = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Tamper).Guarded();
        Assert.Equal(
            $$"""{"eventId":"{{tamper.ReaderEvent!.EventId}}","seq":1,"at":"2026-11-28T09:15:02Z","type":"tamper","detail":"cover opened"}""",
            tamper.Json);
    }

    [Fact]
    public async Task Heartbeat_IsSentWhileOnlineAndNotMadeWhileOffline()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Reader("rdr-dh1-in");
        await reader.StartAsync().Guarded();

        Assert.True(await reader.SendHeartbeatAsync().Guarded());
        var beat = await h.Service.WaitForReaderEventAsync("rdr-dh1-in", ReaderEventType.Heartbeat).Guarded();
        Assert.Equal($$"""{"eventId":"{{beat.ReaderEvent!.EventId}}","seq":1,"at":"2026-11-28T09:15:02Z","type":"heartbeat"}""", beat.Json);

        await reader.DropConnectionAsync();
        Assert.False(await reader.SendHeartbeatAsync().Guarded());
        Assert.Equal(0, reader.Counters.Buffered);
    }

    [Fact]
    public async Task FullBuffer_OverwritesTheOldestEvent()
    {
        await using var h = await SimHarness.StartAsync(output);
        var reader = h.Track(new AccessControl.HardwareSim.Readers.CardReader(
            "rdr-dh1-in", h.Options with { BufferCapacity = 2 }, h.Secrets, h.Time, h.Time, new() { HeartbeatInterval = TimeSpan.Zero }));

        var oldest = reader.PresentCard(Card, Technology);
        reader.PresentCard(Card, Technology);
        reader.PresentCard(Card, Technology);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => oldest.Decision.Guarded());
        Assert.Equal((1L, 2), (reader.Counters.Dropped, reader.Counters.Pending));
    }

    /// <summary>Waits until the reader has counted <paramref name="publishes"/> publishes: it arms the re-send timer under the same lock.</summary>
    private static async Task ResendTimerArmedAsync(SimHarness h, AccessControl.HardwareSim.Devices.SimulatedDevice reader, int publishes)
    {
        while (true)
        {
            var changed = h.Time.TimersChanged;
            if (reader.Counters.Sent + reader.Counters.Resent >= publishes)
            {
                return;
            }

            await changed.Guarded();
        }
    }
}

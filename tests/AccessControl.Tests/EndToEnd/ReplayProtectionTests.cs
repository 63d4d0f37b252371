using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using AccessControl.Tests.Visitors;
using MQTTnet;
using MQTTnet.Protocol;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>Replay protection over the broker: stale seq or implausible time refused, logged, alarmed; baselines survive a restart; an admin reset.</summary>
[Trait("control", "NIST-SC-23")]
[Trait("control", "NIST-PE-3")]
public partial class ReplayProtectionTests
{
    private const string ReaderId = "rdr-lobby-in";

    [Fact]
    public async Task OldSeqUnderANewEventId_IsDeniedLoggedAndAlarmedOncePerMinute()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        var now = edge.Clock.GetCurrentInstant();

        var first = await SendAsync(edge, raw, decisions, Card("swipe-1", 10, now));
        var replay = await SendAsync(edge, raw, decisions, Card("swipe-1-replayed", 10, now));
        var again = await SendAsync(edge, raw, decisions, Card("swipe-1-replayed-again", 10, now));

        Assert.True(first.Grant);
        Assert.Equal(("replay_suspected", false), (replay.Reason, replay.Grant));
        Assert.Equal("replay_suspected", again.Reason);
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        Assert.Equal(AlarmTypes.ReplaySuspected, alarm.Type);
        Assert.Equal(ReaderId, alarm.ReaderId);
        Assert.Contains("seq 10, last seen seq 10", alarm.Detail, StringComparison.Ordinal);
        var rows = edge.Rows(new LogFilter { Limit = 1000 });
        Assert.Equal(2, rows.Count(r => r.Kind == LogKinds.Access && r.Reason == "replay_suspected"));
        Assert.Single(rows, r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.ReplaySuspected);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(-10)]
    public async Task LiveEventFarFromTheServiceClock_IsDenied(int minutes)
    {
        await using var edge = await EdgeHarness.StartAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        var at = edge.Clock.GetCurrentInstant() + Duration.FromMinutes(minutes);

        var decision = await SendAsync(edge, raw, decisions, Card("skewed-1", 1, at));

        Assert.Equal("replay_suspected", decision.Reason);
        var row = edge.Rows(new LogFilter { Kind = LogKinds.Access }).Single();
        Assert.Null(row.DeviceSeq);   // a refused seq never becomes a baseline
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ATamperRefusedAsASuspectedReplay_StillRaisesTheTamperAlarm_EvenWhenTheReplayAlarmIsThrottled()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        var now = edge.Clock.GetCurrentInstant();

        // A reader whose clock is off (its RTC lost after a power cut): its card is refused, which uses up the minute's
        // replay alarm; then its housing is opened. Both tampers are refused too, but the switch is never silenced.
        var card = await SendAsync(edge, raw, decisions, Card("skewed-card", 1, now - Duration.FromMinutes(10)));
        var skewed = await SendAsync(edge, raw, decisions, Tamper("skewed-tamper", 2, now - Duration.FromMinutes(10)));
        var first = await SendAsync(edge, raw, decisions, Card("fresh-card", 3, now));
        var usedSeq = await SendAsync(edge, raw, decisions, Tamper("used-seq-tamper", 3, now));
        var resent = await SendAsync(edge, raw, decisions, Tamper("used-seq-tamper", 3, now));

        Assert.Equal(("replay_suspected", "replay_suspected", "replay_suspected"), (card.Reason, skewed.Reason, usedSeq.Reason));
        Assert.True(first.Grant);
        Assert.Equal(usedSeq, resent);   // a re-send is a duplicate: the same answer, no second alarm

        // A tamper from another reader, which certainly raises its alarm, after whatever came before it.
        var marker = await edge.ReaderAsync("rdr-lobby-out");
        await marker.TamperAsync("marker").WaitAsync(EdgeHarness.Timeout);
        var seen = new List<AlarmMessage>();
        while (seen.LastOrDefault()?.ReaderId != "rdr-lobby-out")
        {
            seen.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        Assert.Single(seen, a => a.Type == AlarmTypes.ReplaySuspected);
        var tampers = seen.Where(a => a.Type == AlarmTypes.Tamper && a.ReaderId == ReaderId).ToList();
        Assert.Equal(2, edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.Tamper, ReaderId = ReaderId }).Count);

        // The second tamper of the same reader within a minute is held back as a storm (both are logged), and goes
        // out once the minute is over.
        edge.Clock.Advance(Duration.FromMinutes(1));
        await edge.TickAsync();
        tampers.Add(await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        Assert.Equal(2, tampers.Count);
        Assert.All(tampers, a => Assert.Equal((AlarmTypes.Tamper, ReaderId, "door-lobby"), (a.Type, a.ReaderId, a.DoorId)));
        Assert.StartsWith("housing opened; the event was refused as a suspected replay: at is 10 min behind", tampers[0].Detail, StringComparison.Ordinal);
        Assert.StartsWith("housing opened; the event was refused as a suspected replay: seq 3 was already used", tampers[1].Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task RefusedEvents_DoNotCountAsTheReadersLiveness_SoReplayedHeartbeatsCannotHideADeadReader()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        Assert.True((await SendAsync(edge, raw, decisions, Card("swipe-1", 10, edge.Clock.GetCurrentInstant()))).Grant);

        // A minute later, captured messages are replayed: a heartbeat with a used seq, one stamped far behind, and a card
        // with a used seq (its answer shows that the pipeline handled the heartbeats before it).
        edge.Clock.Advance(Duration.FromSeconds(60));
        var now = edge.Clock.GetCurrentInstant();
        await PublishAsync(edge, raw, new ReaderEvent("hb-replayed", 10, now, ReaderEventType.Heartbeat, null, null, false, null));
        await PublishAsync(edge, raw, new ReaderEvent("hb-stale", 11, now - Duration.FromHours(1), ReaderEventType.Heartbeat, null, null, false, null));
        Assert.Equal("replay_suspected", (await SendAsync(edge, raw, decisions, Card("swipe-1-replayed", 10, now))).Reason);

        // Three heartbeat intervals (30 s) after the last accepted event, the reader is reported offline.
        edge.Clock.Advance(Duration.FromSeconds(31));
        await edge.TickAsync();

        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.ReaderOffline }), r => r.ReaderId == ReaderId);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task AReaderWhoseClockDrifted_IsReportedOffline_WithADetailSayingItsMessagesArriveAndAreRefused_NotThatNothingCame()
    {
        // The reader is alive, but its clock runs ten minutes ahead: every heartbeat is refused, and none counts as a sign
        // of life. Its offline alarm must send the technician to its clock, not to a dead reader.
        await using var edge = await EdgeHarness.StartAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        var skew = Duration.FromMinutes(10);
        for (var seq = 1; seq <= 3; seq++)
        {
            edge.Clock.Advance(Duration.FromSeconds(30));
            await PublishAsync(edge, raw, new ReaderEvent($"hb-{seq}", seq, edge.Clock.GetCurrentInstant() + skew, ReaderEventType.Heartbeat, null, null, false, null));
        }

        // Its card answers once the heartbeats before it were handled.
        Assert.Equal("replay_suspected", (await SendAsync(edge, raw, decisions, Card("swipe-skewed", 4, edge.Clock.GetCurrentInstant() + skew))).Reason);
        edge.Clock.Advance(Duration.FromSeconds(1));
        await edge.TickAsync();

        var offline = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.ReaderOffline }), r => r.ReaderId == ReaderId);
        Assert.Contains(
            "no message accepted for 3 heartbeat intervals (90 s), but 4 arrived in that time and were refused as suspected replays (the last 1 s ago: at is 10 min ahead of the service clock (allowed 5 min)): the reader is sending; look at its clock (NTP) or its seq, not its power or network",
            offline.Detail, StringComparison.Ordinal);

        // A reader really silent says so, as before.
        var other = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.ReaderOffline }), r => r.ReaderId == "rdr-lobby-out");
        Assert.Contains("\"no message for 3 heartbeat intervals (90 s)\"", other.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OfflineReplayWithinTheWindow_IsDecided_AndADuplicateKeepsItsOriginalDecision()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        var now = edge.Clock.GetCurrentInstant();

        var offline = await SendAsync(edge, raw, decisions, Card("buffered-1", 5, now - Duration.FromHours(2)) with { Offline = true });
        var later = await SendAsync(edge, raw, decisions, Card("live-1", 6, now));
        var duplicate = await SendAsync(edge, raw, decisions, Card("buffered-1", 5, now - Duration.FromHours(2)) with { Offline = true });

        Assert.True(offline.Grant);
        Assert.NotEqual("replay_suspected", later.Reason);
        Assert.Equal(offline, duplicate);
        Assert.DoesNotContain(edge.Rows(new LogFilter { Limit = 100 }), r => r.Reason == "replay_suspected");
    }

    [Fact]
    public async Task AfterARestart_TheBaselineHolds_UntilAnAdminResetsIt()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-replay-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            await using (var edge = await EdgeHarness.StartAsync(directory: directory))
            {
                var (raw, decisions) = await RawReaderAsync(edge);
                Assert.True((await SendAsync(edge, raw, decisions, Card("before-1", 5000, edge.Clock.GetCurrentInstant()))).Grant);
            }

            await using (var edge = await EdgeHarness.StartAsync(directory: directory))
            {
                var (raw, decisions) = await RawReaderAsync(edge);
                var now = edge.Clock.GetCurrentInstant();

                // The reader's flash was wiped: it starts again at 1 and is refused.
                Assert.Equal("replay_suspected", (await SendAsync(edge, raw, decisions, Card("wiped-1", 1, now))).Reason);

                TestPeople.Add(edge.Edge.Database, "p-anna");
                using var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
                    new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("ops-anna", OperatorRole.Admin, "test", "p-anna"));
                var response = await http.PostAsync($"/api/v1/devices/readers/{ReaderId}/seq-reset", null);
                Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

                Assert.True((await SendAsync(edge, raw, decisions, Card("wiped-2", 2, now))).Grant);
                var audit = edge.Rows(new LogFilter { Kind = LogKinds.Admin, Limit = 100 }).Single(r => r.Reason == "device_seq_reset");
                Assert.Equal(("ops-anna", "readers/" + ReaderId), (audit.Actor, audit.Source));
                Assert.Contains("\"previous\":5000", audit.Detail, StringComparison.Ordinal);
            }

            await using (var edge = await EdgeHarness.StartAsync(directory: directory))
            {
                // The reset holds across a restart too: the baseline is the reader's seq since the reset (2), not 5000.
                var (raw, decisions) = await RawReaderAsync(edge);
                var decision = await SendAsync(edge, raw, decisions, Card("wiped-3", 3, edge.Clock.GetCurrentInstant()));
                Assert.NotEqual("replay_suspected", decision.Reason);
                Assert.Equal("replay_suspected", (await SendAsync(edge, raw, decisions, Card("wiped-2-again", 2, edge.Clock.GetCurrentInstant()))).Reason);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// reader-protocol.md §7.7 refuses a seq "more than 1024 below the highest seen" (and operations.md: how far below the
    /// highest an unused seq is "still accepted"): one exactly 1024 below is inside the window, before a restart and after it,
    /// where its use must be remembered, and one 1025 below is not.
    /// </summary>
    [Fact]
    public async Task AnUnusedSeqExactlyTheReplayWindowBelowTheHighest_IsAccepted_OneMoreBelowIsNot_AndItsUseSurvivesARestart()
    {
        const long highest = 5000;
        var window = new PipelineOptions().ReplayWindow;
        Assert.Equal(1024, window);   // the number reader-protocol.md states
        var directory = Path.Combine(Path.GetTempPath(), "ac-replay-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            await using (var edge = await EdgeHarness.StartAsync(directory: directory))
            {
                var (raw, decisions) = await RawReaderAsync(edge);
                var now = edge.Clock.GetCurrentInstant();
                Assert.True((await SendAsync(edge, raw, decisions, Card("highest", highest, now))).Grant);

                var atTheEdge = await SendAsync(edge, raw, decisions, Card("lost-and-resent", highest - window, now));
                var beyond = await SendAsync(edge, raw, decisions, Card("too-old", highest - window - 1, now));

                Assert.Equal("granted", atTheEdge.Reason);
                Assert.Equal("replay_suspected", beyond.Reason);
            }

            await using (var edge = await EdgeHarness.StartAsync(directory: directory))
            {
                var (raw, decisions) = await RawReaderAsync(edge);
                var replayed = await SendAsync(edge, raw, decisions, Card("lost-and-resent-replayed", highest - window, edge.Clock.GetCurrentInstant()));

                Assert.Equal("replay_suspected", replayed.Reason);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// No change without a durable log row: a reset answered 503 ("not recorded") must not have moved the baseline either,
    /// or the service would accept (null: any seq) or refuse (a high baseline) seqs by a reset that is not in the log and
    /// that a restart forgets. Once the log is back, the same reset is recorded and takes effect.
    /// </summary>
    [Theory]
    [Trait("control", "NIST-AU-5")]
    [InlineData(null, 1L, 2L)]            // would let an old seq in
    [InlineData(1_000_000L, 5001L, 5002L)] // would shut the reader out
    public async Task SeqReset_WhoseRowCannotBeWritten_IsAnswered503_AndTheBaselineStaysAsItWas_UntilItIsRecorded(long? baseline, long probe, long probeAfter)
    {
        await using var edge = await EdgeHarness.StartAsync();
        var (raw, decisions) = await RawReaderAsync(edge);
        TestPeople.Add(edge.Edge.Database, "p-anna");
        using var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("ops-anna", OperatorRole.Admin, "test", "p-anna"));
        var reset = $"/api/v1/devices/readers/{ReaderId}/seq-reset" + (baseline is { } b ? $"?baseline={b}" : "");
        var now = edge.Clock.GetCurrentInstant();
        Assert.True((await SendAsync(edge, raw, decisions, Card("before-1", 5000, now))).Grant);

        edge.Edge.Writer.SimulateWriteFailure(true);
        using var failed = await http.PostAsync(reset, null);
        edge.Edge.Writer.SimulateWriteFailure(false);
        var without = await SendAsync(edge, raw, decisions, Card("probe-1", probe, now));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        Assert.Contains("not recorded", await failed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(baseline is null ? "replay_suspected" : "granted", without.Reason);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "device_seq_reset" }));

        using var recorded = await http.PostAsync(reset, null);
        var with = await SendAsync(edge, raw, decisions, Card("probe-2", probeAfter, now));

        Assert.True(recorded.IsSuccessStatusCode, await recorded.Content.ReadAsStringAsync());
        Assert.Equal(baseline is null ? "granted" : "replay_suspected", with.Reason);
        var audit = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "device_seq_reset" }));
        Assert.Equal(baseline, audit.DeviceSeq);
        Assert.Contains($"\"previous\":{(without.Grant ? probe : 5000)}", audit.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public async Task SeqReset_ByAnAdminForAnotherSite_OrOfAnUnknownDevice_IsRefusedAndLogged_AndItsOwnSitesAdminResets()
    {
        await using var edge = await EdgeHarness.StartAsync();
        using var desk = VisitDesk.For(edge);
        using var elsewhere = desk.As("ops-par1", OperatorRole.Admin, "p-ops-par1", site: "par1");
        using var here = desk.As("ops-demo", OperatorRole.Admin, "p-ops-demo", site: "demo");

        var refused = await elsewhere.PostAsync($"/api/v1/devices/readers/{ReaderId}/seq-reset", null);
        var unknown = await here.PostAsync("/api/v1/devices/doors/door-nowhere/seq-reset", null);
        var reset = await here.PostAsync($"/api/v1/devices/readers/{ReaderId}/seq-reset?baseline=7", null);

        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden), (refused.StatusCode, unknown.StatusCode));
        Assert.Equal(SiteLimit.Code, await VisitDesk.RefusalCodeAsync(refused));
        var refusals = edge.Rows(new LogFilter { Kind = LogKinds.Security, Reason = "device_seq_reset.refused" });
        Assert.Equal([("ops-par1", "demo"), ("ops-demo", null)], refusals.Select(r => (r.Actor, r.SiteId)));
        Assert.True(reset.IsSuccessStatusCode, await reset.Content.ReadAsStringAsync());
        var audit = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "device_seq_reset" }));
        Assert.Equal(("ops-demo", "demo", 7L), (audit.Actor, audit.SiteId, audit.DeviceSeq));
    }

    private static ReaderEvent Card(string eventId, long seq, Instant at) =>
        new(eventId, seq, at, ReaderEventType.Card, Operator, Ev3, false, null);

    private static ReaderEvent Tamper(string eventId, long seq, Instant at) =>
        new(eventId, seq, at, ReaderEventType.Tamper, null, null, false, "housing opened");

    private static async Task<(IMqttClient Raw, Channel<DecisionMessage> Decisions)> RawReaderAsync(EdgeHarness edge)
    {
        var raw = await edge.RawClientAsync(ReaderId);
        return (raw, await edge.DecisionsAsync(raw, ReaderId));
    }

    private static async Task<DecisionMessage> SendAsync(EdgeHarness edge, IMqttClient raw, Channel<DecisionMessage> decisions, ReaderEvent e)
    {
        await PublishAsync(edge, raw, e);
        return await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
    }

    private static Task PublishAsync(EdgeHarness edge, IMqttClient raw, ReaderEvent e) =>
        raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents(ReaderId))
            .WithPayload(WireFormat.Write(e)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
}

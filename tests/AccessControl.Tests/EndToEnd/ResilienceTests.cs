using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Health;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using MQTTnet;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>Broker restarts lose nothing; a log that cannot be written denies everything.</summary>
public class ResilienceTests
{
    private const string ReaderId = "rdr-lobby-in";

    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task BrokerRestartMidRun_EveryEventIsDecidedAndLoggedExactlyOnce(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        string[] readerIds = ["rdr-lobby-in", "rdr-lobby-out", "rdr-dh1-in", "rdr-dh1-out"];
        var readers = new List<AccessControl.HardwareSim.Readers.CardReader>();
        foreach (var id in readerIds)
        {
            readers.Add(await edge.ReaderAsync(id));
        }

        var pending = new List<Task<DecisionMessage>>();
        const int PerReader = 30;
        for (var round = 0; round < PerReader; round++)
        {
            if (round == 10 || round == 20)
            {
                await edge.StopBrokerAsync();
                await Task.WhenAll(readers.Select(r => r.WhenDisconnectedAsync())).WaitAsync(EdgeHarness.Timeout);
            }

            if (round == 13 || round == 23)
            {
                await edge.StartBrokerAgainAsync();
            }

            foreach (var reader in readers)
            {
                // Unknown cards: every one of them is denied, so anti-passback cannot make the outcome depend on order.
                pending.Add(reader.PresentCardAsync(Unknown, Ev3));
            }
        }

        var decisions = await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(readerIds.Length * PerReader, decisions.Length);
        Assert.All(decisions, d => Assert.Equal("unknown_credential", d.Reason));
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Access, Limit = 10_000 });
        Assert.Equal(readerIds.Length * PerReader, rows.Count);
        Assert.Equal(rows.Count, rows.Select(r => (r.Source, r.EventId)).Distinct().Count());
        Assert.Contains(rows, r => r.Offline);   // events made while the broker was down were replayed from the readers' buffers
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task TenThousandEvents_WithThreeBrokerRestarts_AreEachLoggedExactlyOnce_AndTheChainVerifies()
    {
        await using var edge = await EdgeHarness.StartAsync();
        string[] readerIds = ["rdr-lobby-in", "rdr-lobby-out", "rdr-dh1-in", "rdr-dh1-out"];
        var readers = new List<AccessControl.HardwareSim.Readers.CardReader>();
        foreach (var id in readerIds)
        {
            readers.Add(await edge.ReaderAsync(id));
        }

        const int Rounds = 25;
        const int PerRound = 100;
        var answered = 0;
        var restarts = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var down = round is 6 or 12 or 18;
            if (down)
            {
                await edge.StopBrokerAsync();
                await Task.WhenAll(readers.Select(r => r.WhenDisconnectedAsync())).WaitAsync(EdgeHarness.Timeout);
            }

            var wave = readers.SelectMany(reader => Enumerable.Range(0, PerRound).Select(_ => reader.PresentCardAsync(Unknown, Ev3))).ToList();
            if (down)
            {
                // The whole wave was presented while the broker was down: the readers buffer it and replay it.
                await edge.StartBrokerAgainAsync();
                restarts++;
            }

            var decisions = await Task.WhenAll(wave).WaitAsync(TimeSpan.FromSeconds(120));
            Assert.All(decisions, d => Assert.Equal("unknown_credential", d.Reason));
            answered += decisions.Length;
        }

        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Access, Limit = 10_000 });
        Assert.Equal((10_000, 10_000, 3), (answered, rows.Count, restarts));
        Assert.Equal(rows.Count, rows.Select(r => (r.Source, r.EventId)).Distinct().Count());
        Assert.Equal(3 * readerIds.Length * PerRound, rows.Count(r => r.Offline));
        edge.Edge.Writer.FileCheckpoints(); // what the background filing of the last checkpoint does within a moment
        Assert.True(new LogVerifier(edge.Edge.Database).Verify().Ok); // mid-run, before the final checkpoint: the chain so far
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "PCI-10.2")]
    public async Task DatabaseFull_SwipesAreDeniedLogFailureWithAnAlarm_NeverGranted_AndTheServiceRecoversWhenSpaceReturns()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        edge.Edge.Writer.SimulateFullDatabase(true);
        var whileFull = new List<DecisionMessage>();
        while (whileFull.Count < 2000 && (whileFull.Count == 0 || whileFull[^1].Reason != "log_failure"))
        {
            // Rows fit into the last page's free space for a while; the first that needs a new page fails with SQLITE_FULL.
            whileFull.Add(await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout));
        }

        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        var stillFull = await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        edge.Edge.Writer.SimulateFullDatabase(false);
        var afterwards = await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "log_failure", 0), (whileFull[^1].Grant, whileFull[^1].Reason, whileFull[^1].UnlockSeconds));
        Assert.Equal(AlarmTypes.LogFailure, alarm.Type);
        Assert.Contains("(SqliteException 13)", alarm.Detail, StringComparison.Ordinal); // the console is told why: full
        Assert.Equal((false, "log_failure"), (stillFull.Grant, stillFull.Reason));
        Assert.True(afterwards.Grant);
        var granted = edge.Rows(new LogFilter { Kind = LogKinds.Access, Decision = "grant", Limit = 10_000 }).Count;
        Assert.Equal(whileFull.Count(d => d.Grant) + 2, granted); // every grant a reader heard has its row; no other
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "NIST-PE-3")]
    public async Task LogCannotBeWritten_SwipesAreDeniedWithLogFailureAndAnAlarm_ThenRecover()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        edge.Edge.Writer.SimulateWriteFailure(true);
        var denied = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        edge.Edge.Writer.SimulateWriteFailure(false);
        var after = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(AlarmTypes.LogFailure, alarm.Type);
        Assert.False(denied.Grant);
        Assert.Equal("log_failure", denied.Reason);
        Assert.Equal(0, denied.UnlockSeconds);
        Assert.True(after.Grant);
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Access });
        Assert.Equal(["grant", "deny", "grant"], rows.Select(r => r.Decision));
        Assert.Equal("log_failure", rows[1].Reason);    // logged late, as the reader heard it: never as a grant
    }

    /// <summary>
    /// Another process holds the log's write lock for longer than the busy timeout (a <c>sqlite3</c> shell left inside
    /// <c>BEGIN EXCLUSIVE</c>, a VACUUM, a stuck backup tool): the batch waits it out once, in SQLite's busy handler, and
    /// fails closed. Before, the commit was retried three more times on SQLITE_BUSY, each retry waiting the busy timeout
    /// again: every batch held the pipeline for 20 s instead of 5 s, and every door event, alarm and fire-panel event
    /// behind it waited that long too (with a real service and four readers, swipes were answered 20 to 70 s late).
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "NIST-PE-3")]
    public async Task AnotherProcessHoldingTheLogsWriteLock_TheBatchWaitsOutTheBusyTimeoutOnce_ThenIsDeniedLogFailure_AndTheNextSwipeAfterItLetsGoIsGranted()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var reader = await edge.ReaderAsync(ReaderId);
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var attempts = 0;
        edge.Edge.Writer.BeforeAppend = () => Interlocked.Increment(ref attempts);

        DecisionMessage denied;
        int attemptsWhileLocked;
        HealthReport whileLocked;
        using (var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={edge.Edge.Database.Path};Pooling=False"))
        {
            holder.Open();
            using (var begin = holder.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                begin.ExecuteNonQuery();
            }

            denied = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(TimeSpan.FromMinutes(2));
            attemptsWhileLocked = Volatile.Read(ref attempts);
            whileLocked = EdgeHealth.Evaluate(HealthProbe.Read(edge.Edge));
        }

        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        var after = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "log_failure", 0), (denied.Grant, denied.Reason, denied.UnlockSeconds));
        Assert.Equal(1, attemptsWhileLocked);
        Assert.Equal(AlarmTypes.LogFailure, alarm.Type);
        Assert.Equal(HealthStatus.Failing, Assert.Single(whileLocked.Checks, c => c.Name == "entry-log").Status);
        Assert.True(after.Grant, after.Reason);
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Access });
        Assert.Equal(["grant", "deny", "grant"], rows.Select(r => r.Decision));
        Assert.Equal("log_failure", rows[1].Reason);
    }

    /// <summary>
    /// A monitor polls the health check to learn that the log is failing; it must get its answer while a commit waits
    /// for the disk or for another process's lock (up to the busy timeout, 5 s), not after. Before, reading the log's
    /// head took the writer's lock, so <c>GET /api/v1/health</c> took as long as the commit in progress (5 s while another
    /// process held the database's write lock, measured against the real service), and a monitor with a shorter
    /// timeout saw no answer at all.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task TheHealthCheck_IsAnsweredWhileACommitIsInProgress_WithoutWaitingForIt()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync(ReaderId);
        HealthReport? duringCommit = null;
        var answered = false;
        edge.Edge.Writer.BeforeAppend = () =>
        {
            // On the pipeline's thread, holding the writer's lock, as a commit that waits for the disk does.
            edge.Edge.Writer.BeforeAppend = null;
            var probe = Task.Run(() => EdgeHealth.Evaluate(HealthProbe.Read(edge.Edge)));
            answered = probe.Wait(EdgeHarness.Timeout); // the guard against a deadlock: before, it waited all of it
            duringCommit = answered ? probe.Result : null;
        };

        var granted = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(answered, "the health probe waited for the commit in progress");
        Assert.Equal(HealthStatus.Ok, Assert.Single(duringCommit!.Checks, c => c.Name == "entry-log").Status);
        Assert.True(granted.Grant, granted.Reason);
    }

    /// <summary>
    /// The data folder's file system went read-only after a disk error (ext4 <c>errors=remount-ro</c>): neither the log
    /// nor the outage journal can be written, so the denies of the outage are in memory only, and the operator has to
    /// stop the service to repair the disk. That stop loses them, and the entry log will never show them; the service's
    /// own log (forwarded off the host) must say so, with how many and since when. Before, the stop said nothing (seen
    /// against the real service on a loop-mounted ext4 forced read-only: 5 denies heard, none in the log after the
    /// repair and restart, no outage row, and no word about it at the stop).
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "PCI-10.7")]
    public async Task StoppingDuringAnOutage_WithRowsKeptInMemoryOnly_SaysInTheServiceLogHowManyAreLost()
    {
        var logs = new CapturingLoggerProvider();
        await using (var edge = await EdgeHarness.StartAsync(logs: logs, configure: s => s with { Pipeline = s.Pipeline with { OutageJournalBytes = 0 } }))
        {
            var reader = await edge.ReaderAsync(ReaderId);
            Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
            edge.Edge.Writer.SimulateWriteFailure(true);
            Assert.Equal("log_failure", (await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);
            Assert.Equal("log_failure", (await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);
        }

        // At least the two denies and the log_failure alarm's row (the readers' going offline at the end may add theirs).
        var stop = Assert.Single(logs.Lines, l => l.Contains("lost with this stop", StringComparison.Ordinal));
        Assert.StartsWith("Critical ", stop, StringComparison.Ordinal);
        var lost = System.Text.RegularExpressions.Regex.Match(stop, @": (\d+) rows kept during it");
        Assert.True(lost.Success && int.Parse(lost.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 3, stop);
    }

    /// <summary>
    /// The database file replaced under the running service (a restore done without stopping it, a tool that writes a
    /// new file and renames it over the old one). Before, the writer went on committing to the file it had open, which
    /// no longer had a name: swipes were granted, and their rows were missing from the log once the service stopped
    /// (seen against the real service; <c>log verify</c> then reported the log truncated). Now the writer checks before
    /// each batch that its file is still the one at its path and fails closed when it is not.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "NIST-AU-9")]
    public async Task TheDatabaseFileReplacedUnderTheRunningService_SwipesAreDeniedLogFailure_NotGrantedIntoAFileNobodyCanRead()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var reader = await edge.ReaderAsync(ReaderId);
        Assert.True((await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        var path = edge.Edge.Database.Path;
        edge.Edge.Writer.Checkpoint(); // the copy has every row so far, signed
        Storage.WalCheckpoints.Run(edge.Edge.Database);
        File.Copy(path, path + ".copy");
        File.Move(path + ".copy", path, overwrite: true);
        var afterwards = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "log_failure", 0), (afterwards.Grant, afterwards.Reason, afterwards.UnlockSeconds));
        Assert.Equal(AlarmTypes.LogFailure, alarm.Type);
        Assert.Contains("(SqliteException 8)", alarm.Detail, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Failing, Assert.Single(EdgeHealth.Evaluate(HealthProbe.Read(edge.Edge)).Checks, c => c.Name == "entry-log").Status);
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task AnUnforeseenFailureOfTheLog_FailsClosedLikeAnyOther_AndThePipelineGoesOn()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var reader = await edge.ReaderAsync("rdr-lobby-in");

        // Not a SqliteException nor an IOException: before, it ended the pipeline's thread, and no swipe was answered again.
        edge.Edge.Writer.SimulateUnexpectedFailure(new ArgumentException("a bug in building a row"));
        var denied = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        edge.Edge.Writer.SimulateUnexpectedFailure(null);
        var after = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(AlarmTypes.LogFailure, alarm.Type);
        Assert.Equal((false, "log_failure"), (denied.Grant, denied.Reason));
        Assert.True(after.Grant);
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Access });
        Assert.Equal(["deny", "grant"], rows.Select(r => r.Decision));
    }

    /// <summary>
    /// A bug in staging a request someone waits for (an admin, visitor or HR row, a device seq reset, a fire reset, the
    /// fire release sent again, a supervision tick, alarms raised from outside): the caller hears that it failed at once
    /// (before, it waited for ever, or for its HTTP request's end), nothing of it happens, and the pipeline goes on.
    /// </summary>
    [Theory]
    [InlineData("append")]
    [InlineData("seq reset")]
    [InlineData("fire reset")]
    [InlineData("fire reassert")]
    [InlineData("tick")]
    [InlineData("raise")]
    [Trait("control", "PCI-10.7")]
    public async Task AnUnforeseenFailureStagingARequest_FailsItsCaller_AndThePipelineGoesOn(string request)
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync(ReaderId);
        var pipeline = edge.Edge.Pipeline;
        var kind = request switch
        {
            "append" => "Append",
            "seq reset" => "SeqReset",
            "fire reset" => "FireReset",
            "fire reassert" => "FireReassert",
            _ => "Tick",
        };

        pipeline.SimulateStagingFailure(kind, new ArgumentException("a bug in staging " + request));
        Task asked = request switch
        {
            "append" => pipeline.AppendAsync(new LogEntry { At = edge.Clock.GetCurrentInstant(), Kind = LogKinds.Admin, Reason = "test.change", Actor = "op-test" }),
            // Had it taken effect, the reader's next event (a seq far below) would be refused as a replay.
            "seq reset" => pipeline.ResetDeviceSeqAsync("readers/" + ReaderId, 1_000_000, "op-test"),
            "fire reset" => pipeline.ResetFireAsync("op-test", force: true),
            "fire reassert" => pipeline.ReassertFireReleaseAsync(),
            "tick" => pipeline.TickAsync(),
            _ => pipeline.RaiseAsync([new global::AccessControl.Supervision.Alarm(AlarmTypes.VisitorBadgeNotReturned, "demo", null, null, "test: a badge not returned")]),
        };
        var failure = await Assert.ThrowsAsync<PipelineItemFailedException>(() => asked.WaitAsync(EdgeHarness.Timeout));
        pipeline.SimulateStagingFailure(kind, null);
        var after = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.IsType<ArgumentException>(failure.InnerException);
        Assert.True(after.Grant, after.Reason);
        Assert.Equal(["grant"], edge.Rows(new LogFilter { Kind = LogKinds.Access }).Select(r => r.Decision));
        Assert.DoesNotContain(edge.Rows(new LogFilter { Kind = LogKinds.Admin }), r => r.Reason is "test.change" or "device_seq_reset");
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.VisitorBadgeNotReturned }));
    }

    /// <summary>Over the API, such a failure is a 5xx answer in the problem shape (the CLI exits non-zero on it), never a hang.</summary>
    [Fact]
    [Trait("control", "PCI-10.7")]
    public async Task AnUnforeseenFailureStagingARequest_IsAnswered5xxInTheProblemShape_OverTheApi()
    {
        await using var edge = await EdgeHarness.StartAsync();
        TestPeople.Add(edge.Edge.Database, "p-ops-admin");
        using var http = new HttpClient { BaseAddress = edge.Host.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            new ApiTokens(edge.Edge.Database, edge.Clock).CreateToken("ops-admin", OperatorRole.Admin, "test", "p-ops-admin"));
        var pipeline = edge.Edge.Pipeline;

        async Task<HttpResponseMessage> FailingAsync(string kind, Func<Task<HttpResponseMessage>> send)
        {
            pipeline.SimulateStagingFailure(kind, new ArgumentException("a bug in staging " + kind));
            try
            {
                return await send().WaitAsync(EdgeHarness.Timeout);
            }
            finally
            {
                pipeline.SimulateStagingFailure(kind, null);
            }
        }

        using var seqReset = await FailingAsync("SeqReset", () => http.PostAsync($"api/v1/devices/readers/{ReaderId}/seq-reset?baseline=7", null));
        using var fireReset = await FailingAsync("FireReset", () => http.PostAsync("api/v1/fire/reset?force=true", null));
        using var terminate = await FailingAsync("Append", () => http.PostAsJsonAsync("api/v1/people/p-jweber/status", new { status = "terminated" }));

        Assert.Equal((HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.ServiceUnavailable),
            (seqReset.StatusCode, fireReset.StatusCode, terminate.StatusCode));
        foreach (var response in new[] { seqReset, fireReset, terminate })
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }

        Assert.Contains("the baseline is unchanged", await seqReset.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("nothing was relocked", await fireReset.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain(edge.Rows(new LogFilter { Kind = LogKinds.Admin }), r => r.Reason is "device_seq_reset" or "person.terminate");
    }

    /// <summary>
    /// A bug in deciding a reader's event: the event is logged as malformed and the reader hears deny under its own
    /// eventId (before, the deny carried no eventId, so the reader matched it to nothing and went on waiting).
    /// </summary>
    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-10.7")]
    public async Task AnUnforeseenFailureDecidingASwipe_IsAnsweredDenyUnderItsEventId_AndThePipelineGoesOn()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync(ReaderId);

        edge.Edge.Pipeline.SimulateStagingFailure("ReaderEvent", new ArgumentException("a bug in deciding"));
        var swipe = reader.PresentCard(Operator, Ev3);
        var denied = await swipe.Decision.WaitAsync(EdgeHarness.Timeout);
        edge.Edge.Pipeline.SimulateStagingFailure("ReaderEvent", null);
        var after = await reader.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "malformed_event", 0), (denied.Grant, denied.Reason, denied.UnlockSeconds));
        Assert.True(after.Grant, after.Reason);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Malformed }));
        Assert.Equal(("deny", "readers/" + ReaderId, swipe.EventId), (row.Decision, row.Source, row.EventId));
        Assert.Contains("internal error", row.Detail, StringComparison.Ordinal);
        Assert.Equal(["grant"], edge.Rows(new LogFilter { Kind = LogKinds.Access }).Select(r => r.Decision));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task AServiceThatDiedAfterLoggingAnOutagesRows_ButBeforeEmptyingItsJournal_DoesNotLogThemTwice()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-outage-" + Guid.NewGuid().ToString("N")[..12]);
        var journal = Path.Combine(directory, global::AccessControl.Events.OutageJournal.FileName);
        try
        {
            byte[] duringOutage;
            await using (var edge = await EdgeHarness.StartAsync(directory: directory))
            {
                var lobby = await edge.ReaderAsync("rdr-lobby-in");
                Assert.True((await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
                edge.Edge.Writer.SimulateWriteFailure(true);
                Assert.Equal("log_failure", (await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);

                // The deny was on disk before the reader heard it.
                duringOutage = await File.ReadAllBytesAsync(journal);
                edge.Edge.Writer.SimulateWriteFailure(false);
                Assert.True((await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
            }

            // As if the service had died between the commit of the outage's rows and the emptying of its journal.
            await File.WriteAllBytesAsync(journal, duringOutage);
            await using (var again = await EdgeHarness.StartAsync(directory: directory))
            {
                // A supervision tick writes any rows taken back from a journal, even on a quiet site.
                await again.TickAsync();

                var access = again.Rows(new LogFilter { Kind = LogKinds.Access });
                Assert.Equal(["grant", "deny", "grant"], access.Select(r => r.Decision));
                Assert.Single(again.Rows(new LogFilter { Kind = LogKinds.Integrity, Reason = "outage" }));
                Assert.Single(again.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.LogFailure }));
                Assert.True(again.Edge.Pipeline.LogState.OutageSince is null);
            }

            Assert.Null(global::AccessControl.Events.OutageJournal.Peek(journal).Outage);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public async Task ALongLogOutage_RaisesOneLogFailureAlarmAMinute_NotOnePerSwipe_AndEachIsLoggedWhenTheLogRecovers()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var alarms = await edge.AlarmsAsync();
        var raw = await edge.RawClientAsync(ReaderId);
        var decisions = await edge.DecisionsAsync(raw, ReaderId);
        var now = edge.Clock.GetCurrentInstant();

        edge.Edge.Writer.SimulateWriteFailure(true);
        for (var i = 1; i <= 3; i++)
        {
            await SendAsync(edge, raw, decisions, new ReaderEvent($"out-{i}", i, now, ReaderEventType.Card, Operator, Ev3, false, null));
        }

        edge.Clock.Advance(Duration.FromMinutes(2));
        await SendAsync(edge, raw, decisions, new ReaderEvent("out-4", 4, now + Duration.FromMinutes(2), ReaderEventType.Card, Operator, Ev3, false, null));
        var first = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        var second = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        edge.Edge.Writer.SimulateWriteFailure(false);
        var recovered = await SendAsync(edge, raw, decisions, new ReaderEvent("after", 5, now + Duration.FromMinutes(2), ReaderEventType.Card, Operator, Ev3, false, null));

        // Alarms keep their order: had the second or third swipe raised one, it would have come before the fourth's.
        Assert.Equal((AlarmTypes.LogFailure, AlarmTypes.LogFailure), (first.Type, second.Type));
        Assert.Equal(now + Duration.FromMinutes(2), second.At);
        Assert.Contains("1 events answered deny/log_failure in this batch", second.Detail, StringComparison.Ordinal);
        Assert.True(recovered.Grant);
        var logged = edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.LogFailure });
        Assert.Equal([first.AlarmId, second.AlarmId], logged.Select(r => JsonDocument.Parse(r.Detail!).RootElement.GetProperty("alarmId").GetString()));
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "PCI-10.2")]
    public async Task AfterAnOutage_AQuietSiteLogsWhatItKept_AtTheNextSupervisionTick_WithoutWaitingForAnEvent()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var raw = await edge.RawClientAsync(ReaderId);
        var decisions = await edge.DecisionsAsync(raw, ReaderId);
        var now = edge.Clock.GetCurrentInstant();

        edge.Edge.Writer.SimulateWriteFailure(true);
        var denied = await SendAsync(edge, raw, decisions, new ReaderEvent("quiet-1", 1, now, ReaderEventType.Card, Operator, Ev3, false, null));
        await edge.TickAsync(); // the disk still refuses: the rows stay kept
        var during = edge.Edge.Pipeline.LogState;
        edge.Edge.Writer.SimulateWriteFailure(false);
        await edge.TickAsync(); // the disk is back; no event comes

        Assert.Equal("log_failure", denied.Reason);
        Assert.NotNull(during.OutageSince);
        Assert.True(during.RowsKept >= 1);
        // Before, the kept rows waited in memory for the site's next event (and the health check said failing).
        Assert.Null(edge.Edge.Pipeline.LogState.OutageSince);
        var rows = edge.Rows(new LogFilter { Limit = 1000 });
        Assert.Single(rows, r => r.Kind == LogKinds.Integrity && r.Reason == "outage");
        Assert.Equal(("deny", "log_failure"), rows.Where(r => r.EventId == "quiet-1").Select(r => (r.Decision, r.Reason)).Single());
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "PCI-10.2")]
    public async Task EventsAnsweredWhileTheLogWasUnwritable_AreLoggedOnceWhenItRecovers_BehindAnOutageRow()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var raw = await edge.RawClientAsync(ReaderId);
        var decisions = await edge.DecisionsAsync(raw, ReaderId);
        var now = edge.Clock.GetCurrentInstant();

        edge.Edge.Writer.SimulateWriteFailure(true);
        var first = await SendAsync(edge, raw, decisions, new ReaderEvent("during-1", 1, now, ReaderEventType.Card, Operator, Ev3, false, null));
        var redelivered = await SendAsync(edge, raw, decisions, new ReaderEvent("during-1", 1, now, ReaderEventType.Card, Operator, Ev3, false, null));
        var unknown = await SendAsync(edge, raw, decisions, new ReaderEvent("during-2", 2, now, ReaderEventType.Card, "04DEADBEEF0001", Ev3, false, null));
        edge.Edge.Writer.SimulateWriteFailure(false);
        var recovered = await SendAsync(edge, raw, decisions, new ReaderEvent("after-1", 3, now, ReaderEventType.Card, Operator, Ev3, false, null));
        var redeliveredAfter = await SendAsync(edge, raw, decisions, new ReaderEvent("during-1", 1, now, ReaderEventType.Card, Operator, Ev3, false, null));

        Assert.Equal(("deny", "log_failure"), (first.Grant ? "grant" : "deny", first.Reason));
        Assert.Equal(first.Reason, redelivered.Reason);
        Assert.Equal("log_failure", unknown.Reason);
        Assert.True(recovered.Grant);
        Assert.Equal(("deny", "log_failure"), (redeliveredAfter.Grant ? "grant" : "deny", redeliveredAfter.Reason));

        var rows = edge.Rows(new LogFilter { Limit = 1000 }).Where(r => r.Kind is LogKinds.Access or LogKinds.Integrity).ToList();
        var outage = Assert.Single(rows, r => r.Kind == LogKinds.Integrity && r.Reason == "outage");
        Assert.Contains("\"rows\":3", outage.Detail, StringComparison.Ordinal);    // the two swipes and the log_failure alarm
        Assert.Contains("\"lost\":0", outage.Detail, StringComparison.Ordinal);
        Assert.Equal(["during-1", "during-2", "after-1"], rows.Where(r => r.Kind == LogKinds.Access).Select(r => r.EventId));
        var late = rows.Single(r => r.EventId == "during-1");
        Assert.True(late.Seq > outage.Seq);
        Assert.Equal(("deny", "log_failure", 0), (late.Decision, late.Reason, late.UnlockSeconds));
        Assert.Contains("\"loggedLate\":true", late.Detail, StringComparison.Ordinal);
        Assert.Contains("\"decided\":\"grant/granted\"", late.Detail, StringComparison.Ordinal);
        Assert.Equal(now, late.At);
        Assert.Contains("\"decided\":\"deny/unknown_credential\"", rows.Single(r => r.EventId == "during-2").Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-IA-3")]
    [Trait("control", "NIST-AU-2")]
    public async Task UnknownClientAndWrongTopic_AreRefusedByTheBrokerAndLoggedAsSecurityEvents()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var intruder = new MQTTnet.MqttClientFactory().CreateMqttClient();
        var refused = await intruder.ConnectAsync(new MQTTnet.MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", edge.BrokerPort)
            .WithClientId("rdr-ghost").WithCredentials("rdr-ghost", "guess").Build());
        var reader = await edge.RawClientAsync("rdr-lobby-in");
        await reader.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-dh1-in"))
            .WithPayload("{}").WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

        Assert.NotEqual(MQTTnet.MqttClientConnectResultCode.Success, refused.ResultCode);
        var connect = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == "connect_refused");
        Assert.Equal("rdr-ghost", connect.Actor);
        Assert.DoesNotContain("guess", connect.Detail);
        var publish = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == "publish_refused");
        Assert.Equal("rdr-lobby-in", publish.Actor);
        Assert.Empty(edge.Rows(new LogFilter { ReaderId = "rdr-dh1-in" }));
        intruder.Dispose();
    }

    private static async Task<DecisionMessage> SendAsync(EdgeHarness edge, IMqttClient raw, System.Threading.Channels.Channel<DecisionMessage> decisions, ReaderEvent e)
    {
        await raw.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents(ReaderId))
            .WithPayload(WireFormat.Write(e)).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
    }
}

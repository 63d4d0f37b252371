using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Sites;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>What the service knows from before a restart: rebuilt from the entry log on the same data folder.</summary>
public class RestartTests
{
    [Fact]
    [Trait("control", "PCI-8.3.4")]
    [Trait("control", "NIST-PE-3")]
    public async Task AFingerprintLockout_HoldsAcrossARestart_UntilItEnds()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await using (var before = await EdgeHarness.StartAsync(directory: directory))
        {
            var card = await RawReader.ConnectAsync(before, "rdr-sr1-in");
            var finger = await RawReader.ConnectAsync(before, EdgeHarness.DemoFingerprintReader);
            for (var attempt = 0; attempt < 3; attempt++)
            {
                await card.CardAsync(Operator);
                Assert.True((await card.NextDecisionAsync()).Pending);
                var verify = await finger.NextCommandAsync();
                await finger.FingerprintAsync(verify.RequestId, 5);
                Assert.Equal("fingerprint_mismatch", (await card.NextDecisionAsync()).Reason);
            }

            var alarm = await before.AlarmRowAsync(global::AccessControl.Protocol.AlarmTypes.FingerprintFailures);
            Assert.Equal((Operator, "p-mkoch"), (alarm.Card, alarm.PersonId));
        }

        var restartedAt = EdgeHarness.BusinessHours + Duration.FromMinutes(1);
        await using var after = await EdgeHarness.StartAsync(now: restartedAt, directory: directory);
        var lobby = await after.ReaderAsync("rdr-lobby-in");

        var locked = await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        after.Clock.Advance(Duration.FromMinutes(5));
        var unlocked = await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "fingerprint_lockout"), (locked.Grant, locked.Reason));
        Assert.True(unlocked.Grant);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.2")]
    public async Task HardAntiPassback_HoldsAcrossARestart_TheCardInsideIsNotPassedBackIn()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await EnterTheDataHallAsync(directory);

        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: directory);
        var again = await after.ReaderAsync("rdr-dh1-in");
        var exit = await after.ReaderAsync("rdr-dh1-out");

        var passedBack = await again.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        var back = await again.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "anti_passback"), (passedBack.Grant, passedBack.Reason));
        Assert.True(leaving.Grant);
        Assert.True(back.Grant);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.2")]
    public async Task HardAntiPassback_HoldsAcrossASiteFileThatMovesTheEntryReaderToAnotherDoor()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await EnterTheDataHallAsync(directory);

        // The data hall's entry reader goes to the lobby door; a new one takes its place at the data hall.
        var moved = SiteFileMovingEntryReader(directory, "rdr-dh1-in", "door-dh1", "door-lobby");
        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: directory,
            configure: s => s with { SiteFile = moved });
        Assert.Equal(new DoorId("door-lobby"), after.Edge.Configuration.Topology.Readers[new ReaderId("rdr-dh1-in")].Door);
        var newEntry = await after.ReaderAsync("rdr-dh1-in-2");

        // The log says the card went into the data hall (through door-dh1), whichever door its reader is on now.
        var passedBack = await newEntry.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "anti_passback"), (passedBack.Grant, passedBack.Reason));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public async Task HardAntiPassback_AfterLeavingTheSiteThroughAnEmergencyExitOutOfANestedZone_ARestartStillKnowsTheBuildingWasLeft()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var site = SiteFileWithDataHallEmergencyExit(directory);
        await using (var before = await EdgeHarness.StartAsync(directory: directory, configure: s => s with { SiteFile = site }))
        {
            foreach (var reader in new[] { "rdr-lobby-in", "rdr-dh1-in", "rdr-dh1-exit-out" })
            {
                var swipe = await before.ReaderAsync(reader);
                var decision = await swipe.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
                Assert.True(decision.Grant, $"{reader}: {decision.Reason}");
            }
        }

        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: directory,
            configure: s => s with { SiteFile = site });
        var lobby = await after.ReaderAsync("rdr-lobby-in");

        var back = await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(back.Grant, back.Reason);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public async Task ALogIndexThatCannotBeWritten_DoesNotStopTheService_SwipesAreDecidedAndFoundInTheLog()
    {
        using var folder = new DataFolder();
        var inTheWay = Path.Combine(folder.Path, "accesscontrol.index.db");
        Directory.CreateDirectory(inTheWay); // a directory where the index file should be: it cannot be opened

        await using var edge = await EdgeHarness.StartAsync(directory: folder.Path);
        var lobby = await edge.ReaderAsync("rdr-lobby-in");
        var decision = await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(inTheWay, edge.Edge.Index.Path);
        Assert.True(decision.Grant);
        Assert.Single(edge.Rows(new() { ReaderId = "rdr-lobby-in", Decision = "grant", From = EdgeHarness.BusinessHours - Duration.FromHours(1) }));
        using var log = global::AccessControl.EntryLog.LogSnapshot.Open(edge.Edge.Database);
        Assert.False(log.Indexed);
    }

    [Theory]
    [InlineData("deleted")]
    [InlineData("damaged")]
    [InlineData("behind")]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.2")]
    public async Task TheHistoryHoldsAcrossARestart_WhateverStateTheLogIndexIsIn_AndTheIndexIsUpToDateOnceStarted(string state)
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        string indexPath;
        byte[] stale;
        await using (var before = await EdgeHarness.StartAsync(directory: directory))
        {
            indexPath = before.Edge.Index.Path;
            var lobby = await before.ReaderAsync("rdr-lobby-in");
            Assert.True((await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
            before.Edge.Index.CatchUp();
            using (var index = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={indexPath};Pooling=False"))
            {
                index.Open();
                using var checkpoint = index.CreateCommand();
                checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)"; // the whole index in its file, so that the copy is a usable one
                checkpoint.ExecuteNonQuery();
            }

            stale = File.ReadAllBytes(indexPath); // after start-up and the lobby, before the data hall
            var entry = await before.ReaderAsync("rdr-dh1-in");
            Assert.True((await entry.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(indexPath + "-wal");
        File.Delete(indexPath + "-shm");
        switch (state)
        {
            case "deleted":
                File.Delete(indexPath);
                break;
            case "damaged":
                File.WriteAllBytes(indexPath, [.. Enumerable.Repeat((byte)0xA5, stale.Length)]);
                break;
            default:
                File.WriteAllBytes(indexPath, stale);
                break;
        }

        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: directory);
        var again = await after.ReaderAsync("rdr-dh1-in");
        var passedBack = await again.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((false, "anti_passback"), (passedBack.Grant, passedBack.Reason));
        using var log = global::AccessControl.EntryLog.LogSnapshot.Open(after.Edge.Database);
        Assert.True(log.Indexed);
        var entered = after.Rows(new() { ReaderId = "rdr-dh1-in", Decision = "grant", From = EdgeHarness.BusinessHours - Duration.FromHours(1) });
        Assert.Single(entered);
        Assert.True(log.Watermark >= entered[0].Seq, $"index watermark {log.Watermark}, data-hall grant at row {entered[0].Seq}");
    }

    /// <summary>
    /// A log index to build again (an upgrade of its schema, a restore without it) is built in the background: the start
    /// reads its history from the log itself and takes swipes at once, and the history holds, while the build is held
    /// back (<c>ServiceSettings.BeforeLogMaintenance</c>); then the build finishes and the index matches the log.
    /// </summary>
    [Theory]
    [InlineData("older-schema")]
    [InlineData("deleted")]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NIST-SC-23")]
    [Trait("control", "PCI-9.2")]
    public async Task ALogIndexToRebuild_IsBuiltInTheBackground_SwipesAreDecidedWithTheWholeHistoryBeforeItIsDone(string state)
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        string indexPath;
        DecisionMessage entered;
        await using (var before = await EdgeHarness.StartAsync(directory: directory))
        {
            indexPath = before.Edge.Index.Path;
            var (raw, decisions) = await DataHallEntryAsync(before);
            entered = await SendAsync(before, raw, decisions, CardEvent("into-the-hall", 100, before.Clock.GetCurrentInstant()));
            Assert.True(entered.Grant);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (state == "deleted")
        {
            File.Delete(indexPath);
        }
        else
        {
            using var index = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={indexPath};Pooling=False");
            index.Open();
            using var downgrade = index.CreateCommand();
            downgrade.CommandText = "UPDATE index_meta SET schema_version = schema_version - 1";
            downgrade.ExecuteNonQuery();
        }

        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var logs = new CapturingLoggerProvider();
        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromHours(1), directory: directory, logs: logs,
            configure: s => s with { IndexStartCatchUpRows = 0, BeforeLogMaintenance = ct => gate.Task.WaitAsync(ct) });
        var (again, answers) = await DataHallEntryAsync(after);
        var now = after.Clock.GetCurrentInstant();

        var redelivered = await SendAsync(after, again, answers, CardEvent("into-the-hall", 100, now));
        var passedBack = await SendAsync(after, again, answers, CardEvent("into-the-hall-again", 101, now));
        var replayed = await SendAsync(after, again, answers, CardEvent("its-seq-used-before-the-restart", 100, now));

        Assert.False(after.Edge.IndexBuilt.IsCompleted);
        using (var unbuilt = global::AccessControl.EntryLog.LogSnapshot.Open(after.Edge.Database))
        {
            Assert.False(unbuilt.Indexed);
        }

        Assert.Equal((entered.EventId, entered.Grant, entered.Reason), (redelivered.EventId, redelivered.Grant, redelivered.Reason));
        Assert.Equal((false, "anti_passback"), (passedBack.Grant, passedBack.Reason));
        Assert.Equal((false, "replay_suspected"), (replayed.Grant, replayed.Reason));
        Assert.Contains(logs.Lines, line => line.Contains($"Log index {indexPath} is being rebuilt in the background (", StringComparison.Ordinal)
            && line.Contains("queries are slower until it is done", StringComparison.Ordinal));

        gate.SetResult();
        await after.Edge.IndexBuilt.WaitAsync(EdgeHarness.Timeout);

        var check = after.Edge.Index.Check();
        Assert.NotNull(check);
        Assert.Equal(0, check.Differing);
        var head = after.Rows(new() { Limit = 1 }).Single().Seq;
        Assert.True(check.Watermark >= head, $"index watermark {check.Watermark}, log head {head} when the build was done");
        Assert.Contains(logs.Lines, line => line.Contains($"Log index {indexPath} is built: ", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task AVisitorEscortedInBeforeARestart_IsStillKnownInside_SoTheEscortLeavingAloneRaisesVisitorUnescorted()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await EscortTheVisitorIntoTheServerRoomAsync(directory);

        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromMinutes(30), directory: directory);
        var alarms = await after.AlarmsAsync();
        var exit = await after.ReaderAsync("rdr-sr1-out");

        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(leaving.Grant);
        var alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        while (alarm.Type != AlarmTypes.VisitorUnescorted)
        {
            alarm = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        }

        Assert.Contains("v-ewagner", alarm.Detail, StringComparison.Ordinal);
        Assert.Contains("p-mkoch", alarm.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task EscortOccupancy_HoldsAcrossASiteFileThatMovesTheEntryReaderToAnotherDoor_TheEscortLeavingAloneRaisesVisitorUnescorted()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await EscortTheVisitorIntoTheServerRoomAsync(directory);

        // The server room's entry reader goes to the data hall door; a new one takes its place at the server room.
        var moved = SiteFileMovingEntryReader(directory, "rdr-sr1-in", "door-sr1", "door-dh1");
        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromMinutes(30), directory: directory,
            configure: s => s with { SiteFile = moved });
        Assert.Equal(new DoorId("door-dh1"), after.Edge.Configuration.Topology.Readers[new ReaderId("rdr-sr1-in")].Door);
        var exit = await after.ReaderAsync("rdr-sr1-out");

        // The log says the visitor went into the server room (through door-sr1) behind the operator, who now leaves alone.
        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(leaving.Grant);
        var alarm = Assert.Single(after.Rows(new() { Kind = global::AccessControl.EntryLog.LogKinds.Alarm, Reason = AlarmTypes.VisitorUnescorted }));
        Assert.Equal("door-sr1", alarm.DoorId);
        Assert.Contains("v-ewagner", alarm.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task AnEscortLeavingTheSiteThroughTheServerRoomsEmergencyExit_AfterARestart_RaisesVisitorUnescortedForTheVisitorLeftInTheDataHall()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var site = SiteFileWithServerRoomEmergencyExit(directory);
        await using (var before = await EdgeHarness.StartAsync(directory: directory, configure: s => s with { SiteFile = site }))
        {
            var hall = await before.ReaderAsync("rdr-dh1-in");
            Assert.True((await hall.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
            Assert.True((await hall.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);  // behind the operator
            await before.PresentCardAndFingerAsync(await before.ReaderAsync("rdr-sr1-in"), Operator);        // the visitor stays in the hall
        }

        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromMinutes(30), directory: directory,
            configure: s => s with { SiteFile = site });
        var exit = await after.ReaderAsync("rdr-sr1-exit-out");

        // Out of the server room, straight out of the site: out of the data hall around it too.
        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(leaving.Grant, leaving.Reason);
        var alarm = Assert.Single(after.Rows(new() { Kind = LogKinds.Alarm, Reason = AlarmTypes.VisitorUnescorted }));
        Assert.Equal("door-sr1-exit", alarm.DoorId);
        Assert.Equal("v-ewagner", alarm.PersonId);
        Assert.Contains("is still inside demo-dh1", alarm.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task AnEscortLeavingTheSiteThroughTheServerRoomsEmergencyExit_RaisesOneVisitorUnescortedPerVisitor_NamingTheServerRoom()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        var site = SiteFileWithServerRoomEmergencyExit(directory);
        await using var edge = await EdgeHarness.StartAsync(directory: directory, configure: s => s with { SiteFile = site });
        var hall = await edge.ReaderAsync("rdr-dh1-in");
        var room = await edge.ReaderAsync("rdr-sr1-in");
        Assert.True((await hall.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        Assert.True((await hall.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        await edge.PresentCardAndFingerAsync(room, Operator);
        Assert.True((await room.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);

        // The visitor is in the server room, and so in the data hall, both behind the operator, who leaves the site.
        var leaving = await (await edge.ReaderAsync("rdr-sr1-exit-out")).PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(leaving.Grant, leaving.Reason);
        var alarm = Assert.Single(edge.Rows(new() { Kind = LogKinds.Alarm, Reason = AlarmTypes.VisitorUnescorted }));
        Assert.Equal("v-ewagner", alarm.PersonId);
        Assert.Contains("is still inside demo-sr1", alarm.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public async Task EscortOccupancy_IsRebuiltOnlyFromTheLastDay_AndFromLiveGrants()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await using (var before = await EdgeHarness.StartAsync(directory: directory))
        {
            var entry = await before.ReaderAsync("rdr-sr1-in");
            var exit = await before.ReaderAsync("rdr-sr1-out");
            await before.PresentCardAndFingerAsync(entry, Operator);
            await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);
            await exit.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);
            var topology = before.Edge.Configuration.Topology;
            var now = before.Clock.GetCurrentInstant();

            var recent = global::AccessControl.Events.EscortHistory.Load(before.Edge.Database, topology, now - Duration.FromHours(24), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            var tooOld = global::AccessControl.Events.EscortHistory.Load(before.Edge.Database, topology, now + Duration.FromMinutes(1), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

            var serverRoom = new ZoneId("demo-sr1");
            Assert.True(recent.IsInside(new PersonId("p-mkoch"), serverRoom));
            Assert.False(recent.IsInside(new PersonId("v-ewagner"), serverRoom)); // went out again
            Assert.Empty(tooOld.Inside(serverRoom));
        }
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ADoorLeftOpenAcrossARestart_IsReportedHeldOpenAfterTheStart_AndOneReportedBeforeIsNotReportedAgain()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await using (var before = await EdgeHarness.StartAsync(directory: directory))
        {
            var hall = await before.ControllerAsync("ctl-dh1", ["door-dh1"]);
            var room = await before.ControllerAsync("ctl-sr1", ["door-sr1"]);
            await hall.HoldOpenAsync("door-dh1").WaitAsync(EdgeHarness.Timeout);
            await before.RowAsync(r => r.Kind == LogKinds.Door && r.DoorId == "door-dh1" && r.Reason == "opened");
            before.Clock.Advance(Duration.FromSeconds(31));
            await before.TickAsync();
            await before.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DoorHeldOpen && r.DoorId == "door-dh1");
            await room.HoldOpenAsync("door-sr1").WaitAsync(EdgeHarness.Timeout);
            await before.RowAsync(r => r.Kind == LogKinds.Door && r.DoorId == "door-sr1" && r.Reason == "opened");
        }

        // Restarted ten seconds later; neither door has closed since.
        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromSeconds(41), directory: directory);
        await after.TickAsync();
        after.Clock.Advance(Duration.FromSeconds(30));
        await after.TickAsync();
        Assert.Empty(after.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorHeldOpen, DoorId = "door-sr1" }));

        after.Clock.Advance(Duration.FromSeconds(1));
        await after.TickAsync();

        var held = await after.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.DoorHeldOpen && r.DoorId == "door-sr1");
        Assert.Contains("open when the service stopped", held.Detail, StringComparison.Ordinal);
        Assert.Single(after.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.DoorHeldOpen, DoorId = "door-dh1" }));
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task ADoorsPositionRebuiltAtAStart_FollowsTheSeq_ALateClosedLoggedBeforeTheRestartDoesNotCloseIt()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await using (var before = await EdgeHarness.StartAsync(directory: directory))
        {
            var controller = await before.RawClientAsync("ctl-dh1");
            var now = before.Clock.GetCurrentInstant();
            await DoorEventTimingTests.PublishAsync(before, controller, new DoorEvent("exit-1", 1, now, DoorEventType.ExitRequest, false));
            await DoorEventTimingTests.PublishAsync(before, controller, new DoorEvent("open-1", 2, now, DoorEventType.Opened, false));
            await DoorEventTimingTests.PublishAsync(before, controller, new DoorEvent("exit-2", 4, now, DoorEventType.ExitRequest, false));
            await DoorEventTimingTests.PublishAsync(before, controller, new DoorEvent("open-2", 5, now, DoorEventType.Opened, false));
            await DoorEventTimingTests.PublishAsync(before, controller, new DoorEvent("close-1", 3, now, DoorEventType.Closed, false));
        }

        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromSeconds(5), directory: directory);
        after.Clock.Advance(Duration.FromSeconds(31));
        await after.TickAsync();

        var held = await after.AlarmRowAsync(AlarmTypes.DoorHeldOpen);
        Assert.Equal("door-dh1", held.DoorId);
    }

    [Fact]
    [Trait("control", "NIST-PE-6")]
    public async Task AReaderOfflineAcrossARestart_IsStillKnownOffline_AndItsReturnRaisesReaderOnline()
    {
        using var folder = new DataFolder();
        var directory = folder.Path;
        await using (var before = await EdgeHarness.StartAsync(directory: directory))
        {
            var reader = await before.ReaderAsync("rdr-lobby-in");
            await before.RowAsync(r => r.Kind == LogKinds.Device && r.ReaderId == "rdr-lobby-in" && r.Reason == "online");
            await reader.DropConnectionAsync();
            await before.AlarmRowAsync(AlarmTypes.ReaderOffline);
        }

        await using var after = await EdgeHarness.StartAsync(now: EdgeHarness.BusinessHours + Duration.FromMinutes(1), directory: directory);
        await after.TickAsync();
        Assert.Equal(1, after.Edge.Pipeline.ReadersOffline);

        await after.ReaderAsync("rdr-lobby-in");

        var online = await after.RowAsync(r => r.Kind == LogKinds.Alarm && r.Reason == AlarmTypes.ReaderOnline && r.ReaderId == "rdr-lobby-in");
        Assert.Equal("door-lobby", online.DoorId);
        await after.TickAsync();
        Assert.Equal(0, after.Edge.Pipeline.ReadersOffline);
    }

    [Fact]
    [Trait("control", "NIST-AU-8")]
    public async Task TheServiceClockJumpingBackOrForward_RaisesClockAnomaly_AndSwipesAreStillDecided()
    {
        await using var edge = await EdgeHarness.StartAsync(configure: s => s with { Pipeline = s.Pipeline with { ClockJumpThreshold = TimeSpan.FromMinutes(1) } });
        var alarms = await edge.AlarmsAsync();
        var lobby = await edge.ReaderAsync("rdr-lobby-in");

        await edge.TickAsync();
        edge.Clock.Advance(Duration.FromSeconds(20));
        await edge.TickAsync(); // within the threshold: no alarm
        edge.Clock.Advance(Duration.FromMinutes(-4));
        await edge.TickAsync();
        var back = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        edge.Clock.Advance(Duration.FromMinutes(7));
        await edge.TickAsync();
        var forward = await alarms.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
        var swipe = await lobby.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((global::AccessControl.Protocol.AlarmTypes.ClockAnomaly, global::AccessControl.Protocol.AlarmTypes.ClockAnomaly), (back.Type, forward.Type));
        Assert.Contains("back by 2", back.Detail, StringComparison.Ordinal);
        Assert.Contains("forward by 4", forward.Detail, StringComparison.Ordinal);
        Assert.Equal(2, edge.Rows(new global::AccessControl.EntryLog.LogFilter { Kind = global::AccessControl.EntryLog.LogKinds.Alarm, Reason = global::AccessControl.Protocol.AlarmTypes.ClockAnomaly }).Count);
        Assert.True(swipe.Grant);
    }

    /// <summary>
    /// The demo site with Building A under hard anti-passback and an emergency exit on the site perimeter straight out of
    /// data hall 1 (a card reader facing out, as hard anti-passback needs), written to <paramref name="directory"/>.
    /// </summary>
    private static string SiteFileWithDataHallEmergencyExit(string directory)
    {
        var site = Path.Combine(directory, "demo-emergency-exit.yaml");
        var text = File.ReadAllText(EdgeHarness.DemoSiteFile)
            .Replace("    antiPassback: soft ", "    antiPassback: hard ", StringComparison.Ordinal)
            .Replace("  - { id: ctl-sr1,", "  - { id: ctl-dh1-exit, name: Data hall 1 emergency exit controller }\n  - { id: ctl-sr1,", StringComparison.Ordinal)
            .Replace("  - id: door-sr1\n", "  - { id: door-dh1-exit, name: Data hall 1 emergency exit, to: demo-dh1, controller: ctl-dh1-exit }\n\n  - id: door-sr1\n", StringComparison.Ordinal)
            .Replace("  - { id: rdr-sr1-in,", "  - { id: rdr-dh1-exit-out, type: card, door: door-dh1-exit, direction: out }\n  - { id: rdr-sr1-in,", StringComparison.Ordinal);
        Assert.Contains("rdr-dh1-exit-out", text, StringComparison.Ordinal);
        Assert.Contains("door-dh1-exit,", text, StringComparison.Ordinal);
        File.WriteAllText(site, text);
        return site;
    }

    /// <summary>
    /// The demo site with data hall 1 escort-required (around the escort-required server room) and an emergency exit on
    /// the site perimeter straight out of server room 1 (a card reader facing out only, as the site file allows for a
    /// two-factor zone), written to <paramref name="directory"/>.
    /// </summary>
    private static string SiteFileWithServerRoomEmergencyExit(string directory)
    {
        var site = Path.Combine(directory, "demo-sr1-emergency-exit.yaml");
        var text = File.ReadAllText(EdgeHarness.DemoSiteFile)
            .Replace("    antiPassback: hard          # passing a card back through the mantrap is denied\n", "    antiPassback: hard\n    escortRequired: true\n", StringComparison.Ordinal)
            .Replace("  - { id: ctl-sr1,", "  - { id: ctl-sr1-exit, name: Server room 1 emergency exit controller }\n  - { id: ctl-sr1,", StringComparison.Ordinal)
            .Replace("  - id: door-sr1\n", "  - { id: door-sr1-exit, name: Server room 1 emergency exit, to: demo-sr1, controller: ctl-sr1-exit }\n\n  - id: door-sr1\n", StringComparison.Ordinal)
            .Replace("  - { id: rdr-sr1-in,", "  - { id: rdr-sr1-exit-out, type: card, door: door-sr1-exit, direction: out }\n  - { id: rdr-sr1-in,", StringComparison.Ordinal);
        Assert.Contains("    escortRequired: true\n    technologies: [desfire-ev3, desfire-ev2]   # clonable", text, StringComparison.Ordinal);
        Assert.Contains("rdr-sr1-exit-out", text, StringComparison.Ordinal);
        Assert.Contains("door-sr1-exit,", text, StringComparison.Ordinal);
        File.WriteAllText(site, text);
        return site;
    }

    /// <summary>
    /// The demo site file, written into <paramref name="directory"/>, with the card reader <paramref name="reader"/> moved
    /// from the in-side of <paramref name="door"/> to the in-side of <paramref name="toDoor"/>, and a new reader
    /// (<paramref name="reader"/>-2) in its place.
    /// </summary>
    private static string SiteFileMovingEntryReader(string directory, string reader, string door, string toDoor)
    {
        var moved = Path.Combine(directory, "demo.yaml");
        File.WriteAllText(moved, File.ReadAllText(EdgeHarness.DemoSiteFile).Replace(
            $"  - {{ id: {reader}, type: card, door: {door}, direction: in, heartbeatSeconds: 30 }}",
            $"  - {{ id: {reader}, type: card, door: {toDoor}, direction: in, heartbeatSeconds: 30 }}\n" +
            $"  - {{ id: {reader}-2, type: card, door: {door}, direction: in, heartbeatSeconds: 30 }}",
            StringComparison.Ordinal));
        return moved;
    }

    /// <summary>Starts the service on <paramref name="directory"/>, lets the operator escort a visitor into server room 1 and stops it.</summary>
    private static async Task EscortTheVisitorIntoTheServerRoomAsync(string directory)
    {
        await using var before = await EdgeHarness.StartAsync(directory: directory);
        var entry = await before.ReaderAsync("rdr-sr1-in");
        await before.PresentCardAndFingerAsync(entry, Operator);
        Assert.True((await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
    }

    private static async Task<(MQTTnet.IMqttClient Raw, System.Threading.Channels.Channel<DecisionMessage> Decisions)> DataHallEntryAsync(EdgeHarness edge)
    {
        var raw = await edge.RawClientAsync("rdr-dh1-in");
        return (raw, await edge.DecisionsAsync(raw, "rdr-dh1-in"));
    }

    /// <summary>Sends a card event as the data hall's entry reader (raw: its event id and seq as given) and waits for its decision.</summary>
    private static async Task<DecisionMessage> SendAsync(EdgeHarness edge, MQTTnet.IMqttClient raw, System.Threading.Channels.Channel<DecisionMessage> decisions, ReaderEvent e)
    {
        await raw.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic(edge.Edge.Topics.ReaderEvents("rdr-dh1-in"))
            .WithPayload(WireFormat.Write(e)).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return await decisions.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);
    }

    private static ReaderEvent CardEvent(string eventId, long seq, Instant at) => new(eventId, seq, at, ReaderEventType.Card, Operator, Ev3, false, null);

    /// <summary>Starts the service on <paramref name="directory"/>, lets the operator into the data hall (hard anti-passback) and stops it.</summary>
    private static async Task EnterTheDataHallAsync(string directory)
    {
        await using var before = await EdgeHarness.StartAsync(directory: directory);
        var entry = await before.ReaderAsync("rdr-dh1-in");
        Assert.True((await entry.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
    }
}

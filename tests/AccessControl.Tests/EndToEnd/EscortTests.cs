using System.Text.Json;
using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Storage;
using AccessControl.Tests.Support;
using NodaTime;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// Escorts at server room 1 of the demo site (escort-required, 10 s window, two people per escort), over a real
/// broker: the operator Martina Koch may escort, the visitors' pool badges and the engineer's escorted-only level may not
/// open the door alone.
/// </summary>
public class EscortTests
{
    private const string In = "rdr-sr1-in";
    private const string Out = "rdr-sr1-out";

    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task VisitorAlone_IsDeniedEscortRequired_AndLogged(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync(In);

        var decision = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.False(decision.Grant);
        Assert.Equal("escort_required", decision.Reason);
        Assert.Equal(0, decision.UnlockSeconds);
        var row = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Access, ReaderId = In }));
        Assert.Equal(("deny", "escort_required", "v-ewagner", "demo-sr1"), (row.Decision, row.Reason, row.PersonId, row.ZoneId));
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "PCI-9.3.3")]
    public async Task OperatorThenVisitorWithinTheWindow_BothGranted_AndTheVisitorsRowNamesTheEscortsRow(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync(In);

        var escort = await edge.PresentCardAndFingerAsync(reader, Operator);
        edge.Clock.Advance(Duration.FromSeconds(4));
        var visitor = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(("granted", "granted"), (escort.Reason, visitor.Reason));
        Assert.True(visitor.Grant);
        Assert.Equal(5, visitor.UnlockSeconds);

        // The escort's grant is the row of their fingerprint (the server room is two-factor); the visitor, who has no
        // fingerprint to give, enters on the card alone, right behind them.
        var rows = edge.Rows(new LogFilter { Kind = LogKinds.Access, DoorId = "door-sr1", Decision = "grant" }).OrderBy(r => r.Seq).ToList();
        Assert.Equal(["p-mkoch", "v-ewagner"], rows.Select(r => r.PersonId));
        var (escortRow, visitorRow) = (rows[0], rows[1]);
        Assert.Equal((EdgeHarness.DemoFingerprintReader, In), (escortRow.ReaderId, visitorRow.ReaderId));
        using var detail = JsonDocument.Parse(visitorRow.Detail!);
        var link = detail.RootElement;
        Assert.Equal("p-mkoch", link.GetProperty("escort").GetString());
        Assert.Equal(EdgeHarness.DemoFingerprintReader, link.GetProperty("escortReader").GetString());
        Assert.Equal(escortRow.EventId, link.GetProperty("escortEventId").GetString());
        Assert.Equal(escortRow.Seq, link.GetProperty("escortSeq").GetInt64());
        Assert.DoesNotContain("\"escort\"", escortRow.Detail ?? "", StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task VisitorAfterTheWindow_IsDeniedEscortRequired(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync(In);

        var escort = await edge.PresentCardAndFingerAsync(reader, Operator);
        edge.Clock.Advance(Duration.FromSeconds(11));
        var visitor = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(escort.Grant);
        Assert.False(visitor.Grant);
        Assert.Equal("escort_required", visitor.Reason);
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task MoreVisitorsThanOneEscortMayBringIn_TheOneTooManyIsDenied(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync(In);

        var escort = await edge.PresentCardAndFingerAsync(reader, Operator);
        var reasons = new List<string>();
        foreach (var card in new[] { Visitor1, Visitor2, Visitor3 })
        {
            edge.Clock.Advance(Duration.FromSeconds(1));
            reasons.Add((await reader.PresentCardAsync(card, Ev3).WaitAsync(EdgeHarness.Timeout)).Reason);
        }

        Assert.True(escort.Grant);
        Assert.Equal(["granted", "granted", "escort_required"], reasons); // the demo's server room admits two per escort
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task VisitorBeforeTheOperator_IsDenied_ThenGrantedRightBehindThem(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync(In);

        var early = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);
        edge.Clock.Advance(Duration.FromSeconds(1));
        await edge.PresentCardAndFingerAsync(reader, Operator);
        edge.Clock.Advance(Duration.FromSeconds(1));
        var again = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal(("escort_required", "granted"), (early.Reason, again.Reason));
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-PE-3")]
    public async Task EngineerWithOnlyEscortedAccess_IsTreatedLikeAVisitor(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync(In);

        var alone = await reader.PresentCardAsync(Engineer, Ev3).WaitAsync(EdgeHarness.Timeout);
        await edge.PresentCardAndFingerAsync(reader, Operator);
        var escorted = await edge.PresentCardAndFingerAsync(reader, Engineer);

        Assert.Equal(("escort_required", "granted"), (alone.Reason, escorted.Reason));
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task OperatorLeavingWhileTheVisitorIsInside_RaisesVisitorUnescorted_AndTheVisitorCannotComeBackAlone(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var alarms = await edge.AlarmsAsync();
        var entry = await edge.ReaderAsync(In);
        var exit = await edge.ReaderAsync(Out);

        await edge.PresentCardAndFingerAsync(entry, Operator);
        Assert.True((await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        edge.Clock.Advance(Duration.FromMinutes(20));
        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(leaving.Grant); // egress is never held back; the alarm calls someone instead
        var alarm = await NextAlarmAsync(alarms, AlarmTypes.VisitorUnescorted);
        Assert.Equal(("demo", "door-sr1", Out), (alarm.SiteId, alarm.DoorId, alarm.ReaderId));
        Assert.Contains("v-ewagner (Eva Wagner)", alarm.Detail);
        Assert.Contains("p-mkoch (Martina Koch)", alarm.Detail);
        var row = await edge.AlarmRowAsync(AlarmTypes.VisitorUnescorted);
        Assert.Contains(alarm.AlarmId, row.Detail);
        Assert.Equal("door-sr1", row.DoorId);

        // The visitor steps out and tries to come back on their own.
        Assert.True((await exit.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout)).Grant);
        var back = await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);
        Assert.Equal("escort_required", back.Reason);
        Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.VisitorUnescorted }));
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "PCI-9.3.3")]
    public async Task OperatorBadgingInThenStraightOut_LeavesNoWindow_TheVisitorIsNotLetInAlone(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var entry = await edge.ReaderAsync(In);
        var exit = await edge.ReaderAsync(Out);

        var escort = await edge.PresentCardAndFingerAsync(entry, Operator);
        edge.Clock.Advance(Duration.FromSeconds(2));
        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);
        edge.Clock.Advance(Duration.FromSeconds(2));
        var visitor = await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((true, true), (escort.Grant, leaving.Grant));
        Assert.Equal((false, "escort_required", 0), (visitor.Grant, visitor.Reason, visitor.UnlockSeconds));
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Access, PersonId = "v-ewagner", Decision = "grant" }));
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-3")]
    public async Task VisitorsLeavingFirst_ThenTheOperator_RaiseNoAlarm(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var entry = await edge.ReaderAsync(In);
        var exit = await edge.ReaderAsync(Out);

        await edge.PresentCardAndFingerAsync(entry, Operator);
        await entry.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);
        await entry.PresentCardAsync(Visitor2, Ev3).WaitAsync(EdgeHarness.Timeout);
        await exit.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);
        await exit.PresentCardAsync(Visitor2, Ev3).WaitAsync(EdgeHarness.Timeout);
        var leaving = await exit.PresentCardAsync(Operator, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(leaving.Grant);
        Assert.Equal(6, edge.Rows(new LogFilter { Kind = LogKinds.Access, Decision = "grant" }).Count);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Alarm, Reason = AlarmTypes.VisitorUnescorted }));
    }

    [Theory]
    [MemberData(nameof(Brokers))]
    [Trait("control", "NIST-PE-2")]
    [Trait("control", "NIST-PE-3")]
    public async Task EscortPrivilegeWithdrawnThroughTheAdminApi_TheOperatorNoLongerOpensAWindow(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var reader = await edge.ReaderAsync(In);

        var changed = await edge.Edge.Admin.UpsertAccessLevelAsync(
            AdminActor.EverySite("admin:test"),
            "serverroom-operators",
            new AccessControl.Admin.AccessLevelInput("Data hall 1 and server room 1, around the clock (NOC operators)", ["demo-dh1", "demo-sr1"], "always", Escort: false));
        await edge.PresentCardAndFingerAsync(reader, Operator);
        var visitor = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.True(changed.IsOk);
        Assert.True(changed.Changed); // the flag alone is a change: written, audited and applied
        Assert.Equal("escort_required", visitor.Reason);
        var audit = Assert.Single(edge.Rows(new LogFilter { Kind = LogKinds.Admin, Reason = "access_level.upsert" }), r => r.Actor == "admin:test");
        Assert.Contains("\"escort\":true", audit.Detail, StringComparison.Ordinal);
        Assert.Contains("\"escort\":false", audit.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-PE-3")]
    [Trait("control", "NIST-AU-5")]
    public async Task EscortSwipeThatCouldNotBeLogged_OpensNoWindow()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var reader = await edge.ReaderAsync(In);

        edge.Edge.Writer.SimulateWriteFailure(true);
        var escort = await edge.PresentCardAndFingerAsync(reader, Operator);
        edge.Edge.Writer.SimulateWriteFailure(false);
        var visitor = await reader.PresentCardAsync(Visitor1, Ev3).WaitAsync(EdgeHarness.Timeout);

        Assert.Equal("log_failure", escort.Reason);
        Assert.Equal("escort_required", visitor.Reason); // the window was tentative and rolled back with the failed batch
    }

    private static async Task<AlarmMessage> NextAlarmAsync(System.Threading.Channels.Channel<AlarmMessage> alarms, string type)
    {
        using var timeout = new CancellationTokenSource(EdgeHarness.Timeout);
        while (true)
        {
            var alarm = await alarms.Reader.ReadAsync(timeout.Token);
            if (alarm.Type == type)
            {
                return alarm;
            }
        }
    }

    [Fact]
    [Trait("control", "NIST-PE-2")]
    public async Task AccessLevelEscortFlags_AreStoredDurably_AndReadBackAfterARestart()
    {
        var directory = Path.Combine(Path.GetTempPath(), "ac-escort-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        try
        {
            var database = new Database(Path.Combine(directory, "edge.db"));
            database.Migrate();
            var store = new CardholderStore(database);
            var at = EdgeHarness.BusinessHours;
            await store.UpsertAccessLevelAsync(new AccessLevel(new AccessLevelId("escorts"), "Escorts", [new ZoneId("sr1")], ScheduleId.Always, Escort: true), at, "test");
            await store.UpsertAccessLevelAsync(new AccessLevel(new AccessLevelId("escorted"), "Escorted", [new ZoneId("sr1")], ScheduleId.Always, EscortedOnly: true), at, "test");
            await store.UpsertAccessLevelAsync(new AccessLevel(new AccessLevelId("plain"), "Plain", [new ZoneId("sr1")], ScheduleId.Always), at, "test");

            var levels = new CardholderStore(database).LoadAll().AccessLevels;

            Assert.Equal((true, false), (levels[new AccessLevelId("escorts")].Escort, levels[new AccessLevelId("escorts")].EscortedOnly));
            Assert.Equal((false, true), (levels[new AccessLevelId("escorted")].Escort, levels[new AccessLevelId("escorted")].EscortedOnly));
            Assert.Equal((false, false), (levels[new AccessLevelId("plain")].Escort, levels[new AccessLevelId("plain")].EscortedOnly));

            await store.UpsertAccessLevelAsync(new AccessLevel(new AccessLevelId("escorts"), "Escorts", [new ZoneId("sr1")], ScheduleId.Always), at, "test");
            Assert.False(new CardholderStore(database).LoadAll().AccessLevels[new AccessLevelId("escorts")].Escort);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}

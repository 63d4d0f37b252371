using System.Collections.Immutable;
using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.EntryLog;
using AccessControl.LifeSafety;
using AccessControl.Protocol;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using AccessControl.Tests.Support;
using NodaTime;
using static AccessControl.Tests.SiteFiles.SiteFileText;

namespace AccessControl.Tests.LifeSafety;

/// <summary>The pieces of a fire release that need no broker: site file, topic policy and ACL, wire format, fire state.</summary>
public class FireConfigurationTests
{
    private static readonly Topics Topics = new();
    private static readonly TopicPolicy Policy = new(Topics);

    private static SiteTopology WithPanel(string panel = "fire-1")
    {
        var t = TestSite.Topology;
        return new SiteTopology(t.Sites.Values, t.Zones.Values, t.Doors.Values, t.Readers.Values, t.Controllers.Values, t.Schedules.Values)
        {
            FirePanels = ImmutableDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create(panel, new FirePanel(panel, new SiteId("dc1")))]),
        };
    }

    [Fact]
    public void SiteFile_FailSafeAndFirePanels_AreRead()
    {
        var yaml = With("controller: ctl-lobby }", "controller: ctl-lobby, failSafe: true }") + "firePanels: [fire-1]\n";

        var result = Parse(yaml);

        Assert.Empty(result.Errors);
        var topology = result.Site!.Topology;
        Assert.True(topology.Doors[new DoorId("door-lobby")].FailSafe);
        Assert.False(topology.Doors[new DoorId("door-hall")].FailSafe);
        Assert.Equal(new FirePanel("fire-1", topology.Sites.Keys.Single()), topology.FirePanels["fire-1"]);
    }

    [Theory]
    [InlineData("rdr-lobby-in", "already used by the reader")]
    [InlineData("ctl-hall", "already used by the controller")]
    [InlineData("ac-service", "reserved")]
    public void SiteFile_FirePanelId_SharesTheDeviceNamespace(string id, string message)
    {
        var error = SingleError(Parse(Valid + $"firePanels: [{id}]\n"));

        Assert.Equal("firePanels[0]", error.Path);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SiteFile_FailSafeMustBeABoolean()
    {
        var error = SingleError(Parse(With("controller: ctl-lobby }", "controller: ctl-lobby, failSafe: yes }")));

        Assert.Contains("failSafe must be true or false", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DemoSite_ReleasesLobbyAndDataHall_NotTheServerRoom()
    {
        var topology = SiteFileLoader.Load(Path.Combine(AppContext.BaseDirectory, "deploy", "sites", "demo.yaml")).Site!.Topology;

        Assert.Equal(["door-dh1", "door-lobby"], topology.Doors.Values.Where(d => d.FailSafe).Select(d => d.Id.Value).Order(StringComparer.Ordinal));
        Assert.Equal(["fire-panel-a"], topology.FirePanels.Keys);
    }

    [Fact]
    public void ReplaceSites_KeepsOtherSitesPanels_AndReplacesTheReloadedSites()
    {
        var topology = WithPanel("fire-old");
        var reloaded = WithPanel("fire-new");

        Assert.Equal(["fire-new"], topology.ReplaceSites(reloaded).FirePanels.Keys);
        Assert.Equal(["fire-old"], topology.ReplaceSites(SiteTopology.Empty).FirePanels.Keys);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void TopicPolicy_FirePanel_MayOnlyPublishItsOwnFireEvents()
    {
        var topology = WithPanel();
        var panel = Policy.Identify(topology, "fire-1");

        Assert.Equal(new Principal(PrincipalKind.FirePanel, "fire-1"), panel);
        Assert.Equal([new TopicGrant(TopicAccess.Publish, "ac/v1/fire/fire-1/events")], Policy.GrantsFor(topology, panel!.Value));
        Assert.False(Policy.MayPublish(topology, panel.Value, Topics.FireEvents("fire-2")));
        Assert.False(Policy.MayPublish(topology, panel.Value, Topics.DoorCommands(TestSite.MainEntrance)));
        Assert.False(Policy.MaySubscribe(topology, panel.Value, Topics.DoorCommands("+")));
        Assert.False(Policy.MayUseWill(topology, panel.Value, Topics.FireEvents("fire-1")));
        var reader = Policy.Identify(topology, TestSite.MainReaderIn)!.Value;
        Assert.False(Policy.MayPublish(topology, reader, Topics.FireEvents("fire-1")));
        Assert.Null(Policy.Identify(TestSite.Topology, "fire-1"));
    }

    [Fact]
    public void MosquittoAcl_HasThePanelWithWriteOnItsTopicOnly()
    {
        var acl = MosquittoConfig.RenderAcl(WithPanel(), Topics);

        Assert.Contains("\nuser fire-1\ntopic write ac/v1/fire/fire-1/events\n", acl, StringComparison.Ordinal);
        Assert.Contains("fire-1", MosquittoConfig.Usernames(WithPanel()));
    }

    [Theory]
    [InlineData("""{"eventId":"f-1","seq":1,"at":"2026-12-01T09:00:00Z","type":"alarm"}""", true)]
    [InlineData("""{"eventId":"f-1","seq":1,"at":"2026-12-01T09:00:00Z","type":"clear","detail":"reset at panel"}""", true)]
    [InlineData("""{"eventId":"f-1","seq":1,"at":"2026-12-01T09:00:00Z","type":"test"}""", false)]
    [InlineData("""{"eventId":"f-1","at":"2026-12-01T09:00:00Z","type":"alarm"}""", false)]
    [InlineData("""{"eventId":"f 1","seq":1,"at":"2026-12-01T09:00:00Z","type":"alarm"}""", false)]
    [InlineData("[]", false)]
    public void ParseFireEvent_AcceptsAlarmAndClearOnly(string json, bool ok)
    {
        var parsed = WireFormat.ParseFireEvent(new System.Buffers.ReadOnlySequence<byte>(System.Text.Encoding.UTF8.GetBytes(json)));

        Assert.Equal(ok, parsed.Success);
    }

    [Fact]
    public void FireEvent_RoundTrips()
    {
        var e = new FireEvent("f-7", 7, Instant.FromUtc(2026, 12, 1, 9, 0), FireEventType.Alarm, "zone 3");

        Assert.Equal(e, WireFormat.ParseFireEvent(new System.Buffers.ReadOnlySequence<byte>(WireFormat.Write(e))).Value);
        Assert.Equal(new TopicAddress(TopicKind.FireEvents, "f-7"), Topics.Parse("ac/v1/fire/f-7/events"));
        Assert.Equal(TopicKind.Unknown, Topics.Parse("ac/v1/fire/f-7/commands").Kind);
    }

    [Fact]
    public void FireState_FoldsTheLogRows_ClearDoesNotRelease_ResetEndsIt()
    {
        var at = Instant.FromUtc(2026, 12, 1, 9, 0);
        LogEntry Row(string kind, string reason, string? source = "fire/p1", string? detail = null) =>
            new() { At = at, Kind = kind, SiteId = "s1", Source = source, Reason = reason, Detail = detail };

        var alarmed = FireState.Empty
            .Apply(Row(LogKinds.Alarm, AlarmTypes.FireAlarm))
            .Apply(Row(LogKinds.Safety, FireReasons.Release, detail: """{"panel":"p1","doors":"d1,d2"}"""));
        var cleared = alarmed.Apply(Row(LogKinds.Safety, FireReasons.Clear));
        var reset = cleared.Apply(Row(LogKinds.Safety, FireReasons.Reset, source: null));

        Assert.Equal(["d1", "d2"], alarmed.ReleasedDoors);
        Assert.False(alarmed.Sites["s1"].Cleared);
        Assert.True(cleared.IsReleased);
        Assert.True(cleared.Sites["s1"].Cleared);
        Assert.False(reset.IsReleased);
        Assert.Same(reset, reset.Apply(Row(LogKinds.Door, "opened", "doors/d1")));
    }
}

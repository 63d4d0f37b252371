using AccessControl.Broker;
using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Tests.Support;
using static AccessControl.Tests.Support.TestSite;

namespace AccessControl.Tests.Broker;

public class TopicPolicyTests
{
    private static readonly TopicPolicy Policy = new(new Topics());
    private static readonly Principal Service = new(PrincipalKind.Service, DeviceSecrets.ServiceUsername);
    private static readonly Principal Monitor = new(PrincipalKind.Monitor, DeviceSecrets.MonitorUsername);
    private static readonly Principal MainReader = new(PrincipalKind.Reader, MainReaderIn);
    private static readonly Principal HallCtl = new(PrincipalKind.DoorController, HallController);

    [Theory]
    [InlineData(MainReaderIn, PrincipalKind.Reader)]
    [InlineData(HallController, PrincipalKind.DoorController)]
    [InlineData(DeviceSecrets.ServiceUsername, PrincipalKind.Service)]
    [InlineData(DeviceSecrets.ServicePublisherUsername, PrincipalKind.ServicePublisher)]
    [InlineData(DeviceSecrets.MonitorUsername, PrincipalKind.Monitor)]
    [Trait("control", "NIST-IA-3")]
    public void Identify_KnownUsername_ReturnsItsKind(string username, PrincipalKind kind) =>
        Assert.Equal(new Principal(kind, username), Policy.Identify(Topology, username));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("rdr-unknown")]
    [InlineData(MainEntrance)]
    [InlineData("RDR-MAIN-IN")]
    [InlineData("rdr-main-in ")]
    [Trait("control", "NIST-IA-3")]
    public void Identify_UnknownUsername_ReturnsNull(string? username) =>
        Assert.Null(Policy.Identify(Topology, username));

    [Fact]
    [Trait("control", "NIST-IA-3")]
    public void Identify_IdUsedByBothAReaderAndAController_ReturnsNull()
    {
        var ambiguous = Build(NewReader(MainController));

        Assert.Null(Policy.Identify(ambiguous, MainController));
    }

    [Theory]
    [InlineData("rdr-1", true)]
    [InlineData("door_2.east", true)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a+", false)]
    [InlineData("#", false)]
    [InlineData("a b", false)]
    [InlineData("a:b", false)] // the protocol's device id rule (Mosquitto's password file would split the username there)
    [InlineData("rdr-é", false)]
    [InlineData("a\nb", false)]
    [InlineData(DeviceSecrets.ServiceUsername, false)]
    [InlineData(DeviceSecrets.ServicePublisherUsername, false)]
    [InlineData(DeviceSecrets.MonitorUsername, false)]
    [Trait("control", "NIST-AC-3")]
    public void IsValidDeviceId_RejectsIdsThatCouldEscapeTheirTopics(string id, bool valid) =>
        Assert.Equal(valid, TopicPolicy.IsValidDeviceId(id));

    [Theory]
    [InlineData("ac/v1/readers/rdr-main-in/decisions", true)]
    [InlineData("ac/v1/doors/door-main/commands", true)]
    [InlineData("ac/v1/readers/rdr-main-in/commands", true)]
    [InlineData("ac/v1/alarms", true)]
    [InlineData("ac/v1/readers/rdr-main-in/events", false)]
    [InlineData("ac/v1/readers/rdr-main-in/status", false)]
    [InlineData("ac/v1/doors/door-main/events", false)]
    [InlineData("ac/v1/fire/fire-panel-a/events", false)]
    [InlineData("ac/v2/alarms", false)]
    [Trait("control", "NIST-AC-6")]
    public void ServicePublisher_MayPublishOnlyWhatTheServiceSends_AndSubscribeToNothing(string topic, bool mayPublish)
    {
        var publisher = Policy.Identify(Topology, DeviceSecrets.ServicePublisherUsername)!.Value;

        Assert.Equal(mayPublish, Policy.MayPublish(Topology, publisher, topic));
        Assert.False(Policy.MaySubscribe(Topology, publisher, topic));
        Assert.False(Policy.MaySubscribe(Topology, publisher, "ac/v1/#"));
    }

    [Fact]
    public void IsValidDeviceId_RejectsOverlongIds() =>
        Assert.False(TopicPolicy.IsValidDeviceId(new string('r', 65)));

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void GrantsFor_Reader_AreItsOwnFourTopics()
    {
        var grants = Policy.GrantsFor(Topology, MainReader);

        Assert.Equal(
            [
                new TopicGrant(TopicAccess.Publish, "ac/v1/readers/rdr-main-in/events"),
                new TopicGrant(TopicAccess.Publish, "ac/v1/readers/rdr-main-in/status"),
                new TopicGrant(TopicAccess.Subscribe, "ac/v1/readers/rdr-main-in/decisions"),
                new TopicGrant(TopicAccess.Subscribe, "ac/v1/readers/rdr-main-in/commands"),
            ],
            grants);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void GrantsFor_DoorController_CoverExactlyTheDoorsItDrives()
    {
        var grants = Policy.GrantsFor(Topology, HallCtl);

        Assert.Equal(
            [
                new TopicGrant(TopicAccess.Publish, "ac/v1/doors/door-hall-a/events"),
                new TopicGrant(TopicAccess.Publish, "ac/v1/doors/door-hall-a/status"),
                new TopicGrant(TopicAccess.Subscribe, "ac/v1/doors/door-hall-a/commands"),
                new TopicGrant(TopicAccess.Publish, "ac/v1/doors/door-hall-a-exit/events"),
                new TopicGrant(TopicAccess.Publish, "ac/v1/doors/door-hall-a-exit/status"),
                new TopicGrant(TopicAccess.Subscribe, "ac/v1/doors/door-hall-a-exit/commands"),
            ],
            grants);
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void GrantsFor_Monitor_AreReadOnly() =>
        Assert.All(Policy.GrantsFor(Topology, Monitor), g => Assert.Equal(TopicAccess.Subscribe, g.Access));

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void GrantsFor_DeviceRemovedFromTopology_AreEmpty()
    {
        var withoutReaders = new SiteTopology(Topology.Sites.Values, Topology.Zones.Values, Topology.Doors.Values, [], Topology.Controllers.Values, []);

        Assert.Empty(Policy.GrantsFor(withoutReaders, MainReader));
        Assert.False(Policy.MayPublish(withoutReaders, MainReader, "ac/v1/readers/rdr-main-in/events"));
    }

    [Theory]
    [InlineData("ac/v1/readers/rdr-main-in/events", true)]
    [InlineData("ac/v1/readers/rdr-main-in/status", true)]
    [InlineData("ac/v1/readers/rdr-main-in/decisions", false)]
    [InlineData("ac/v1/readers/rdr-main-in/commands", false)]
    [InlineData("ac/v1/readers/rdr-main-out/events", false)]
    [InlineData("ac/v1/readers/+/events", false)]
    [InlineData("ac/v1/readers/rdr-main-in/events/extra", false)]
    [InlineData("ac/v1/doors/door-main/events", false)]
    [InlineData("ac/v1/alarms", false)]
    [InlineData("other/v1/readers/rdr-main-in/events", false)]
    [InlineData("", false)]
    [Trait("control", "NIST-AC-3")]
    public void MayPublish_Reader_OnlyItsOwnEventsAndStatus(string topic, bool allowed) =>
        Assert.Equal(allowed, Policy.MayPublish(Topology, MainReader, topic));

    [Theory]
    [InlineData("ac/v1/readers/rdr-main-in/decisions", true)]
    [InlineData("ac/v1/readers/rdr-main-in/commands", true)]
    [InlineData("ac/v1/readers/rdr-main-in/events", false)]
    [InlineData("ac/v1/readers/rdr-hall-a-in/decisions", false)]
    [InlineData("ac/v1/readers/+/decisions", false)]
    [InlineData("ac/v1/readers/rdr-main-in/#", false)]
    [InlineData("ac/v1/#", false)]
    [InlineData("#", false)]
    [InlineData("$share/g/ac/v1/readers/rdr-main-in/decisions", false)]
    [InlineData("$SYS/#", false)]
    [Trait("control", "NIST-AC-3")]
    public void MaySubscribe_Reader_OnlyItsOwnDecisionsAndCommands(string filter, bool allowed) =>
        Assert.Equal(allowed, Policy.MaySubscribe(Topology, MainReader, filter));

    [Theory]
    [InlineData("ac/v1/doors/door-hall-a/events", true)]
    [InlineData("ac/v1/doors/door-hall-a-exit/status", true)]
    [InlineData("ac/v1/doors/door-main/events", false)]
    [InlineData("ac/v1/doors/door-hall-a/commands", false)]
    [InlineData("ac/v1/readers/rdr-hall-a-in/events", false)]
    [Trait("control", "NIST-AC-3")]
    public void MayPublish_DoorController_OnlyForDoorsItDrives(string topic, bool allowed) =>
        Assert.Equal(allowed, Policy.MayPublish(Topology, HallCtl, topic));

    [Theory]
    [InlineData("ac/v1/doors/door-hall-a/commands", true)]
    [InlineData("ac/v1/doors/door-main/commands", false)]
    [InlineData("ac/v1/doors/+/commands", false)]
    [Trait("control", "NIST-AC-3")]
    public void MaySubscribe_DoorController_OnlyCommandsOfDoorsItDrives(string filter, bool allowed) =>
        Assert.Equal(allowed, Policy.MaySubscribe(Topology, HallCtl, filter));

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void DoorController_OfADoorWhoseIdHasAColon_HasThatDoorsTopics_ADoorIdIsNoUsername()
    {
        var renamed = new SiteTopology(
            Topology.Sites.Values,
            Topology.Zones.Values,
            Topology.Doors.Values.Select(d => d.Id.Value == HallDoor ? d with { Id = new DoorId("door:hall:a") } : d),
            Topology.Readers.Values.Where(r => r.Door.Value != HallDoor),
            Topology.Controllers.Values,
            []);

        Assert.True(Policy.MayPublish(renamed, HallCtl, "ac/v1/doors/door:hall:a/events"));
        Assert.True(Policy.MaySubscribe(renamed, HallCtl, "ac/v1/doors/door:hall:a/commands"));
    }

    [Fact]
    [Trait("control", "NIST-AC-3")]
    public void DoorController_AfterDoorIsReassigned_LosesThatDoor()
    {
        var reassigned = new SiteTopology(
            Topology.Sites.Values,
            Topology.Zones.Values,
            Topology.Doors.Values.Select(d => d.Id.Value == HallDoor ? d with { Controller = new ControllerId(MainController) } : d),
            Topology.Readers.Values,
            Topology.Controllers.Values,
            []);

        Assert.False(Policy.MayPublish(reassigned, HallCtl, "ac/v1/doors/door-hall-a/events"));
        Assert.True(Policy.MayPublish(reassigned, new Principal(PrincipalKind.DoorController, MainController), "ac/v1/doors/door-hall-a/events"));
    }

    [Theory]
    [InlineData("ac/v1/alarms", true)]
    [InlineData("ac/v1/readers/+/decisions", true)]
    [InlineData("ac/v1/readers/rdr-main-in/decisions", true)]
    [InlineData("ac/v1/readers/+/status", true)]
    [InlineData("ac/v1/readers/rdr-main-in/status", true)]
    [InlineData("ac/v1/doors/+/status", true)]
    [InlineData("ac/v1/readers/+/events", false)]
    [InlineData("ac/v1/readers/+/commands", false)]
    [InlineData("ac/v1/doors/+/events", false)]
    [InlineData("ac/v1/doors/+/commands", false)]
    [InlineData("ac/v1/fire/+/events", false)]
    [InlineData("ac/v1/readers/#", false)]
    [InlineData("ac/v1/+/+/status", false)]
    [InlineData("ac/v1/#", false)]
    [Trait("control", "NIST-AC-3")]
    [Trait("control", "NIST-AC-6")]
    public void MaySubscribe_Monitor_OnlyAlarmsDecisionsAndDeviceStatus(string filter, bool allowed) =>
        Assert.Equal(allowed, Policy.MaySubscribe(Topology, Monitor, filter));

    [Theory]
    [InlineData("ac/v1/alarms")]
    [InlineData("ac/v1/readers/rdr-main-in/decisions")]
    [Trait("control", "NIST-AC-3")]
    public void MayPublish_Monitor_Nothing(string topic) =>
        Assert.False(Policy.MayPublish(Topology, Monitor, topic));

    [Theory]
    [InlineData("ac/v1/#", true)]
    [InlineData("ac/v1/readers/+/events", true)]
    [InlineData("ac/v1/alarms", true)]
    [InlineData("#", false)]
    [InlineData("$SYS/#", false)]
    [InlineData("other/#", false)]
    [InlineData("+/v1/alarms", false)]
    [Trait("control", "NIST-AC-3")]
    public void MaySubscribe_Service_EverythingUnderTheRootOnly(string filter, bool allowed) =>
        Assert.Equal(allowed, Policy.MaySubscribe(Topology, Service, filter));

    [Theory]
    [InlineData("ac/v1/readers/rdr-main-in/decisions", true)]
    [InlineData("ac/v1/doors/door-main/commands", true)]
    [InlineData("ac/v1/alarms", true)]
    [InlineData("ac/v2/alarms", false)]
    [InlineData("ac/v1/readers/+/decisions", false)]
    [Trait("control", "NIST-AC-3")]
    public void MayPublish_Service_AnyTopicNameUnderTheRoot(string topic, bool allowed) =>
        Assert.Equal(allowed, Policy.MayPublish(Topology, Service, topic));

    [Theory]
    [InlineData(MainReaderIn, "ac/v1/readers/rdr-main-in/status", true)]
    [InlineData(MainReaderIn, "ac/v1/readers/rdr-main-in/events", false)]
    [InlineData(MainReaderIn, "ac/v1/readers/rdr-hall-a-in/status", false)]
    [InlineData(HallController, "ac/v1/doors/door-hall-a-exit/status", true)]
    [InlineData(HallController, "ac/v1/doors/door-main/status", false)]
    [InlineData(DeviceSecrets.MonitorUsername, "ac/v1/alarms", false)]
    [InlineData(DeviceSecrets.ServiceUsername, "ac/v1/alarms", true)]
    [InlineData(DeviceSecrets.ServicePublisherUsername, "ac/v1/alarms", false)]
    [Trait("control", "NIST-AC-3")]
    public void MayUseWill_DeviceWillMustBeItsOwnStatus(string username, string willTopic, bool allowed)
    {
        var principal = Policy.Identify(Topology, username)!.Value;

        Assert.Equal(allowed, Policy.MayUseWill(Topology, principal, willTopic));
    }

    [Theory]
    [InlineData("a/b/c", "a/b/c", true)]
    [InlineData("a/b/c", "a/b", false)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/+/c", "a/b/c", true)]
    [InlineData("a/+/c", "a/+/c", true)]
    [InlineData("a/b/c", "a/+/c", false)]
    [InlineData("a/+/c", "a/#", false)]
    [InlineData("a/#", "a", true)]
    [InlineData("a/#", "a/b/c", true)]
    [InlineData("a/#", "a/+/#", true)]
    [InlineData("a/#", "b/c", false)]
    [InlineData("a/+", "a/#", false)]
    [InlineData("#", "anything/at/all", true)]
    public void Covers_IsFilterContainment(string grant, string requested, bool covered) =>
        Assert.Equal(covered, TopicPolicy.Covers(grant, requested));

    [Theory]
    [InlineData("a/b", true)]
    [InlineData("a/+/b", true)]
    [InlineData("a/#", true)]
    [InlineData("#", true)]
    [InlineData("a/#/b", false)]
    [InlineData("a/b#", false)]
    [InlineData("a+/b", false)]
    [InlineData("", false)]
    public void IsValidTopicFilter_FollowsMqttWildcardRules(string filter, bool valid) =>
        Assert.Equal(valid, TopicPolicy.IsValidTopicFilter(filter));

    [Fact]
    public void GrantsFor_HonourTheConfiguredRoot()
    {
        var policy = new TopicPolicy(new Topics("site9/ac"));

        Assert.True(policy.MayPublish(Topology, MainReader, "site9/ac/readers/rdr-main-in/events"));
        Assert.False(policy.MayPublish(Topology, MainReader, "ac/v1/readers/rdr-main-in/events"));
    }
}

using AccessControl.Protocol;

namespace AccessControl.Tests.Protocol;

public class TopicsTests
{
    private readonly Topics topics = new();

    [Fact]
    public void Builders_DefaultRoot_MatchTheDocumentedTree()
    {
        Assert.Equal("ac/v1", topics.Root);
        Assert.Equal("ac/v1/readers/r1/events", topics.ReaderEvents("r1"));
        Assert.Equal("ac/v1/readers/r1/status", topics.ReaderStatus("r1"));
        Assert.Equal("ac/v1/readers/r1/decisions", topics.ReaderDecisions("r1"));
        Assert.Equal("ac/v1/readers/r1/commands", topics.ReaderCommands("r1"));
        Assert.Equal("ac/v1/doors/d1/events", topics.DoorEvents("d1"));
        Assert.Equal("ac/v1/doors/d1/status", topics.DoorStatus("d1"));
        Assert.Equal("ac/v1/doors/d1/commands", topics.DoorCommands("d1"));
        Assert.Equal("ac/v1/alarms", topics.Alarms);
        Assert.Equal("ac/v1/fire/fp1/events", topics.FireEvents("fp1"));
        Assert.Equal(
            ["ac/v1/readers/+/events", "ac/v1/readers/+/status", "ac/v1/doors/+/events", "ac/v1/doors/+/status", "ac/v1/fire/+/events"],
            topics.ServiceSubscriptions);
    }

    [Theory]
    [InlineData("ac/v1/readers/rdr-1/events", TopicKind.ReaderEvents, "rdr-1")]
    [InlineData("ac/v1/readers/rdr-1/status", TopicKind.ReaderStatus, "rdr-1")]
    [InlineData("ac/v1/readers/rdr-1/decisions", TopicKind.ReaderDecisions, "rdr-1")]
    [InlineData("ac/v1/readers/rdr-1/commands", TopicKind.ReaderCommands, "rdr-1")]
    [InlineData("ac/v1/doors/dc1-gate/events", TopicKind.DoorEvents, "dc1-gate")]
    [InlineData("ac/v1/doors/dc1-gate/status", TopicKind.DoorStatus, "dc1-gate")]
    [InlineData("ac/v1/doors/dc1-gate/commands", TopicKind.DoorCommands, "dc1-gate")]
    [InlineData("ac/v1/alarms", TopicKind.Alarms, "")]
    public void Parse_EveryTopicKind_ReadsKindAndDeviceId(string topic, TopicKind kind, string deviceId)
    {
        Assert.Equal(new TopicAddress(kind, deviceId), topics.Parse(topic));
    }

    [Fact]
    public void Parse_WhatTheBuildersProduce_RoundTrips()
    {
        Assert.Equal(new TopicAddress(TopicKind.ReaderEvents, "x"), topics.Parse(topics.ReaderEvents("x")));
        Assert.Equal(new TopicAddress(TopicKind.ReaderStatus, "x"), topics.Parse(topics.ReaderStatus("x")));
        Assert.Equal(new TopicAddress(TopicKind.ReaderDecisions, "x"), topics.Parse(topics.ReaderDecisions("x")));
        Assert.Equal(new TopicAddress(TopicKind.ReaderCommands, "x"), topics.Parse(topics.ReaderCommands("x")));
        Assert.Equal(new TopicAddress(TopicKind.DoorEvents, "x"), topics.Parse(topics.DoorEvents("x")));
        Assert.Equal(new TopicAddress(TopicKind.DoorStatus, "x"), topics.Parse(topics.DoorStatus("x")));
        Assert.Equal(new TopicAddress(TopicKind.DoorCommands, "x"), topics.Parse(topics.DoorCommands("x")));
        Assert.Equal(new TopicAddress(TopicKind.Alarms, ""), topics.Parse(topics.Alarms));
    }

    [Fact]
    public void Parse_CustomRoot_ReadsUnderItAndNotUnderTheDefault()
    {
        var custom = new Topics("site-a/access/v1");

        Assert.Equal(new TopicAddress(TopicKind.ReaderEvents, "r1"), custom.Parse("site-a/access/v1/readers/r1/events"));
        Assert.Equal(new TopicAddress(TopicKind.Alarms, ""), custom.Parse("site-a/access/v1/alarms"));
        Assert.Equal("site-a/access/v1/doors/d1/commands", custom.DoorCommands("d1"));
        Assert.Equal(TopicKind.Unknown, custom.Parse("ac/v1/readers/r1/events").Kind);
    }

    [Theory]
    [InlineData("ac/v2/readers/r1/events")] // wrong root
    [InlineData("ac/v1x/readers/r1/events")] // root is only a prefix of the first level
    [InlineData("xac/v1/readers/r1/events")]
    [InlineData("AC/V1/readers/r1/events")] // topics are case-sensitive
    [InlineData("ac/v1")]
    [InlineData("ac/v1/")]
    [InlineData("")]
    [InlineData("ac/v1/readers/r1/events/extra")] // extra level
    [InlineData("ac/v1/readers/r1/events/")]
    [InlineData("ac/v1/readers/r1/a/b/c/d")]
    [InlineData("ac/v1/readers/r1")] // missing level
    [InlineData("ac/v1/readers//events")] // empty id
    [InlineData("ac/v1/alarms/extra")]
    [InlineData("ac/v1/alarms/")]
    [InlineData("ac/v1/doors/d1/decisions")] // doors get no decisions
    [InlineData("ac/v1/readers/r1/unknown")]
    [InlineData("ac/v1/gates/r1/events")]
    [InlineData("/ac/v1/readers/r1/events")]
    public void Parse_AnythingElse_IsUnknown(string topic)
    {
        var address = topics.Parse(topic);

        Assert.Equal(TopicKind.Unknown, address.Kind);
        Assert.Equal(default, address);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("/ac/v1")]
    [InlineData("ac/v1/")]
    [InlineData("ac/+/v1")]
    [InlineData("ac/#")]
    [InlineData("#")]
    [InlineData("+")]
    public void Constructor_InvalidRoot_Throws(string root)
    {
        Assert.Throws<ArgumentException>(() => new Topics(root));
    }
}

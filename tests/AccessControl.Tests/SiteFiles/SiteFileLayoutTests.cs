using AccessControl.SiteFiles;
using static AccessControl.Tests.SiteFiles.SiteFileText;

namespace AccessControl.Tests.SiteFiles;

/// <summary>
/// A stored site file read again at a start whose cardholders are imported already: its layout only, its people and
/// credentials scanned past (at 200,000 people they are nearly all of the file).
/// </summary>
public class SiteFileLayoutTests
{
    [Fact]
    public void ParseLayout_OfAValidFile_GivesTheSameLayoutAndLevelsAsAFullParse()
    {
        var full = Parse(Valid).Site!;

        var layout = SiteFileLoader.ParseLayout(Valid, FileName);

        Assert.True(layout.Success);
        var topology = layout.Layout!.Topology;
        Assert.Equal(full.Topology.Sites.Values, topology.Sites.Values);
        Assert.Equal(full.Topology.Zones.Keys.Select(z => z.Value).Order(), topology.Zones.Keys.Select(z => z.Value).Order());
        Assert.Equal(full.Topology.Doors.Values.OrderBy(d => d.Id.Value), topology.Doors.Values.OrderBy(d => d.Id.Value));
        Assert.Equal(full.Topology.Readers.Values.OrderBy(r => r.Id.Value), topology.Readers.Values.OrderBy(r => r.Id.Value));
        Assert.Equal(full.Topology.Controllers.Values.OrderBy(c => c.Id.Value), topology.Controllers.Values.OrderBy(c => c.Id.Value));
        Assert.Equal(full.Topology.Schedules.Keys.Select(k => k.ToString()).Order(), topology.Schedules.Keys.Select(k => k.ToString()).Order());
        Assert.Equal(full.AccessLevels.Select(l => (l.Id, string.Join(",", l.Zones), l.Schedule)), layout.Layout.AccessLevels.Select(l => (l.Id, string.Join(",", l.Zones), l.Schedule)));
    }

    [Fact]
    public void ParseLayout_DoesNotReadPeopleOrCredentials()
    {
        // A person holding a level the file lacks, and a card of nobody: errors of a full parse, not of the layout.
        var yaml = With("accessLevels: [building, hall-office] }", "accessLevels: [building, no-such-level] }")
            .Replace("person: p-bob, status: revoked", "person: p-nobody, status: revoked", StringComparison.Ordinal);
        Assert.False(Parse(yaml).Success);

        var layout = SiteFileLoader.ParseLayout(yaml, FileName);

        Assert.True(layout.Success, string.Join("; ", layout.Errors));
        Assert.Equal(["building", "hall-office"], layout.Layout!.AccessLevels.Select(l => l.Id.Value));
    }

    [Fact]
    public void ParseLayout_AYamlErrorAmongThePeople_IsStillAnErrorWithItsLine()
    {
        var yaml = With("name: Bob Brown,", "name: \"Bob Brown,");

        var layout = SiteFileLoader.ParseLayout(yaml, FileName);

        Assert.False(layout.Success);
        Assert.Null(layout.Layout);
        var error = Assert.Single(layout.Errors);
        Assert.Equal("(yaml)", error.Path);
        Assert.True(error.Line >= PositionOf(yaml, "\"Bob Brown").Line, error.ToString());
    }

    [Fact]
    public void ParseLayout_AnErrorOfTheLayout_IsReportedWhereItIs()
    {
        var yaml = With("door: door-lobby, direction: in", "door: door-nowhere, direction: in");

        var layout = SiteFileLoader.ParseLayout(yaml, FileName);

        Assert.False(layout.Success);
        var error = Assert.Single(layout.Errors, e => e.Path == "readers[0].door");
        Assert.Equal(PositionOf(yaml, "door-nowhere").Line, error.Line);
        Assert.Contains("door-nowhere", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseLayout_PeopleAndCredentialsHoldingNoList_ReadsTheRestAsUsual()
    {
        var yaml = string.Concat(Valid.AsSpan(0, Valid.IndexOf("people:", StringComparison.Ordinal)), "people: ~\ncredentials: not a list\n");
        Assert.False(Parse(yaml).Success);

        var layout = SiteFileLoader.ParseLayout(yaml, FileName);

        Assert.True(layout.Success, string.Join("; ", layout.Errors));
        Assert.Equal(3, layout.Layout!.Topology.Readers.Count);
    }

    [Fact]
    public void ParseLayout_AnUnknownTopLevelKey_IsStillAnError()
    {
        var yaml = With("people:\n", "peeple: []\npeople:\n");

        var error = Assert.Single(SiteFileLoader.ParseLayout(yaml, FileName).Errors);

        Assert.Contains("unknown key 'peeple'", error.Message, StringComparison.Ordinal);
    }
}

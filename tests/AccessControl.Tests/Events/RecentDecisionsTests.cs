using AccessControl.Events;
using AccessControl.Protocol;

namespace AccessControl.Tests.Events;

public class RecentDecisionsTests
{
    private static DecisionMessage Grant(string eventId) => new(eventId, true, "granted", "door-lobby", 5);

    [Fact]
    [Trait("control", "NIST-PE-3")]
    public void ARedelivery_GetsTheAnswerFirstSent_AndOnlyTheSameReaderAndEventIdMatch()
    {
        var recent = new RecentDecisions(capacity: 16);
        recent.Add("readers/rdr-a", "e-1", Grant("e-1"), seq: 1);

        Assert.True(recent.TryGet("readers/rdr-a", "e-1", out var again, out _));
        Assert.Equal(Grant("e-1"), again);
        Assert.False(recent.TryGet("readers/rdr-b", "e-1", out _, out _));
        Assert.False(recent.TryGet("readers/rdr-a", "e-10", out _, out _));

        // The key separates source and eventId: "readers/rdr-a" + "e-1" is not "readers/rdr-" + "ae-1".
        Assert.False(recent.TryGet("readers/rdr-", "ae-1", out _, out _));
    }

    [Fact]
    public void AnUnansweredEvent_IsRemembered_WithoutAnAnswer()
    {
        var recent = new RecentDecisions(capacity: 16);
        recent.Add("doors/door-lobby", "d-1", null, seq: 1);

        Assert.True(recent.TryGet("doors/door-lobby", "d-1", out var answer, out _));
        Assert.Null(answer);
    }

    [Fact]
    public void APendingCard_IsAnsweredWithItsFinalDecision_OnceSet()
    {
        var recent = new RecentDecisions(capacity: 16);
        recent.Add("readers/rdr-sr", "c-1", new DecisionMessage("c-1", false, "fingerprint_required", "door-sr", 0) { Pending = true }, seq: 1);
        recent.Set("readers/rdr-sr", "c-1", new DecisionMessage("c-1", true, "granted", "door-sr", 5), seq: 1);

        Assert.True(recent.TryGet("readers/rdr-sr", "c-1", out var answer, out _));
        Assert.Equal((true, "granted", false), (answer!.Grant, answer.Reason, answer.Pending));
    }

    [Fact]
    public void TheOldestEntry_GoesFirst_WhenFull()
    {
        var recent = new RecentDecisions(capacity: 2);
        recent.Add("readers/r", "1", Grant("1"), seq: 1);
        recent.Add("readers/r", "2", Grant("2"), seq: 1);
        recent.Add("readers/r", "3", Grant("3"), seq: 1);

        Assert.False(recent.TryGet("readers/r", "1", out _, out _));
        Assert.True(recent.TryGet("readers/r", "2", out _, out _));
        Assert.True(recent.TryGet("readers/r", "3", out _, out _));
    }

    [Fact]
    public void AnEventIdLongerThanTheStackBuffer_IsKeyedToo()
    {
        var recent = new RecentDecisions(capacity: 4);
        var id = new string('x', 600);
        recent.Add("readers/r", id, Grant(id), seq: 1);

        Assert.True(recent.TryGet("readers/r", id, out _, out _));
        Assert.False(recent.TryGet("readers/r", id[..599], out _, out _));
    }

    [Fact]
    public void ZeroCapacity_RemembersNothing()
    {
        var recent = new RecentDecisions(capacity: 0);
        recent.Add("readers/r", "1", Grant("1"), seq: 1);
        recent.Set("readers/r", "1", Grant("1"), seq: 1);

        Assert.False(recent.TryGet("readers/r", "1", out _, out _));
    }

    [Fact]
    public void AMillionEvents_ThroughAFullCache_KeepExactlyTheNewest()
    {
        var recent = new RecentDecisions(capacity: 1000);
        for (var i = 0; i < 1_000_000; i++)
        {
            recent.Add("readers/r", i.ToString(System.Globalization.CultureInfo.InvariantCulture), null, seq: i);
        }

        Assert.False(recent.TryGet("readers/r", "998999", out _, out _));
        Assert.True(recent.TryGet("readers/r", "999000", out _, out _));
        Assert.True(recent.TryGet("readers/r", "999999", out _, out _));
    }

    [Fact]
    public void TooLargeACache_IsRefusedByTheSettings()
    {
        var options = new PipelineOptions { RecentEvents = PipelineOptions.MaxRecentEvents + 1 };

        var refused = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Contains("RecentEvents 0..4194304", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheEventsSeq_IsRemembered_AndAFinalDecisionKeepsTheCardsSeq()
    {
        var recent = new RecentDecisions(capacity: 16);
        recent.Add("readers/rdr-sr", "c-1", new DecisionMessage("c-1", false, "fingerprint_required", "door-sr", 0) { Pending = true }, seq: 41);
        recent.Set("readers/rdr-sr", "c-1", new DecisionMessage("c-1", true, "granted", "door-sr", 5), seq: null);
        recent.Add("doors/door-lobby", "d-1", null, seq: null);

        Assert.True(recent.TryGet("readers/rdr-sr", "c-1", out _, out var seq));
        Assert.Equal(41, seq);
        Assert.True(recent.TryGet("doors/door-lobby", "d-1", out _, out var none));
        Assert.Null(none);
    }
}

using AccessControl.Broker;
using NodaTime;
using Xunit;

namespace AccessControl.Tests.Broker;

public sealed class SecurityEventBudgetTests
{
    private static readonly Instant Start = Instant.FromUtc(2026, 11, 30, 9, 0);

    private static readonly SecurityEventLimits Limits = new() { Window = TimeSpan.FromMinutes(1), PerSource = 3, PerWindow = 5 };

    private static SecurityEvent Refused(string username, Instant at, string what = SecurityEvent.ConnectRefused, string? from = null) =>
        new(at, username, username, what, "wrong password", from);

    [Fact]
    [Trait("control", "NIST-AU-4")]
    public void AFloodFromOneSource_GetsRowsUpToItsLimit_AndTheRestIsCountedForOneRowWhenTheWindowHasPassed()
    {
        var budget = new SecurityEventBudget(Limits);

        var admitted = Enumerable.Range(0, 10).Select(i => budget.Admit(Refused("rdr-lobby-in", Start + Duration.FromSeconds(i)))).ToList();

        Assert.Equal([true, true, true, false, false, false, false, false, false, false], admitted);
        Assert.Empty(budget.Close(Start + Duration.FromSeconds(59)));
        var counted = Assert.Single(budget.Close(Start + Duration.FromMinutes(1)));
        Assert.Equal(new SuppressedSecurityEvents(SecurityEvent.ConnectRefused, "rdr-lobby-in", 7, 0, Start + Duration.FromSeconds(3), Start + Duration.FromSeconds(9)), counted);
    }

    [Fact]
    public void AfterTheWindowHasPassed_ASourceGetsRowsAgain_AndNothingIsCountedTwice()
    {
        var budget = new SecurityEventBudget(Limits);
        for (var i = 0; i < 4; i++)
        {
            budget.Admit(Refused("rdr-lobby-in", Start));
        }

        Assert.Single(budget.Close(Start + Duration.FromMinutes(2)));

        Assert.True(budget.Admit(Refused("rdr-lobby-in", Start + Duration.FromMinutes(2))));
        Assert.Empty(budget.Close(Start + Duration.FromMinutes(4)));
    }

    [Fact]
    [Trait("control", "NIST-AU-4")]
    public void ManySources_ShareTheWindowsLimit_AndAreCountedEachUnderItsOwnName()
    {
        var budget = new SecurityEventBudget(Limits);

        var admitted = Enumerable.Range(0, 8).Select(i => budget.Admit(Refused($"guess-{i}", Start))).ToList();

        Assert.Equal(5, admitted.Count(a => a));
        var counted = budget.Close(Start + Duration.FromMinutes(1));
        Assert.Equal(["guess-5", "guess-6", "guess-7"], counted.Select(c => c.Source));
        Assert.All(counted, c => Assert.Equal(1, c.Count));
    }

    [Fact]
    public void RefusalsBeforeAnyLogin_CountAgainstTheirRemoteAddress_WhateverUsernameTheyTry()
    {
        var budget = new SecurityEventBudget(Limits with { PerWindow = 100 });

        var admitted = Enumerable.Range(0, 6)
            .Select(i => budget.Admit(new SecurityEvent(Start, "", "", SecurityEvent.PacketRefused, "too large", "10.1.2.3")))
            .ToList();

        Assert.Equal(3, admitted.Count(a => a));
        Assert.Equal(("10.1.2.3", 3), budget.Close(Start + Duration.FromMinutes(1)).Select(c => (c.Source, c.Count)).Single());
    }

    [Fact]
    public void KindsAreCountedApart()
    {
        var budget = new SecurityEventBudget(Limits with { PerWindow = 100 });
        for (var i = 0; i < 4; i++)
        {
            budget.Admit(Refused("rdr-lobby-in", Start, SecurityEvent.ConnectRefused));
            budget.Admit(Refused("rdr-lobby-in", Start, SecurityEvent.PublishRefused));
        }

        Assert.Equal([(SecurityEvent.ConnectRefused, 1), (SecurityEvent.PublishRefused, 1)],
            budget.Close(Start + Duration.FromMinutes(1)).Select(c => (c.What, c.Count)));
    }

    [Fact]
    public void BeyondTheSourcesItTracks_FurtherSourcesAreCountedTogether_SoRandomUsernamesCannotGrowItsMemory()
    {
        var budget = new SecurityEventBudget(Limits with { PerSource = 1, PerWindow = 1 });
        budget.Admit(Refused("first", Start));

        for (var i = 0; i < SecurityEventBudget.MaxSourcesPerWindow + 50; i++)
        {
            Assert.False(budget.Admit(Refused($"guess-{i}", Start)));
        }

        var counted = budget.Close(Start + Duration.FromMinutes(1));
        Assert.Equal(SecurityEventBudget.MaxSourcesPerWindow + 1, counted.Count);
        Assert.Equal(50, counted.Single(c => c.Source == SecurityEventBudget.OtherSources).Count);
        Assert.Equal(SecurityEventBudget.MaxSourcesPerWindow + 50, counted.Sum(c => c.Count));
    }

    [Fact]
    public void RefusalsTheQueueDropped_AreCountedAsDropped()
    {
        var budget = new SecurityEventBudget(Limits);

        budget.Dropped(Refused("rdr-lobby-in", Start));
        budget.Dropped(Refused("rdr-lobby-in", Start + Duration.FromSeconds(1)));

        var counted = Assert.Single(budget.Close(Start + Duration.FromMinutes(1)));
        Assert.Equal((2, 2), (counted.Count, counted.Dropped));
    }

    [Theory]
    [InlineData(0, 3, 5)]
    [InlineData(60, 0, 5)]
    [InlineData(60, 6, 5)]
    [InlineData(7200, 3, 5)]
    public void UnusableLimits_AreSettingsErrors(int windowSeconds, int perSource, int perWindow)
    {
        var limits = new SecurityEventLimits { Window = TimeSpan.FromSeconds(windowSeconds), PerSource = perSource, PerWindow = perWindow };

        Assert.NotEmpty(new BrokerOptions { SecurityEvents = limits }.Validate());
    }
}

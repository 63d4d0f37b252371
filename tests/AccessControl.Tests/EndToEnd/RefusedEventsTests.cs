using System.Threading.Channels;
using AccessControl.EntryLog;
using AccessControl.HardwareSim.Devices;
using AccessControl.HardwareSim.Readers;
using AccessControl.Tests.HardwareSim.Support;
using AccessControl.Tests.Support;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.EndToEnd;

/// <summary>
/// The simulated reader's firmware rules for events a broker refuses (reader-protocol §3, PUBACK reason codes), against
/// the real service and brokers. The reader's timers run on a manual time provider, so minutes pass without waiting.
/// </summary>
public class RefusedEventsTests
{
    private const string ReaderId = "rdr-dh1-in";

    public static TheoryData<BrokerKind> Brokers => TestBrokers.Kinds;

    [Theory]
    [MemberData(nameof(Brokers))]
    public async Task AnEventRefusedTooLarge_IsDroppedWithAFault_NeverResent_AndTheNextEventIsDecided(BrokerKind broker)
    {
        await using var edge = await EdgeHarness.StartAsync(broker);
        var time = new ManualTimeProvider(EdgeHarness.BusinessHours);
        await using var reader = await StartReaderAsync(edge, time);
        var faults = Faults(reader);

        // A card UID as long as no card has: the payload is over both brokers' limit of 65536 bytes, the packet within
        // the maximum packet size Mosquitto announces (limit + headroom), so the broker, not the client, refuses it.
        var oversized = reader.PresentCard(new string('A', 65_536), Ev3);
        var fault = await faults.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout);

        Assert.Equal((DeviceFaultKind.PayloadTooLarge, oversized.EventId), (fault.Kind, fault.EventId));
        Assert.StartsWith("PUBACK 0x95", fault.Detail, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => oversized.Decision.WaitAsync(EdgeHarness.Timeout));
        Assert.Equal(0, reader.Counters.Pending);

        time.Advance(TimeSpan.FromMinutes(10));
        var swipe = reader.PresentCard(Operator, Ev3);
        var next = await swipe.Decision.WaitAsync(EdgeHarness.Timeout);

        // The decision can overtake the PUBACK (the embedded broker answers from inside): the counters move once it is in.
        await swipe.HandedOff.WaitAsync(EdgeHarness.Timeout);
        Assert.Equal("granted", next.Reason);
        Assert.False(faults.Reader.TryRead(out _));
        Assert.Equal((1L, 0L), (reader.Counters.Sent, reader.Counters.Resent));
    }

    /// <summary>
    /// With the embedded broker a reader removed by a site reload while connected gets PUBACK 0x87 for its events.
    /// It keeps the event, re-sends it only every 30 s, reports a fault each time, and after 5 minutes stops and
    /// disconnects; the broker then refuses it at CONNECT.
    /// </summary>
    [Fact]
    public async Task AReaderRemovedByAReload_ResendsEvery30s_AndAfter5MinutesOf0x87_StopsAndDisconnects()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var time = new ManualTimeProvider(EdgeHarness.BusinessHours);
        await using var removed = await StartThenRemoveReaderAsync(edge, time);
        var reader = removed.Reader;

        var swipe = reader.PresentCard(Operator, Ev3);
        var seen = await FaultsUntilGivingUpAsync(removed.Faults, time);

        Assert.Equal(Enumerable.Range(0, 11).Select(i => TimeSpan.FromSeconds(30 * i)), seen.Select(f => f.Elapsed));
        Assert.All(seen[..^1], f => Assert.Equal(DeviceFaultKind.NotAuthorized, f.Kind));
        Assert.Equal(DeviceFaultKind.GaveUpNotAuthorized, seen[^1].Kind);
        Assert.All(seen, f => Assert.Equal(swipe.EventId, f.EventId));
        Assert.StartsWith("PUBACK 0x87", seen[0].Detail, StringComparison.Ordinal);
        await reader.WhenDisconnectedAsync().WaitAsync(EdgeHarness.Timeout);
        var refused = await edge.RowAsync(r => r.Kind == LogKinds.Security && r.Reason == "connect_refused" && r.Actor == ReaderId);

        Assert.NotNull(refused);
        Assert.False(swipe.Decision.IsCompleted);
        Assert.Equal(1, reader.Counters.Pending);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Access, ReaderId = ReaderId }));
    }

    /// <summary>
    /// A reader cut off from the service (here: removed by a reload, then put back) for longer than the 5 minutes the
    /// service allows a live event's <c>at</c>: after 4 minutes without a decision the reader re-sends the event with
    /// <c>"offline": true</c>, so the service takes it as an offline replay and decides it instead of refusing it as
    /// <c>replay_suspected</c>.
    /// </summary>
    [Fact]
    public async Task AReaderCutOffForMoreThan4Minutes_ResendsItsEventOffline_AndIsDecided_NotRefusedAsAReplay()
    {
        await using var edge = await EdgeHarness.StartAsync();
        var time = new ManualTimeProvider(EdgeHarness.BusinessHours);
        await using var removed = await StartThenRemoveReaderAsync(edge, time);
        var swipe = removed.Reader.PresentCard(Operator, Ev3);
        await FaultsUntilGivingUpAsync(removed.Faults, time);

        edge.Clock.Advance(NodaTime.Duration.FromMinutes(6));
        edge.Edge.Configuration.SetTopology(removed.Site);
        await time.AdvanceUntilAsync(swipe.Decision, EdgeHarness.Timeout);

        var decision = await swipe.Decision;
        Assert.Equal(("granted", true), (decision.Reason, swipe.Offline));
        var row = await edge.RowAsync(r => r.Kind == LogKinds.Access && r.EventId == swipe.EventId);
        Assert.True(row.Offline);
        Assert.Equal(EdgeHarness.BusinessHours, row.DeviceAt);
        Assert.Empty(edge.Rows(new LogFilter { Kind = LogKinds.Access, Reason = "replay_suspected" }));
    }

    /// <summary>A reader whose timers run on <paramref name="time"/> and whose <c>at</c> stamps come from the service's clock; no connection checks or heartbeats in the way.</summary>
    private static async Task<CardReader> StartReaderAsync(EdgeHarness edge, ManualTimeProvider time)
    {
        var reader = new CardReader(ReaderId, edge.DeviceOptions with { ConnectionCheckInterval = TimeSpan.FromDays(1) }, edge.Secrets, edge.Clock, time,
            new CardReaderOptions { HeartbeatInterval = TimeSpan.Zero });
        await reader.StartAsync().WaitAsync(EdgeHarness.Timeout);
        return reader;
    }

    /// <summary>A started reader, then a site reload without it (the site before is kept, to put it back).</summary>
    private static async Task<RemovedReader> StartThenRemoveReaderAsync(EdgeHarness edge, ManualTimeProvider time)
    {
        var reader = await StartReaderAsync(edge, time);
        var removed = new RemovedReader(reader, Faults(reader), edge.Edge.Configuration.Topology);
        edge.Edge.Configuration.SetTopology(Without(removed.Site, ReaderId));
        return removed;
    }

    private static Channel<DeviceFault> Faults(SimulatedDevice device)
    {
        var faults = Channel.CreateUnbounded<DeviceFault>();
        device.FaultReported += f => faults.Writer.TryWrite(f);
        return faults;
    }

    /// <summary>Each fault is raised once the next re-send is armed: moves time to it, until the reader gives up.</summary>
    private static async Task<List<DeviceFault>> FaultsUntilGivingUpAsync(Channel<DeviceFault> faults, ManualTimeProvider time)
    {
        var seen = new List<DeviceFault>();
        while (seen.LastOrDefault()?.Kind != DeviceFaultKind.GaveUpNotAuthorized)
        {
            if (seen.Count > 0)
            {
                time.Advance(TimeSpan.FromSeconds(30));
            }

            seen.Add(await faults.Reader.ReadAsync().AsTask().WaitAsync(EdgeHarness.Timeout));
        }

        return seen;
    }

    private static Sites.SiteTopology Without(Sites.SiteTopology t, string readerId) =>
        new(t.Sites.Values, t.Zones.Values, t.Doors.Values, t.Readers.Values.Where(r => r.Id.Value != readerId), t.Controllers.Values, t.Schedules.Values) { FirePanels = t.FirePanels };

    private sealed record RemovedReader(CardReader Reader, Channel<DeviceFault> Faults, Sites.SiteTopology Site) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Reader.DisposeAsync();
    }
}

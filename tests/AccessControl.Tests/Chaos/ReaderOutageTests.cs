using AccessControl.Protocol;
using AccessControl.Tests.Support;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// Issue 5, item 2: one reader cut off from the broker (a cut cable: no DISCONNECT, so Mosquitto publishes its last
/// will) while a wave of cards is presented on it and the other readers go on. The service raises reader_offline from
/// the last will; the reader replays the wave when it is back, marked offline; each of those events is logged once,
/// marked offline, with the decision the reader heard.
/// </summary>
[Collection(ChaosCollection.Name)]
public class ReaderOutageTests
{
    [Fact]
    [Trait("control", "NIST-PE-6")]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    public async Task ReaderCutOffWhileCardsArePresented_LastWillRaisesReaderOffline_AndTheReplayedCardsAreEachLoggedOnceMarkedOffline()
    {
        using var folder = new DataFolder();
        await using var rig = await ServiceRig.StartAsync(folder.Path);
        await using var monitor = await rig.MonitorAsync();
        var cutOff = rig.Readers[0];
        const int Wave = 100;

        var others = rig.PresentAsync(rig.Readers.Skip(1), 30);
        await cutOff.DropConnectionAsync();
        var wave = Enumerable.Range(0, Wave).Select(i => cutOff.PresentCard(i % 10 == 9 ? Unknown : Operator, Ev3)).ToList();
        var offline = await monitor.WhenHeardAsync(AlarmTypes.ReaderOffline, ServiceRig.Timeout, cutOff.ReaderId);
        await cutOff.RestoreConnectionAsync().WaitAsync(ServiceRig.Timeout);
        var online = await monitor.WhenHeardAsync(AlarmTypes.ReaderOnline, ServiceRig.Timeout, cutOff.ReaderId);
        foreach (var pending in wave)
        {
            await rig.HeardAsync(cutOff, pending);
        }

        await others.WaitAsync(ServiceRig.Timeout);
        var log = await rig.StopAndAuditAsync();

        Assert.All(wave, e => Assert.True(e.Offline, $"{e.EventId} was made while the reader was cut off but not as an offline event"));
        Assert.Contains("last will", offline.Detail, StringComparison.Ordinal);
        Assert.Equal(cutOff.ReaderId, online.ReaderId);
        Assert.Equal(Wave + (3 * 30), rig.Heard.Count);
        log.AssertEachHeardDecisionLoggedOnce(rig.Heard.Count);
        Assert.Equal(Wave, log.Audit.MadeOffline);
        Assert.Empty(log.Audit.NotMarkedOffline);
        Assert.Equal(Wave, log.Access.Count(r => r.Offline));
        Assert.Equal(0, log.Audit.OutOfSeqOrder);
        Assert.Contains(log.Alarms, a => a.Reason == AlarmTypes.ReaderOffline && a.ReaderId == cutOff.ReaderId);
        log.AssertChainVerifies();
    }
}

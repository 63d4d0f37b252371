using AccessControl.Lab.Chaos;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using static AccessControl.Tests.EndToEnd.DemoCards;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// Issue 5, item 2: the service's wall clock stepped back and forward by minutes (libfaketime) while its monotonic
/// clock runs on, as NTP correcting a bad clock does, while the readers present cards. Each step raises a
/// clock_anomaly alarm; swipes are still decided (the steps stay within the readers' 5-minute skew window); the rows'
/// times go back with the clock, but per reader the log keeps the readers' own order (device seq).
/// </summary>
[Collection(ChaosCollection.Name)]
public class ClockJumpTests
{
    [Fact]
    [Trait("control", "NIST-AU-8")]
    [Trait("control", "PCI-10.6")]
    public async Task ServiceClockSteppedBackAndForward_EachStepRaisesClockAnomaly_AndEachReadersEventsStayInSeqOrder()
    {
        using var folder = new DataFolder();
        var wallClock = FakeWallClock.Create(folder.Path);
        await using var rig = await ServiceRig.StartAsync(folder.Path, wallClock.Environment);
        await using var monitor = await rig.MonitorAsync();
        TimeSpan[] steps = [TimeSpan.FromMinutes(-3), TimeSpan.Zero, TimeSpan.FromMinutes(3)];
        const int PerReader = 25;

        foreach (var offset in steps)
        {
            // The step lands while a batch of swipes is under way.
            var batch = rig.PresentAsync(rig.Readers, PerReader, i => i % 10 == 9 ? Unknown : Operator);
            await rig.Heard.WhenAsync("the batch's first decisions", _ => true, ServiceRig.Timeout, from: rig.Heard.Count + 9);
            var alarmsBefore = monitor.Alarms.Count;
            wallClock.StepTo(offset);
            await monitor.Alarms.WhenAsync($"a clock_anomaly alarm for the step to {offset}", a => a.Type == AlarmTypes.ClockAnomaly, ServiceRig.Timeout, from: alarmsBefore);
            await batch.WaitAsync(ServiceRig.Timeout);
        }

        await rig.PresentAsync(rig.Readers, PerReader).WaitAsync(ServiceRig.Timeout);
        var log = await rig.StopAndAuditAsync();

        Assert.Equal(4 * PerReader * 4, rig.Heard.Count);
        log.AssertEachHeardDecisionLoggedOnce(rig.Heard.Count);
        Assert.DoesNotContain(rig.Heard.Snapshot(), h => h.Decision.Reason == "replay_suspected");
        Assert.True(log.Audit.ClockAnomalyAlarms >= steps.Length, $"{log.Audit.ClockAnomalyAlarms} clock_anomaly alarm rows for {steps.Length} steps");
        Assert.True(log.Audit.StampedEarlier > 0, "no row is stamped earlier than its reader's row before it: the step back did not reach the service");
        Assert.Equal(0, log.Audit.OutOfSeqOrder);
        log.AssertChainVerifies();
    }
}

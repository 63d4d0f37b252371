using AccessControl.Tests.Support;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// Issue 5, item 2: the service killed with SIGKILL in the middle of a run, and started again on the same data folder,
/// while the readers keep presenting cards (Mosquitto keeps the readers connected meanwhile). Afterwards every reader
/// event is in the log exactly once, no reader ever heard a grant that has no durable row, and the chain verifies.
/// </summary>
[Collection(ChaosCollection.Name)]
public class ServiceKillTests
{
    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-CP-10")]
    [Trait("control", "PCI-10.2")]
    public async Task ServiceKilledMidRun_EveryEventIsLoggedOnce_NoGrantWithoutARow_AndTheChainVerifies()
    {
        using var folder = new DataFolder();
        await using var rig = await ServiceRig.StartAsync(folder.Path);
        const int PerReader = 60;

        var swipes = rig.PresentAsync(rig.Readers, PerReader);
        await rig.Heard.WhenAsync("a third of the decisions", _ => true, ServiceRig.Timeout, from: (PerReader * rig.Readers.Count / 3) - 1);
        await rig.KillAndRestartServiceAsync();
        await swipes.WaitAsync(TimeSpan.FromSeconds(240));
        var log = await rig.StopAndAuditAsync();

        Assert.Equal(PerReader * 4, rig.Heard.Count);
        log.AssertEachHeardDecisionLoggedOnce(rig.Heard.Count);
        log.AssertChainVerifies();
    }
}

/// <summary>Chaos tests start and kill whole service processes: they run alone, not beside tests that wait on real time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosCollection
{
    public const string Name = "chaos";
}

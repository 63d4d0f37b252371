using AccessControl.EntryLog;
using AccessControl.Lab.Chaos;
using AccessControl.Protocol;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// Issue 5, item 2: the service's data folder on a real filesystem that runs out of space (a tmpfs filled with a
/// filler file until ENOSPC), not SQLite's page cap. Once the log cannot take a row, swipes are denied log_failure
/// with a log_failure alarm, never granted; when the filler is deleted swipes are granted again, and the events that
/// were refused are in the log as the deny/log_failure the readers heard, each once, behind one integrity/outage row.
/// </summary>
[Collection(ChaosCollection.Name)]
public class DiskFullTests
{
    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "PCI-10.2")]
    [Trait("control", "PCI-10.7")]
    public async Task DataFolderOnAFullFilesystem_SwipesAreDeniedLogFailureWithAnAlarm_NeverGranted_AndGrantedAgainWhenSpaceReturns()
    {
        using var folder = new DataFolder();
        await using var tmpfs = await Tmpfs.MountAsync(folder.Path, 256);
        await using var rig = await ServiceRig.StartAsync(folder.Path);
        await using var monitor = await rig.MonitorAsync();
        var lobby = rig.Readers[0];
        await rig.PresentAsync([lobby], 20);

        await tmpfs.FillAsync();

        var answer = await PresentUntilRefusedAsync(rig, lobby);

        var alarm = await monitor.WhenHeardAsync(AlarmTypes.LogFailure, ServiceRig.Timeout);
        var refused = rig.Heard.Count - 1;
        await rig.PresentAsync([lobby], 30);
        var whileFull = rig.Heard.Snapshot().Skip(refused).ToList();
        await tmpfs.FreeAsync();
        var afterwards = await rig.HeardAsync(lobby, lobby.PresentCard(EndToEnd.DemoCards.Operator, EndToEnd.DemoCards.Ev3));
        var log = await rig.StopAndAuditAsync();

        Assert.Equal((false, "log_failure"), (answer.Decision.Grant, answer.Decision.Reason));
        Assert.Equal(AlarmTypes.LogFailure, alarm.Type);
        Assert.All(whileFull, h => Assert.Equal((false, "log_failure", 0), (h.Decision.Grant, h.Decision.Reason, h.Decision.UnlockSeconds)));
        Assert.True(afterwards.Decision.Grant, $"after the filler was deleted: {afterwards.Decision.Reason}");
        log.AssertEachHeardDecisionLoggedOnce(rig.Heard.Count);
        Assert.Equal(whileFull.Count, log.Access.Count(r => r.Reason == "log_failure"));
        Assert.Equal(1, log.Audit.OutageRows);
        log.AssertChainVerifies();
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "PCI-10.2")]
    [Trait("control", "PCI-10.5")]
    public async Task ServiceKilledWhileTheFilesystemIsFull_StartsAgain_AndEveryDenyItHadAnswered_IsLoggedOnceWhenSpaceReturns()
    {
        using var folder = new DataFolder();
        await using var tmpfs = await Tmpfs.MountAsync(folder.Path, 256);
        await using var rig = await ServiceRig.StartAsync(folder.Path);
        var lobby = rig.Readers[0];
        await rig.PresentAsync([lobby], 5);
        await tmpfs.FillAsync();
        var answer = await PresentUntilRefusedAsync(rig, lobby);

        var refused = rig.Heard.Count - 1;
        await rig.PresentAsync([lobby], 20);

        // The rows of those denies exist only in the service's memory and its outage journal when it is killed; it
        // starts again on the same, still full, filesystem and goes on denying.
        var deniedBeforeKill = rig.Heard.Count - refused;
        await rig.KillAndRestartServiceAsync();
        await rig.PresentAsync([lobby], 5);
        var whileFull = rig.Heard.Snapshot().Skip(refused).ToList();
        await tmpfs.FreeAsync();
        var afterwards = await rig.HeardAsync(lobby, lobby.PresentCard(EndToEnd.DemoCards.Operator, EndToEnd.DemoCards.Ev3));
        var log = await rig.StopAndAuditAsync();

        Assert.Equal((false, "log_failure"), (answer.Decision.Grant, answer.Decision.Reason));
        // While full, every answer is log_failure, unless a WAL checkpoint freed a little room and a commit went through
        // (see below): then that swipe was decided as usual, and its row is in the log like every other answer's.
        var failures = whileFull.Where(h => h.Decision.Reason == "log_failure").ToList();
        Assert.All(whileFull.Except(failures), h => Assert.True(h.Decision.Reason == "granted" || !h.Decision.Grant, h.Decision.Reason));
        Assert.NotEmpty(failures);
        Assert.True(afterwards.Decision.Grant, $"after the filler was deleted: {afterwards.Decision.Reason}");
        log.AssertEachHeardDecisionLoggedOnce(rig.Heard.Count);
        Assert.Equal(failures.Count, log.Access.Count(r => r.Reason == "log_failure"));
        // Usually one outage. But a checkpoint during it can free WAL space on the full filesystem, and a batch of
        // another kind (a status or security row) then commits, ending that outage with its row; the next commit that
        // needs space starts another. Then only the rows kept since are in the journal at the kill.
        var outages = log.Rows.Where(r => r.Kind == LogKinds.Integrity && r.Reason == "outage").ToList();
        var restored = Assert.Single(outages, r => r.Detail!.Contains("\"restoredAtStart\"", StringComparison.Ordinal));
        using var detail = System.Text.Json.JsonDocument.Parse(restored.Detail!);
        Assert.InRange(detail.RootElement.GetProperty("restoredAtStart").GetInt32(), outages.Count == 1 ? deniedBeforeKill : 1, deniedBeforeKill + 10);
        log.AssertChainVerifies();
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task CheckpointFileAppend_CutShortByAFullFilesystem_LeavesTheFileAsItWas_AndTheRetryAppendsAWholeLine()
    {
        using var folder = new DataFolder();
        await using var tmpfs = await Tmpfs.MountAsync(folder.Path, 16);
        var file = CheckpointFile.PathIn(folder.Path);
        static LogCheckpoint Checkpoint(long seq) => new(seq, new byte[32], seq, Instant.FromUnixTimeSeconds(1_800_000_000), "0123456789abcdef", new byte[71]);
        var line = Checkpoint(1000).ToJsonLine().Length + 1;

        // Lines until the next one straddles a page: on a full tmpfs, its first part still fits in the last page.
        var seq = 1000L;
        long Room() => 4096 - (new FileInfo(file).Length % 4096);
        do
        {
            CheckpointFile.Append(file, Checkpoint(seq++));
        }
        while (Room() >= line || Room() < 16);

        var before = new FileInfo(file).Length;
        await tmpfs.FillAsync();
        Assert.Throws<IOException>(() => CheckpointFile.Append(file, Checkpoint(seq)));
        var afterFailure = new FileInfo(file).Length;
        await tmpfs.FreeAsync();
        CheckpointFile.Append(file, Checkpoint(seq));

        Assert.Equal(before, afterFailure);
        var lines = CheckpointFile.ReadAll(file);
        Assert.All(lines, l => Assert.Null(l.Error));
        Assert.Equal(seq, lines[^1].Checkpoint!.Seq);
        Assert.Equal(seq - 1000 + 1, lines.Count);
    }

    /// <summary>Presents the operator's card until the log refuses a row (SQLite may still have room in its WAL file for some commits).</summary>
    private static async Task<HeardDecision> PresentUntilRefusedAsync(ServiceRig rig, global::AccessControl.HardwareSim.Readers.CardReader lobby)
    {
        HeardDecision answer;
        do
        {
            answer = await rig.HeardAsync(lobby, lobby.PresentCard(EndToEnd.DemoCards.Operator, EndToEnd.DemoCards.Ev3));
        }
        while (answer.Decision.Reason != "log_failure" && rig.Heard.Count < 2000);

        return answer;
    }
}

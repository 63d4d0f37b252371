using AccessControl.Cli;
using AccessControl.EntryLog;
using AccessControl.Tests.EndToEnd;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Chaos;

/// <summary>
/// The restore of docs/operations.md section 8, step by step over the real service, Mosquitto and a real SQLite file:
/// a backup with <c>sqlite3 .backup</c> while the service takes swipes, more swipes after it, then a fresh data folder
/// with the backup, the keys and no checkpoint file or index. The log the service signed past the backup must show as a
/// rollback, and the restored service must verify and decide as the backup says.
/// </summary>
[Collection(ChaosCollection.Name)]
public class RestoreTests
{
    private static readonly string[] KeyFiles = ["provisioning.key", "pii.key", "hr-feed.key", "fingerprint.keys", "log-signing.key"];

    [Fact]
    [Trait("control", "NIST-CP-9")]
    [Trait("control", "NIST-CP-10")]
    [Trait("control", "NIST-AU-9")]
    public async Task RestoreAsDocumented_VerifiesAndKeepsTerminationsDenied_AndTheOldCheckpointsShowTheLostTailAsTruncated()
    {
        using var live = new DataFolder();
        using var backup = new DataFolder();
        using var restored = new DataFolder();
        await using var rig = await ServiceRig.StartAsync(live.Path, new Dictionary<string, string> { ["AccessControl__LogIntegrity__CheckpointEveryRows"] = "4" });
        var lobbyIn = rig.Readers.Single(r => r.ReaderId == "rdr-lobby-in");

        // A termination through the API and some swipes, all before the backup.
        var token = await CliAsync(["token", "create", "--db", Path.Combine(live.Path, "accesscontrol.db"), "--operator", "restorer", "--role", "admin", "--person", "p-mkoch"]);
        await CliAsync(["person", "status", "p-lromano", "terminated", "--url", rig.HttpUrl], token.Trim());
        var before = await rig.HeardAsync(lobbyIn, lobbyIn.PresentCard(DemoCards.Contractor, DemoCards.Ev2));
        await rig.PresentAsync(rig.Readers, 2);

        // Section 8's backup, while the service runs; then rows (and checkpoints) the backup does not have.
        var (backedUp, backupOutput) = await ProgramRun.RunAsync("sqlite3", [Path.Combine(live.Path, "accesscontrol.db"), $".backup {Path.Combine(backup.Path, "accesscontrol.db")}"], ServiceRig.Timeout);
        Assert.True(backedUp == 0, backupOutput);
        await rig.PresentAsync(rig.Readers, 3);
        await rig.StopServiceAsync();

        // The restore: the database alone, the keys, no -wal/-shm, no index, no checkpoint file.
        File.Copy(Path.Combine(backup.Path, "accesscontrol.db"), Path.Combine(restored.Path, "accesscontrol.db"));
        foreach (var key in KeyFiles.Where(k => File.Exists(Path.Combine(live.Path, k))))
        {
            File.Copy(Path.Combine(live.Path, key), Path.Combine(restored.Path, key));
        }

        var restoredDb = Path.Combine(restored.Path, "accesscontrol.db");
        var oldCheckpoints = CheckpointFile.PathIn(live.Path);
        var (lost, lostReport) = await VerifyAsync(restoredDb, "--checkpoints", oldCheckpoints, "--public-key", Path.Combine(live.Path, LogSigningKey.PublicKeyFileName));

        await rig.StartServiceOnAsync(restored.Path);
        var after = await rig.HeardAsync(lobbyIn, lobbyIn.PresentCard(DemoCards.Contractor, DemoCards.Ev2));
        var operatorAfter = await rig.HeardAsync(lobbyIn, lobbyIn.PresentCard(DemoCards.Operator, DemoCards.Ev3));
        await rig.StopServiceAsync();
        var (verified, verifyReport) = await VerifyAsync(restoredDb);

        Assert.Equal(1, lost);
        Assert.Matches(@"first broken row: seq \d+: truncated: the log ends at seq \d+ but a checkpoint covers up to seq \d+", lostReport);
        Assert.Contains("missing_from_database", lostReport, StringComparison.Ordinal);
        Assert.DoesNotContain("hash_mismatch", lostReport, StringComparison.Ordinal);
        Assert.False(before.Decision.Grant);
        Assert.Equal((false, before.Decision.Reason), (after.Decision.Grant, after.Decision.Reason));
        Assert.True(operatorAfter.Decision.Grant);
        Assert.True(verified == 0, verifyReport);
        Assert.StartsWith("entry log OK", verifyReport, StringComparison.Ordinal);
    }

    /// <summary><c>accesscontrol log verify --db DATABASE ...</c>: its exit code and everything it printed.</summary>
    private static async Task<(int Exit, string Report)> VerifyAsync(string database, params string[] options)
    {
        var output = new StringWriter();
        var exit = await AdminCommands.RunAsync(["log", "verify", "--db", database, .. options], SystemClockForCli, output, output, _ => null, new OsAccount("restorer", 1000));
        return (exit ?? -1, output.ToString());
    }

    /// <summary>Runs a CLI command in-process (token from <paramref name="token"/> as AC_TOKEN); returns what it printed on stdout, failing on a non-zero exit.</summary>
    private static async Task<string> CliAsync(string[] args, string? token = null)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await AdminCommands.RunAsync(args, SystemClockForCli, output, error, name => name == "AC_TOKEN" ? token : null, new OsAccount("restorer", 1000));
        Assert.True(exit == 0, $"{string.Join(' ', args)}: {error}");
        return output.ToString();
    }

    /// <summary>The service runs on the wall clock here (a separate process), so the CLI's rows are stamped the same way.</summary>
    private static IClock SystemClockForCli => new WallClock(RealTime.Instance);
}

using AccessControl.EntryLog;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// A verify of a running log can read the checkpoint file between a checkpoint's commit and its line being appended
/// (the writer files it just after, from another thread). Verify waits for the newest lines, and only for those.
/// </summary>
public sealed class LogVerifierFilingTests : IDisposable
{
    private readonly TestLog log = TestLog.Create();

    public void Dispose() => log.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Verify_WhileTheNewestCheckpointIsBeingFiled_WaitsForItsLine_AndFindsNothingWrong()
    {
        var text = File.ReadAllText(log.CheckpointPath);
        File.WriteAllText(log.CheckpointPath, WithoutLastLine(text)); // committed, not yet filed
        var waits = 0;
        var verifier = new LogVerifier(log.Database, log.CheckpointPath, log.PublicKeyPath)
        {
            WaitForFiling = () =>
            {
                waits++;
                File.WriteAllText(log.CheckpointPath, text); // the writer files it
            },
        };

        var result = verifier.Verify();

        Assert.True(result.Ok, string.Join("; ", result.CheckpointProblems.Select(p => p.Detail)));
        Assert.Equal(1, waits);
        Assert.Equal(result.DatabaseCheckpoints, result.CheckpointsMatched);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Verify_WhileTheNewestLineIsHalfAppended_WaitsForTheRest()
    {
        var text = File.ReadAllText(log.CheckpointPath);
        var lastLine = text.TrimEnd('\n').Split('\n')[^1];
        File.WriteAllText(log.CheckpointPath, text[..^(lastLine.Length / 2 + 1)]);
        var waits = 0;
        var verifier = new LogVerifier(log.Database, log.CheckpointPath, log.PublicKeyPath)
        {
            WaitForFiling = () =>
            {
                waits++;
                File.WriteAllText(log.CheckpointPath, text);
            },
        };

        var result = verifier.Verify();

        Assert.True(result.Ok, string.Join("; ", result.CheckpointProblems.Select(p => p.Detail)));
        Assert.Equal(1, waits);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void NewestLineThatNeverComes_IsReportedMissing_AfterEveryWait()
    {
        File.WriteAllText(log.CheckpointPath, WithoutLastLine(File.ReadAllText(log.CheckpointPath)));
        var waits = 0;
        var verifier = new LogVerifier(log.Database, log.CheckpointPath, log.PublicKeyPath) { WaitForFiling = () => waits++ };

        var result = verifier.Verify();

        Assert.False(result.Ok);
        Assert.Contains(result.CheckpointProblems, p => p is { Seq: 36, Problem: CheckpointProblems.MissingFromFile });
        Assert.Equal(LogVerifier.FilingWaits, waits);
        Assert.Contains(result.Notes, n => n.Contains("still missing from the file", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void AnOlderLineRemoved_IsReportedAtOnce_WithoutWaiting()
    {
        var lines = File.ReadAllLines(log.CheckpointPath);
        File.WriteAllLines(log.CheckpointPath, lines.Where((_, i) => i != 1)); // the second checkpoint's line, not the newest
        var waits = 0;
        var verifier = new LogVerifier(log.Database, log.CheckpointPath, log.PublicKeyPath) { WaitForFiling = () => waits++ };

        var result = verifier.Verify();

        Assert.False(result.Ok);
        Assert.Contains(result.CheckpointProblems, p => p.Problem == CheckpointProblems.MissingFromFile);
        Assert.Equal(0, waits);
    }

    private static string WithoutLastLine(string text)
    {
        var lines = text.TrimEnd('\n').Split('\n');
        return string.Join('\n', lines[..^1]) + "\n";
    }
}

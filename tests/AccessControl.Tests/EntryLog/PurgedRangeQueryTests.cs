using AccessControl.Cli;
using AccessControl.EntryLog;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>
/// A query of the log into a period the retention purge deleted says so: its rows are gone, and "no rows" there must
/// not read as "none happened".
/// </summary>
public sealed class PurgedRangeQueryTests : IDisposable
{
    private static readonly Instant Cut = TestLog.Start + Duration.FromMinutes(1);

    private readonly TestLog log = TestLog.Create();

    public void Dispose() => log.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.2")]
    public void Answer_IntoAPurgedPeriod_NamesTheHorizonAndTheHighestPurgedSeq_AndOneAfterIt_DoesNot()
    {
        var query = new EntryLogQuery(log.Database);
        Assert.Null(query.Answer(new LogFilter()).Purged); // never purged: nothing to say
        var purge = log.PurgeAYearOn(Cut);
        Assert.Equal(LogPurgeOutcome.Purged, purge.Outcome);

        var before = query.Answer(new LogFilter { From = TestLog.Start, To = Cut });
        var whole = query.Answer(new LogFilter());
        var fromTheHorizon = query.Answer(new LogFilter { From = Cut });
        var pastThePurgedSeqs = query.Answer(new LogFilter { AfterSeq = purge.ToSeq });

        Assert.Empty(before.Rows);
        Assert.Equal(new PurgeHorizon(Cut, purge.ToSeq, purge.PurgeSeq!.Value), before.Purged);
        Assert.Equal(before.Purged, whole.Purged);
        Assert.NotEmpty(whole.Rows);
        Assert.Null(fromTheHorizon.Purged);
        Assert.NotEmpty(fromTheHorizon.Rows);
        Assert.Null(pastThePurgedSeqs.Purged);
    }

    [Fact]
    [Trait("control", "NIST-AU-6")]
    [Trait("control", "NIST-AU-9")]
    public void LogCommand_IntoAPurgedPeriod_SaysOnStderrThatItWasPurged_AndAfterTheHorizonSaysNothing()
    {
        var purge = log.PurgeAYearOn(Cut);

        var (code, output, error) = Run("--from", "2025-03-03T09:00:00Z", "--to", "2025-03-03T09:01:00Z");
        var (laterCode, _, laterError) = Run("--from", "2025-03-03T09:01:00Z");

        Assert.Equal((ExitCodes.Ok, ExitCodes.Ok), (code, laterCode));
        Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the header only: the rows are gone
        Assert.Contains($"rows recorded before 2025-03-03T09:01:00Z, up to seq {purge.ToSeq}, were purged (row {purge.PurgeSeq})", error, StringComparison.Ordinal);
        Assert.DoesNotContain("purged", laterError, StringComparison.Ordinal);
    }

    private (int Code, string Output, string Error) Run(params string[] options)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = LogCommand.Run(CliArgs.Parse(["--db", log.Database.Path, .. options], LogCommand.Flags).Args!, output, error);
        return (code, output.ToString(), error.ToString());
    }
}

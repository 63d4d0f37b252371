using System.Text.Json;
using AccessControl.EntryLog;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

/// <summary>The retention purge keeps every row younger than the minimum retention (365 days unless a recorded decision says otherwise).</summary>
public sealed class LogRetentionTests : IDisposable
{
    private static readonly Instant Cut = TestLog.Start + Duration.FromMinutes(1);

    private readonly TestLog log = TestLog.Create();

    public void Dispose() => log.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    public void Purge_AfterTheClockWentBack_KeepsEveryRowRecordedWithinTheMinimumRetention()
    {
        var now = TestLog.Start + Duration.FromDays(400);
        log.Clock.Reset(now - Duration.FromDays(1));
        var recent = log.AppendRows(4);

        // The edge box's clock jumps back (a dead RTC battery before NTP): a row dated long ago, written after the recent ones.
        log.Clock.Reset(TestLog.Start - Duration.FromDays(10));
        log.AppendRows(1);
        log.Writer.Checkpoint();
        log.Writer.FileCheckpoints();

        var purge = log.Writer.Purge(now - LogRetention.Standard, "retention-job", now, LogRetention.Default);

        Assert.Equal(LogPurgeOutcome.Purged, purge.Outcome);
        Assert.Equal(recent[0].Seq - 1, purge.ToSeq);
        var kept = new EntryLogQuery(log.Database).Find(new LogFilter { Limit = EntryLogQuery.MaxLimit }).Select(r => r.Seq).ToHashSet();
        Assert.All(recent, r => Assert.Contains(r.Seq, kept));
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    public void Purge_WithinTheMinimumRetention_IsRefused_NamingTheMinimumAndTheLatestCutOff_AndDeletesNothing()
    {
        // An operator, or someone with a shell, a day later: "everything before yesterday".
        var now = TestLog.Start + Duration.FromDays(1);

        var purge = log.Writer.Purge(now - Duration.FromDays(1), "ops", now, LogRetention.Default);

        Assert.Equal(LogPurgeOutcome.Refused, purge.Outcome);
        Assert.Equal("refused: --before 2025-03-03T09:00:00Z is within the minimum retention of the entry log, 365 days: "
            + "--before must be 2024-03-04T09:00:00Z or earlier. Nothing was purged", purge.Message);
        var result = log.Verify();
        Assert.Equal((37L, 0L), (result.Rows, result.PurgedUpTo)); // the 36 rows, and the row that records the refusal
        Assert.Empty(new EntryLogQuery(log.Database).Find(new LogFilter { Kind = LogKinds.Integrity }));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.2")]
    public void Purge_Refused_IsRecordedInTheChain_WithWhoAskedTheCutOffTheMinimumInForceAndWhy()
    {
        var now = TestLog.Start + Duration.FromDays(1);
        var shorter = new LogRetention(Duration.FromDays(180), "CHG-4711: the central SIEM keeps 12 months");

        var purge = log.Writer.Purge(TestLog.Start + Duration.FromMinutes(1), "mallory", now, shorter);

        Assert.Equal(LogPurgeOutcome.Refused, purge.Outcome);
        var row = Assert.Single(new EntryLogQuery(log.Database).Find(new LogFilter { Reason = LogPurgeRefusal.Action }));
        Assert.Equal((37L, LogKinds.Security, "mallory", now), (row.Seq, row.Kind, row.Actor, row.At));
        Assert.Equal(row.Seq, purge.PurgeSeq);
        var detail = JsonDocument.Parse(row.Detail!).RootElement;
        Assert.Equal(LogPurgeRefusal.WithinMinimumRetention, detail.GetProperty("code").GetString());
        Assert.Equal("2025-03-03T09:01:00.000Z", detail.GetProperty("before").GetString());
        Assert.Equal("P180D", detail.GetProperty("minimumRetention").GetString());
        Assert.Equal("CHG-4711: the central SIEM keeps 12 months", detail.GetProperty("retentionReason").GetString());
        Assert.Equal(purge.Message, detail.GetProperty("message").GetString());
        var result = log.Verify();
        Assert.True(result.Ok, string.Join("; ", result.Notes));
        Assert.Equal((37L, 37L, 0L), (result.Rows, result.HeadSeq, result.PurgedUpTo));
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    public void Purge_OneTickInsideTheMinimum_IsRefused_AndAtIt_PurgesAndRecordsTheMinimumInThePurgeRow()
    {
        var atMinimum = Cut + LogRetention.Standard;

        Assert.Equal(LogPurgeOutcome.Refused, log.Writer.Purge(Cut, "retention-job", atMinimum - Duration.Epsilon, LogRetention.Default).Outcome);
        var purge = log.Writer.Purge(Cut, "retention-job", atMinimum, LogRetention.Default);

        Assert.Equal(LogPurgeOutcome.Purged, purge.Outcome);
        Assert.EndsWith("; minimum retention 365 days", purge.Message, StringComparison.Ordinal);
        var detail = PurgeDetail();
        Assert.Equal("P365D", detail.GetProperty("minimumRetention").GetString());
        Assert.Equal(JsonValueKind.Null, detail.GetProperty("retentionReason").ValueKind);
    }

    [Fact]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    public void Purge_UnderAShorterMinimum_RecordsTheMinimumAndTheReasonForIt_InTheChain()
    {
        var shorter = new LogRetention(Duration.FromDays(180), "CHG-4711: the central SIEM keeps 12 months");

        var purge = log.Writer.Purge(Cut, "retention-job", Cut + Duration.FromDays(180), shorter);
        log.Writer.Checkpoint();

        Assert.Equal(LogPurgeOutcome.Purged, purge.Outcome);
        var detail = PurgeDetail();
        Assert.Equal("P180D", detail.GetProperty("minimumRetention").GetString());
        Assert.Equal("CHG-4711: the central SIEM keeps 12 months", detail.GetProperty("retentionReason").GetString());
        Assert.True(log.Verify().Ok);
    }

    [Theory]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.5")]
    [InlineData(365, null, true)]
    [InlineData(2557, null, true)]                 // seven years: a longer minimum is always allowed
    [InlineData(180, null, false)]                 // shorter than a year: only with a reason
    [InlineData(180, " ", false)]
    [InlineData(180, "CHG-4711: SIEM keeps 12 months", true)]
    [InlineData(91, "CHG-4712", false)]            // below 3 months: never
    public void MinimumRetention_ShorterThanAYear_NeedsAReason_AndThreeMonthsIsTheLeast(int days, string? reason, bool valid)
    {
        var options = new LogIntegrityOptions { MinimumRetention = TimeSpan.FromDays(days), MinimumRetentionReason = reason };

        var errors = options.Validate();

        Assert.Equal(valid, errors.Count == 0);
        Assert.All(errors, e => Assert.StartsWith("AccessControl:LogIntegrity:MinimumRetention: ", e, StringComparison.Ordinal));
        Assert.Equal(valid, LogRetention.Problem(Duration.FromDays(days), reason) is null);
    }

    [Theory]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "NIST-SI-10")]
    [InlineData(36_525, true)]                     // 100 years
    [InlineData(36_526, false)]
    [InlineData(10_000_000, false)]                // 27,000 years: now minus it is before the first time there is
    public void MinimumRetention_LongerThanACentury_IsRefusedByValidation_NamingTheSettingAndItsRange(int days, bool valid)
    {
        var options = new LogIntegrityOptions { MinimumRetention = TimeSpan.FromDays(days) };

        var errors = options.Validate();

        Assert.Equal(valid, errors.Count == 0);
        Assert.All(errors, e => Assert.Equal(
            $"AccessControl:LogIntegrity:MinimumRetention: the minimum retention of the entry log must be at most 36525 days (100 years); {days} days is longer "
            + "(allowed: 92 to 36525 days, as days.hh:mm:ss; under 365 days only with AccessControl:LogIntegrity:MinimumRetentionReason).", e));
        Assert.Equal(valid, LogRetention.Problem(Duration.FromDays(days), null) is null);
    }

    private JsonElement PurgeDetail()
    {
        var row = Assert.Single(new EntryLogQuery(log.Database).Find(new LogFilter { Kind = LogKinds.Integrity, Reason = LogKinds.PurgeReason }));
        return JsonDocument.Parse(row.Detail!).RootElement.Clone();
    }
}

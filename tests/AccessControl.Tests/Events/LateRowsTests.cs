using System.Text.Json;
using AccessControl.EntryLog;
using AccessControl.Events;
using NodaTime;

namespace AccessControl.Tests.Events;

public class LateRowsTests
{
    private static readonly Instant T0 = Instant.FromUtc(2026, 11, 28, 9, 0);
    private static readonly Exception DiskFull = new IOException("No space left on device");

    private static LogEntry Swipe(string eventId, string decision, string reason) => new()
    {
        At = T0,
        Kind = LogKinds.Access,
        ReaderId = "rdr-lobby-in",
        Source = "readers/rdr-lobby-in",
        EventId = eventId,
        Decision = decision,
        Reason = reason,
        UnlockSeconds = 5,
        Detail = "{\"technology\":\"desfire-ev3\"}",
    };

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public void KeptRows_AreTheDeniesTheReadersHeard_BehindAnOutageRow_AndWhatDidNotFitIsCounted()
    {
        var late = new LateRows(capacity: 2);

        late.Keep(Swipe("e1", "grant", "granted"), T0, DiskFull);
        late.Keep(Swipe("e2", "deny", "unknown_credential"), T0 + Duration.FromSeconds(1), DiskFull);
        var third = late.Keep(Swipe("e3", "grant", "granted"), T0 + Duration.FromSeconds(2), DiskFull);
        var rows = late.Flush(T0 + Duration.FromMinutes(5));

        Assert.False(third);
        Assert.Equal(3, rows.Count);
        var outage = rows[0];
        Assert.Equal((LogKinds.Integrity, LateRows.OutageReason), (outage.Kind, outage.Reason));
        using var detail = JsonDocument.Parse(outage.Detail!);
        Assert.Equal(2, detail.RootElement.GetProperty("rows").GetInt32());
        Assert.Equal(1, detail.RootElement.GetProperty("lost").GetInt32());
        Assert.Equal(global::AccessControl.Protocol.WireFormat.FormatInstant(T0), detail.RootElement.GetProperty("from").GetString());
        Assert.Equal("IOException", detail.RootElement.GetProperty("error").GetString());
        Assert.All(rows.Skip(1), r => Assert.Equal(("deny", "log_failure", 0), (r.Decision, r.Reason, r.UnlockSeconds)));
        Assert.Contains("\"decided\":\"grant/granted\"", rows[1].Detail, StringComparison.Ordinal);
        Assert.Contains("\"technology\":\"desfire-ev3\"", rows[1].Detail, StringComparison.Ordinal);
        Assert.Contains("\"loggedLate\":true", rows[2].Detail, StringComparison.Ordinal);
        Assert.NotNull(late.Find("readers/rdr-lobby-in", "e2"));
        Assert.Null(late.Find("readers/rdr-lobby-in", "e3"));
    }

    [Fact]
    public void AfterClear_NothingIsKept_AndNoOutageRowIsWritten()
    {
        var late = new LateRows(capacity: 10);
        late.Keep(Swipe("e1", "grant", "granted"), T0, DiskFull);

        late.Clear();

        Assert.True(late.IsEmpty);
        Assert.Empty(late.Flush(T0));
        Assert.Null(late.Find("readers/rdr-lobby-in", "e1"));
    }
}

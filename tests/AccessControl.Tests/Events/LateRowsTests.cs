using System.Text.Json;
using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Tests.Support;
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

    [Fact]
    [Trait("control", "NIST-AU-5")]
    [Trait("control", "PCI-10.2")]
    public void PersistedRows_AreTakenBackAfterARestart_AndWrittenBehindAnOutageRowThatSaysSo()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        Assert.Equal(2, KeepAndPersist(path, "e1", "e2").RowsOnDisk);

        // The service died; the next one opens the journal.
        using var reopened = OutageJournal.Open(path, OutageJournalTests.Key, 64 * 1024);
        var restarted = new LateRows(capacity: 10, reopened);
        var taken = restarted.Restore(_ => false, _ => false);
        var rows = restarted.Flush(T0 + Duration.FromMinutes(5));

        Assert.Equal(2, taken);
        Assert.Equal(3, rows.Count);
        Assert.Equal(("e1", "deny", "log_failure"), (rows[1].EventId, rows[1].Decision, rows[1].Reason));
        Assert.NotNull(restarted.Find("readers/rdr-lobby-in", "e2"));
        using var detail = JsonDocument.Parse(rows[0].Detail!);
        Assert.Equal(global::AccessControl.Protocol.WireFormat.FormatInstant(T0), detail.RootElement.GetProperty("from").GetString());
        Assert.Equal(2, detail.RootElement.GetProperty("restoredAtStart").GetInt32());
        Assert.Equal(reopened.Found.Outage!.Id, detail.RootElement.GetProperty("journal").GetString());

        Assert.Null(restarted.Clear());
        Assert.False(reopened.InUse);
    }

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public void AJournalMadeDuringAnOutage_TakesTheRowsKeptBeforeIt_AtTheNextPersist()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        var late = new LateRows(capacity: 10);
        late.Keep(Swipe("e1", "grant", "granted"), T0, DiskFull);
        late.Persist(logHead: 7);

        using (var made = OutageJournal.Open(path, OutageJournalTests.Key, 64 * 1024))
        {
            late.Adopt(made);
            late.Keep(Swipe("e2", "deny", "unknown_credential"), T0 + Duration.FromSeconds(1), DiskFull);
            Assert.Null(late.Persist(logHead: 7));
            Assert.Equal(2, late.Health().RowsOnDisk);
        }

        var found = OutageJournal.Peek(path);
        Assert.Equal((T0, 7L), (found.Outage!.Since, found.Outage.LogHead));
        Assert.Equal(["e1", "e2"], found.Rows.Select(r => r.EventId));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void AJournalWhoseOutageRowIsAlreadyInTheLog_IsOnlyEmptied_AndRowsAlreadyLoggedAreNotTakenTwice()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        KeepAndPersist(path, "e1", "e2");

        using (var written = OutageJournal.Open(path, OutageJournalTests.Key, 64 * 1024))
        {
            var id = written.Found.Outage!.Id;
            var late = new LateRows(capacity: 10, written);
            Assert.Equal(0, late.Restore(outage => outage.Id == id && outage.LogHead == 41, _ => false));
            Assert.True(late.IsEmpty);
            Assert.False(written.InUse);
        }

        KeepAndPersist(path, "e3", "e4");

        using var partly = OutageJournal.Open(path, OutageJournalTests.Key, 64 * 1024);
        var restarted = new LateRows(capacity: 10, partly);
        Assert.Equal(1, restarted.Restore(_ => false, row => row.EventId == "e3"));
        Assert.Equal(["e4"], restarted.Flush(T0).Skip(1).Select(r => r.EventId));
    }

    /// <summary>A service's outage: the swipes kept, one a second from T0, and written to the journal; then the service is gone.</summary>
    private static LogHealth KeepAndPersist(string journalPath, params string[] eventIds)
    {
        using var journal = OutageJournal.Open(journalPath, OutageJournalTests.Key, 64 * 1024);
        var late = new LateRows(capacity: 10, journal);
        for (var i = 0; i < eventIds.Length; i++)
        {
            late.Keep(Swipe(eventIds[i], "grant", "granted"), T0 + Duration.FromSeconds(i), DiskFull);
        }

        Assert.Null(late.Persist(logHead: 41));
        return late.Health();
    }
}

using AccessControl.EntryLog;
using AccessControl.Events;
using AccessControl.Tests.Support;
using NodaTime;

namespace AccessControl.Tests.Events;

public class OutageJournalTests
{
    /// <summary>What the service derives from its log signing key; any 32 bytes here.</summary>
    internal static readonly byte[] Key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    private static readonly Instant T0 = Instant.FromUtc(2026, 11, 28, 9, 0);
    private static readonly OutageJournal.Header Outage = new("0123456789abcdef0123456789abcdef", T0, "SqliteException 13", LogHead: 1234);

    private static LogEntry Swipe(int n) => new()
    {
        At = T0 + Duration.FromMilliseconds(n),
        Kind = LogKinds.Access,
        SiteId = "dc1",
        ReaderId = "rdr-lobby-in",
        DoorId = "door-lobby",
        ZoneId = "lobby",
        PersonId = "emp-0001",
        Card = "04A1B2C3D4E5F6",
        Source = "readers/rdr-lobby-in",
        EventId = $"e{n}",
        DeviceSeq = n,
        DeviceAt = T0 + Duration.FromTicks(n * 12_345),
        Offline = n % 2 == 0,
        Decision = "deny",
        Reason = "log_failure",
        UnlockSeconds = 0,
        Detail = "{\"loggedLate\":true,\"decided\":\"grant/granted\"}",
    };

    private static LogEntry DoorAlarm() => new() { At = T0, Kind = LogKinds.Alarm, Reason = "door_forced", Actor = null, Detail = null };

    [Fact]
    [Trait("control", "NIST-AU-5")]
    public void RowsAppended_AreFoundExactlyAsTheyWere_WhenTheJournalIsOpenedAgain()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        LogEntry[] rows = [Swipe(1), Swipe(2), DoorAlarm()];
        using (var journal = OutageJournal.Open(path, Key, 64 * 1024))
        {
            Assert.Equal(2, journal.Append(Outage, rows[..2]));
            Assert.Equal(1, journal.Append(Outage, rows[2..]));
        }

        using var again = OutageJournal.Open(path, Key, 64 * 1024);

        Assert.Equal(Outage, again.Found.Outage);
        Assert.Equal(rows, again.Found.Rows);
        Assert.True(again.InUse);
    }

    [Fact]
    [Trait("control", "NIST-AC-6")]
    public void ANewJournal_HasItsWholeSizeWrittenUpFront_IsTheOwnersAlone_AndHoldsNoOutage()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);

        using var journal = OutageJournal.Open(path, Key, 256 * 1024);

        Assert.Equal(256 * 1024, new FileInfo(path).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, OperatingSystem.IsWindows() ? UnixFileMode.UserRead | UnixFileMode.UserWrite : File.GetUnixFileMode(path));
        Assert.Null(journal.Found.Outage);
        Assert.Empty(journal.Found.Rows);
        Assert.False(File.Exists(path + ".new"));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void ATornOrDamagedRecord_EndsWhatIsRead_AndTheRowsBeforeItAreKept()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        using (var journal = OutageJournal.Open(path, Key, 64 * 1024))
        {
            journal.Append(Outage, [Swipe(1), Swipe(2), Swipe(3)]);
        }

        // A byte of the third row's payload changed (a write cut short by a power loss looks the same): its hash fails.
        var bytes = File.ReadAllBytes(path);
        var third = LastRecordStart(bytes);
        bytes[third + 20] ^= 0x5A;
        File.WriteAllBytes(path, bytes);

        using var again = OutageJournal.Open(path, Key, 64 * 1024);

        Assert.Equal([Swipe(1), Swipe(2)], again.Found.Rows);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void ARowAppendedWithoutTheKey_IsNotTakenBack_AndPeekCountsWhatIsThereWithoutAuthenticating()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        using (var journal = OutageJournal.Open(path, Key, 64 * 1024))
        {
            journal.Append(Outage, [Swipe(1)]);
        }

        // Someone who can write the data folder but has no signing key appends a row: another key's tag.
        using (var forger = OutageJournal.Open(path + ".forger", new byte[32], 64 * 1024))
        {
            forger.Append(Outage, [Swipe(2)]);
        }

        var bytes = File.ReadAllBytes(path);
        var forged = File.ReadAllBytes(path + ".forger");
        var end = LastRecordStart(bytes) + 20 + BitConverter.ToInt32(bytes, LastRecordStart(bytes));
        var forgedRow = LastRecordStart(forged);
        var forgedLength = 20 + BitConverter.ToInt32(forged, forgedRow);
        Array.Copy(forged, forgedRow, bytes, end, forgedLength);
        File.WriteAllBytes(path, bytes);

        using var again = OutageJournal.Open(path, Key, 64 * 1024);

        Assert.Equal([Swipe(1)], again.Found.Rows);
        Assert.Equal(2, OutageJournal.Peek(path).Rows.Count);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void AJournalWhoseFirstRecordDoesNotAuthenticate_IsSetAsideWhole_AndANewOneTakesItsPlace()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        using (var journal = OutageJournal.Open(path, new byte[32], 64 * 1024))
        {
            journal.Append(Outage, [Swipe(1)]);
        }

        var written = File.ReadAllBytes(path);
        using var again = OutageJournal.Open(path, Key, 64 * 1024);

        Assert.Null(again.Found.Outage);
        Assert.NotNull(again.SetAside);
        Assert.Equal(written, File.ReadAllBytes(again.SetAside!));
        Assert.Equal(64 * 1024, new FileInfo(path).Length);
    }

    [Fact]
    public void AfterClear_TheJournalIsEmpty_AndAShorterNewOutageDoesNotBringBackTheOldRows()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        var next = Outage with { Id = "fedcba9876543210fedcba9876543210", Since = T0 + Duration.FromHours(1) };
        using (var journal = OutageJournal.Open(path, Key, 64 * 1024))
        {
            journal.Append(Outage, [Swipe(1), Swipe(2), Swipe(3)]);
            journal.Clear();
            Assert.False(journal.InUse);
            journal.Append(next, [DoorAlarm()]);
        }

        using var again = OutageJournal.Open(path, Key, 64 * 1024);

        Assert.Equal(next, again.Found.Outage);
        Assert.Equal([DoorAlarm()], again.Found.Rows);
    }

    [Fact]
    public void AFullJournal_TakesTheRowsThatFit_AndSaysHowMany()
    {
        using var folder = new DataFolder();
        var path = Path.Combine(folder.Path, OutageJournal.FileName);
        using var journal = OutageJournal.Open(path, Key, 4096);

        var taken = journal.Append(Outage, [.. Enumerable.Range(1, 50).Select(Swipe)]);
        var more = journal.Append(Outage, [Swipe(51)]);

        Assert.InRange(taken, 1, 49);
        Assert.Equal(0, more);
        journal.Dispose();
        using var reopened = OutageJournal.Open(path, Key, 4096);
        Assert.Equal(taken, reopened.Found.Rows.Count);
    }

    /// <summary>Where the last record begins: walks the records by their length fields.</summary>
    private static int LastRecordStart(byte[] bytes)
    {
        int at = 0, last = 0;
        while (BitConverter.ToInt32(bytes, at) is var length and > 0)
        {
            last = at;
            at += 20 + length;
        }

        return last;
    }
}

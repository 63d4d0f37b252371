using AccessControl.EntryLog;
using Microsoft.Data.Sqlite;

namespace AccessControl.Tests.EntryLog;

/// <summary>The start's pass over the log (LogPass): the rows of its query, each distinct text one string.</summary>
public sealed class LogPassTests : IDisposable
{
    private readonly TestLog log = TestLog.Create();

    public void Dispose() => log.Dispose();

    [Fact]
    public void Read_GivesTheRowsPastTheBoundInOrder_AndEqualTextsAsOneString()
    {
        using var snapshot = LogSnapshot.Open(log.Database);
        using var pass = new LogPass(snapshot, "SELECT seq, kind, reader_id FROM entry_log WHERE seq > $w ORDER BY seq", ("$w", 3));
        var rows = new List<(long Seq, string? Kind, string? Reader)>();
        while (pass.Read())
        {
            rows.Add((pass.GetInt64(0), pass.GetString(1), pass.IsNull(2) ? null : pass.GetString(2)));
        }

        Assert.Equal(log.Writer.HeadSeq - 3, rows.Count);
        Assert.Equal(Enumerable.Range(4, rows.Count).Select(s => (long)s), rows.Select(r => r.Seq));
        Assert.Contains(rows, r => r.Reader is null);
        var kinds = rows.GroupBy(r => r.Kind).Where(g => g.Count() > 1).ToList();
        Assert.NotEmpty(kinds);
        Assert.All(kinds, g => Assert.All(g, r => Assert.Same(g.First().Kind, r.Kind)));
    }

    [Fact]
    public void AQueryThatFails_ThrowsWhatTheDataReaderWould_AndAnUnknownParameterIsRefused()
    {
        using var snapshot = LogSnapshot.Open(log.Database);
        Assert.Throws<SqliteException>(() => new LogPass(snapshot, "SELECT no_such_column FROM entry_log"));
        Assert.Throws<ArgumentException>(() => new LogPass(snapshot, "SELECT seq FROM entry_log WHERE seq > $w", ("$x", 1)));
    }
}

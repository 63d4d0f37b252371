using System.Text.Json;
using AccessControl.EntryLog;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Tests.EntryLog;

public sealed class LogIntegrityTests : IDisposable
{
    private readonly TestLog log = TestLog.Create();

    public void Dispose() => log.Dispose();

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void Verify_IntactLog_IsOkWithCountsAndEveryCheckpointMatched()
    {
        var result = log.Verify();

        Assert.True(result.Ok, Describe(result));
        Assert.Equal(36, result.Rows);
        Assert.Equal(1, result.FirstSeq);
        Assert.Equal(36, result.HeadSeq);
        Assert.Equal(4, result.DatabaseCheckpoints); // at 10, 20, 30 (batches overshoot a little) and the head
        Assert.Equal(result.DatabaseCheckpoints, result.FileCheckpoints);
        Assert.Equal(result.DatabaseCheckpoints, result.CheckpointsMatched);
        Assert.Equal(36, log.Writer.HeadSeq);
    }

    /// <summary>
    /// A deliberate rotation (a new <c>log-signing.key</c> put in place, docs/log-integrity.md): the start keeps the old
    /// public key among the retired keys before it exports the new one, so the data folder's verification (the service's
    /// own, the API's, the CLI's without --public-key) still verifies the checkpoints the old key signed, and the health
    /// check does not fail for ever after. An auditor's single current key still finds them not signed by it.
    /// </summary>
    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-SC-12")]
    public void ARotatedSigningKey_IsKeptAmongTheRetiredKeys_AndCheckpointsOfBothKeysVerify()
    {
        log.Writer.Dispose();
        string oldId;
        using (var old = LogSigningKey.LoadPublicKey(log.PublicKeyPath))
        {
            oldId = LogSigningKey.IdOf(old);
        }

        using (var replacement = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(Path.Combine(log.Directory, LogSigningKey.PrivateKeyFileName), replacement.ExportPkcs8PrivateKeyPem());
        }

        using (var writer = log.OpenWriter()) // a start with the new key
        {
            writer.Append([log.Entry(100)]);
            writer.Checkpoint();
            writer.FileCheckpoints();
        }

        var result = new LogVerifier(log.Database).Verify();
        var currentOnly = new LogVerifier(log.Database, log.CheckpointPath, log.PublicKeyPath).Verify();

        Assert.True(result.Ok, Describe(result));
        Assert.Empty(result.CheckpointProblems);
        Assert.Equal(5, result.CheckpointsMatched);
        var retired = LogSigningKey.LoadPublicKeys(Path.Combine(log.Directory, LogSigningKey.RetiredKeysFileName));
        Assert.Equal([oldId], retired.Select(k => { using (k) { return LogSigningKey.IdOf(k); } }));
        Assert.Equal(4, currentOnly.CheckpointProblems.Count(p => p.Problem == CheckpointProblems.SignatureInvalid));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public async Task AnAppendThatMakesACheckpoint_IsFiledInTheBackground_WithoutTheAppenderWaitingForTheFile()
    {
        var entries = Enumerable.Range(100, TestLog.Options.CheckpointEveryRows).Select(log.Entry).ToList();

        var written = log.Writer.Append(entries); // no FileCheckpoints call: the writer's own background filing

        var head = written[^1].Seq;
        await log.Writer.BackgroundFiling.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Contains(CheckpointFile.ReadAll(log.CheckpointPath), l => l.Checkpoint?.Seq == head);
        Assert.Equal(0, log.Writer.UnfiledCheckpoints);
        Assert.True(log.Verify().Ok);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Database_RefusesUpdateAndDelete_OfLogRowsAndCheckpoints()
    {
        using var connection = log.Database.Open();
        foreach (var sql in new[]
        {
            "UPDATE entry_log SET reason = 'granted' WHERE seq = 3",
            "UPDATE entry_log SET hash = zeroblob(32) WHERE seq = 3",
            "DELETE FROM entry_log WHERE seq = 36",
            "DELETE FROM log_checkpoints",
            "UPDATE log_checkpoints SET rows = 1",
            "INSERT INTO log_purge (up_to_seq, purge_seq, at, actor) VALUES (1, 1, 0, 'x'); DELETE FROM log_purge",
        })
        {
            var ex = Assert.Throws<SqliteException>(() => TestLog.Execute(connection, sql));
            Assert.Contains("refused", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void ChangedRow_IsTheFirstBrokenRow()
    {
        using (var connection = log.Tamper())
        {
            TestLog.Execute(connection, "UPDATE entry_log SET decision = 'grant' WHERE seq = 7");
        }

        var result = log.Verify();

        Assert.False(result.Ok);
        Assert.Equal(new LogBreak(7, LogBreaks.ContentChanged, "row 7's content does not match its hash"), result.FirstBroken);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void DeletedRow_IsReportedAsAGap()
    {
        using (var connection = log.Tamper())
        {
            TestLog.Execute(connection, "DELETE FROM entry_log WHERE seq = 12");
        }

        var result = log.Verify();

        Assert.False(result.Ok);
        Assert.Equal(13, result.FirstBroken!.Seq);
        Assert.Equal(LogBreaks.RowMissing, result.FirstBroken.Problem);
        Assert.Contains("row 12 is missing", result.FirstBroken.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    [InlineData(5, 9)]
    [InlineData(5, 6)] // neighbours: the hash before 6 is then 5's own, which sits at 6
    public void SwappedRows_AreReportedAsOrderSwapped_AtTheFirst(long first, long second)
    {
        using (var connection = log.Tamper())
        {
            // Every column but seq exchanged between the two rows, hashes included.
            var columns = LogChain.Columns.Split(", ").Skip(1).Append("hash").ToArray();
            TestLog.Execute(connection, $"CREATE TEMP TABLE swapped AS SELECT * FROM entry_log WHERE seq IN ({first}, {second})");
            TestLog.Execute(connection, $"UPDATE entry_log SET {string.Join(", ", columns.Select(c => $"{c} = (SELECT {c} FROM temp.swapped s WHERE s.seq = {first + second} - entry_log.seq)"))} WHERE seq IN ({first}, {second})");
        }

        var result = log.Verify();

        Assert.False(result.Ok);
        Assert.Equal(new LogBreak(first, LogBreaks.OrderSwapped, $"row {first} holds the row of seq {second} (rows out of order)"), result.FirstBroken);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void ChangedRowBesideAnUntouchedOne_IsContentChanged_NotTakenForASwap()
    {
        using (var connection = log.Tamper())
        {
            // Row 6's content copied into row 5 but 5 keeps its own hash: an edit, not a move.
            var columns = LogChain.Columns.Split(", ").Skip(1).ToArray();
            TestLog.Execute(connection, $"UPDATE entry_log SET {string.Join(", ", columns.Select(c => $"{c} = (SELECT {c} FROM entry_log s WHERE s.seq = 6)"))} WHERE seq = 5");
        }

        var result = log.Verify();

        Assert.Equal(new LogBreak(5, LogBreaks.ContentChanged, "row 5's content does not match its hash"), result.FirstBroken);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void TruncatedTail_IsDetectedByTheLastCheckpoint_EvenWhenTheDatabaseCheckpointsAreCutToo()
    {
        using (var connection = log.Tamper())
        {
            TestLog.Execute(connection, "DELETE FROM entry_log WHERE seq > 25; DELETE FROM log_checkpoints WHERE seq > 25");
        }

        var result = log.Verify();

        Assert.False(result.Ok);
        Assert.Equal(new LogBreak(26, LogBreaks.Truncated, "the log ends at seq 25 but a checkpoint covers up to seq 36"), result.FirstBroken);
        Assert.Contains(result.CheckpointProblems, p => p is { Seq: 36, Problem: CheckpointProblems.MissingFromDatabase });
        Assert.Contains(result.CheckpointProblems, p => p is { Seq: 36, Problem: CheckpointProblems.BeyondHead });
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-10")]
    public void ChangedRow_WithTheChainRecomputed_IsCaughtByTheSignedCheckpoints()
    {
        using (var connection = log.Tamper())
        {
            // The attacker knows the algorithm (it is documented) but not the key: rewrite row 3 and re-chain everything after it.
            TestLog.Execute(connection, "UPDATE entry_log SET actor = 'nobody' WHERE seq = 3");
            Rechain(connection);
        }

        var result = log.Verify();

        Assert.False(result.Ok);
        Assert.Null(result.FirstBroken);
        var mismatched = result.CheckpointProblems.Where(p => p.Problem == CheckpointProblems.HashMismatch).Select(p => p.Seq).ToList();
        Assert.Equal(result.DatabaseCheckpoints, mismatched.Count);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "PCI-10.3")]
    public void DatabaseRewrittenFromScratch_WithAConsistentChainButANewKey_IsDetected()
    {
        var original = log.Database.Path;
        log.Writer.Dispose();
        SqliteConnection.ClearAllPools();
        File.Delete(original);
        File.Delete(original + "-wal");
        File.Delete(original + "-shm");

        // The forger rebuilds the same rows (one changed) with a key of their own, and even writes a checkpoint file of their own.
        var forgedFile = Path.Combine(log.Directory, "forged.jsonl");
        var database = new Database(original);
        database.Migrate();
        using (var forger = new EntryLogWriter(database, new LogCheckpointing(LogSigningKey.CreateEphemeral(), forgedFile, log.Clock, TestLog.Options)))
        {
            for (var i = 0; i < 36; i++)
            {
                forger.Append([log.Entry(i) with { Actor = i == 3 ? "nobody" : log.Entry(i).Actor }]);
            }

            forger.Checkpoint();
        }

        var forgedChain = new LogVerifier(database, forgedFile, "/nonexistent.pem").Verify();
        Assert.Null(forgedChain.FirstBroken); // the chain itself is consistent

        var againstTheRealFile = log.Verify();
        Assert.False(againstTheRealFile.Ok);
        Assert.Contains(againstTheRealFile.CheckpointProblems, p => p.Problem == CheckpointProblems.SignatureInvalid);
        Assert.Contains(againstTheRealFile.CheckpointProblems, p => p.Problem is CheckpointProblems.DiffersFromFile or CheckpointProblems.MissingFromDatabase);

        var againstTheForgedFile = new LogVerifier(database, forgedFile, log.PublicKeyPath).Verify();
        Assert.False(againstTheForgedFile.Ok);
        Assert.All(againstTheForgedFile.CheckpointProblems, p => Assert.Equal(CheckpointProblems.SignatureInvalid, p.Problem));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Chain_SurvivesARestart()
    {
        log.Restart();
        var written = log.AppendRows(3);
        log.Restart();
        log.AppendRows(2);
        log.Writer.Checkpoint();

        var result = log.Verify();

        Assert.Equal([37L, 38L, 39L], written.Select(w => w.Seq));
        Assert.True(result.Ok, Describe(result));
        Assert.Equal(41, result.HeadSeq);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void ACheckpointLineTornByACrash_IsCutOff_AndTheCheckpointFiledAgainFromTheDatabase()
    {
        // The process died in the middle of appending the last checkpoint line: half of it is in the file.
        var text = File.ReadAllText(log.CheckpointPath);
        var lastLine = text.TrimEnd('\n').Split('\n')[^1];
        File.WriteAllText(log.CheckpointPath, text[..^1][..^(lastLine.Length / 2)]);
        var torn = log.Verify();

        log.Restart();
        log.AppendRows(12);
        var result = log.Verify();

        Assert.False(torn.Ok);
        Assert.True(result.Ok, Describe(result));
        Assert.All(CheckpointFile.ReadAll(log.CheckpointPath), line => Assert.Null(line.Error));
        Assert.Contains(CheckpointFile.ReadAll(log.CheckpointPath), line => line.Checkpoint!.Seq == 36);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void FailedCommit_LeavesTheChainConsistent()
    {
        log.Writer.SimulateWriteFailure(true);
        Assert.Throws<SqliteException>(() => log.AppendRows(3));
        Assert.Throws<SqliteException>(() => log.AppendRows(1));
        log.Writer.SimulateWriteFailure(false);
        var written = log.AppendRows(2);
        log.Writer.Checkpoint();

        var result = log.Verify();

        Assert.Equal([37L, 38L], written.Select(w => w.Seq));
        Assert.True(result.Ok, Describe(result));
    }

    [Fact]
    public void CheckpointIfDue_SignsAfterTheIntervalOnlyWhenRowsWereAdded()
    {
        log.Clock.Advance(Duration.FromMinutes(2));
        Assert.Null(log.Writer.CheckpointIfDue()); // nothing new since the head's checkpoint

        log.AppendRows(1);
        var due = log.Writer.CheckpointIfDue();
        Assert.Equal(37, due?.Seq);

        log.AppendRows(1);
        Assert.Null(log.Writer.CheckpointIfDue()); // the interval runs from the last checkpoint
        log.Clock.Advance(Duration.FromMinutes(1));
        Assert.Equal(38, log.Writer.CheckpointIfDue()?.Seq);
        Assert.True(log.Verify().Ok);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void Purge_DeletesUpToTheLastCheckpoint_RecordsTheRangeInTheChain_AndVerifies()
    {
        log.AppendRows(4); // rows 37..40, after the last checkpoint: never purged
        var before = log.Clock.GetCurrentInstant() + Duration.FromMinutes(1);

        var purge = log.PurgeAYearOn(before);
        log.Writer.Checkpoint();
        var result = log.Verify();

        Assert.Equal(LogPurgeOutcome.Purged, purge.Outcome);
        Assert.Equal((1L, 36L, 36L, 41L), (purge.FromSeq, purge.ToSeq, purge.Rows, purge.PurgeSeq!.Value));
        Assert.True(result.Ok, Describe(result));
        Assert.Equal((37L, 41L, 36L, 5L), (result.FirstSeq, result.HeadSeq, result.PurgedUpTo, result.Rows));
        var row = new EntryLogQuery(log.Database).Find(new LogFilter { Kind = LogKinds.Integrity }).Single();
        Assert.Equal(("purge", "retention-job"), (row.Reason, row.Actor));
        using var detail = JsonDocument.Parse(row.Detail!);
        Assert.Equal(1, detail.RootElement.GetProperty("fromSeq").GetInt64());
        Assert.Equal(36, detail.RootElement.GetProperty("toSeq").GetInt64());
        Assert.Equal(64, detail.RootElement.GetProperty("lastHash").GetString()!.Length);

        // Nothing is left to purge before that time (a row says so); the next append chains after it.
        var again = log.PurgeAYearOn(TestLog.Start + Duration.FromMinutes(1));
        Assert.Equal((LogPurgeOutcome.NothingToPurge, 42L), (again.Outcome, again.PurgeSeq!.Value));
        Assert.Equal(43, log.AppendRows(1)[0].Seq);
    }

    [Fact]
    [Trait("control", "NIST-AU-12")]
    [Trait("control", "NIST-AU-11")]
    [Trait("control", "PCI-10.2")]
    public void Purge_ThatFindsNothingToPurge_IsRecordedAnyway_WithWhoWhenAndTheCutOff_AndTheLogVerifies()
    {
        // Nothing was recorded before the log's first row: an auditor still sees who ran the purge, when, and with what.
        var purge = log.PurgeAYearOn(TestLog.Start);
        log.Writer.Checkpoint();
        var result = log.Verify();

        Assert.Equal((LogPurgeOutcome.NothingToPurge, 0L, 37L), (purge.Outcome, purge.Rows, purge.PurgeSeq!.Value));
        Assert.EndsWith("is left to purge; recorded as row 37", purge.Message, StringComparison.Ordinal);
        var row = Assert.Single(new EntryLogQuery(log.Database).Find(new LogFilter { Kind = LogKinds.Integrity }));
        Assert.Equal((37L, "purge", "retention-job", TestLog.Start + LogRetention.Standard), (row.Seq, row.Reason, row.Actor, row.At));
        using (var detail = JsonDocument.Parse(row.Detail!))
        {
            var d = detail.RootElement;
            Assert.Equal((1L, 0L, 0L, "2025-03-03T09:00:00.000Z", new string('0', 64), "P365D"),
                (d.GetProperty("fromSeq").GetInt64(), d.GetProperty("toSeq").GetInt64(), d.GetProperty("rows").GetInt64(), d.GetProperty("before").GetString(),
                 d.GetProperty("lastHash").GetString(), d.GetProperty("minimumRetention").GetString()));
        }

        // The log starts where it did: no horizon, nothing let through the delete trigger.
        Assert.True(result.Ok, Describe(result));
        Assert.Equal((1L, 37L, 0L), (result.FirstSeq, result.HeadSeq, result.PurgedUpTo));
        Assert.Null(new EntryLogQuery(log.Database).Answer(new LogFilter()).Purged);
        Assert.Empty(result.ProtectionProblems);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-12")]
    [Trait("control", "PCI-10.2")]
    public void Purge_ThatFindsNothingToPurgeAfterAPurge_IsRecorded_WithoutMovingThePurgeHorizon_AndTheLogVerifiesBeforeAndAfterTheNextPurge()
    {
        log.AppendRows(4); // rows 37..40, after the last checkpoint
        var first = log.PurgeAYearOn(log.Clock.GetCurrentInstant() + Duration.FromMinutes(1)); // 1..36, row 41
        var horizon = new EntryLogQuery(log.Database).Answer(new LogFilter()).Purged;

        // A later cut-off, but nothing checkpointed before it is left: rows 37..41 are not signed yet.
        var nothing = log.PurgeAYearOn(log.Clock.GetCurrentInstant() + Duration.FromMinutes(2));
        log.Writer.Checkpoint();
        var between = log.Verify();

        Assert.Equal((LogPurgeOutcome.Purged, LogPurgeOutcome.NothingToPurge, 42L), (first.Outcome, nothing.Outcome, nothing.PurgeSeq!.Value));
        Assert.Equal((36L, 41L), (horizon!.UpToSeq, horizon.PurgeSeq));
        Assert.Equal(horizon, new EntryLogQuery(log.Database).Answer(new LogFilter()).Purged);
        Assert.True(between.Ok, Describe(between));
        Assert.Equal((37L, 42L, 36L), (between.FirstSeq, between.HeadSeq, between.PurgedUpTo));
        Assert.Contains("the newest purge, recorded in row 42, found nothing to purge; rows up to seq 36 were purged before it", between.Notes);
        var rows = new EntryLogQuery(log.Database).Find(new LogFilter { Kind = LogKinds.Integrity }).Select(r => JsonDocument.Parse(r.Detail!).RootElement).ToList();
        Assert.Equal((37L, 36L, 0L), (rows[1].GetProperty("fromSeq").GetInt64(), rows[1].GetProperty("toSeq").GetInt64(), rows[1].GetProperty("rows").GetInt64()));
        Assert.Equal(rows[0].GetProperty("lastHash").GetString(), rows[1].GetProperty("lastHash").GetString());

        // The next purge that deletes goes on from the horizon (the purge rows, dated a year on, are after its cut-off).
        var next = log.PurgeAYearOn(log.Clock.GetCurrentInstant() + Duration.FromMinutes(3));
        log.Writer.Checkpoint();
        var after = log.Verify();

        Assert.Equal((LogPurgeOutcome.Purged, 37L, 40L), (next.Outcome, next.FromSeq, next.ToSeq));
        Assert.True(after.Ok, Describe(after));
        Assert.Equal((41L, 40L), (after.FirstSeq, after.PurgedUpTo));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void Purge_GoesInSteps_EachRecordedInTheChain_AndTheLogVerifies()
    {
        // A purge of millions of rows in one transaction would hold the write lock longer than the service waits for it.
        log.AppendRows(4); // rows 37..40, after the last checkpoint
        var before = log.Clock.GetCurrentInstant() + Duration.FromMinutes(1);

        var purge = log.PurgeAYearOn(before, stepRows: 10, maxSteps: int.MaxValue);
        log.Writer.Checkpoint();
        var result = log.Verify();

        Assert.Equal((LogPurgeOutcome.Purged, 1L, 36L, 36L, 44L), (purge.Outcome, purge.FromSeq, purge.ToSeq, purge.Rows, purge.PurgeSeq!.Value));
        Assert.Equal("purged 36 rows (seq 1..36) in 4 steps; recorded as rows 41..44; minimum retention 365 days", purge.Message);
        Assert.True(result.Ok, Describe(result));
        Assert.Equal((37L, 44L, 36L), (result.FirstSeq, result.HeadSeq, result.PurgedUpTo));
        var steps = new EntryLogQuery(log.Database).Find(new LogFilter { Kind = LogKinds.Integrity }).OrderBy(r => r.Seq)
            .Select(r => { using var d = JsonDocument.Parse(r.Detail!); return (d.RootElement.GetProperty("fromSeq").GetInt64(), d.RootElement.GetProperty("toSeq").GetInt64()); })
            .ToList();
        Assert.Equal([(1L, 10L), (11L, 20L), (21L, 30L), (31L, 36L)], steps);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Purge_WhileTheServiceAppends_Succeeds_AndSoDoesEveryAppend_AndTheLogVerifies()
    {
        // The CLI purges while the service runs: two writers on one file. A purge step takes the head inside its own
        // write transaction, and the service's writer, finding its row number taken, takes it again inside its retry's
        // (before, such a purge failed on the row number it had meant to use).
        using var big = TestLog.Create(rows: 3000);
        using var service = big.OpenWriter();
        var before = big.Clock.GetCurrentInstant() + Duration.FromMinutes(1);
        var stop = new CancellationTokenSource();
        var appended = 0;
        Exception? failed = null;
        var appender = new Thread(() =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    service.Append([big.Entry(100_000 + i)]);
                    appended++;
                }
                catch (Exception e)
                {
                    failed ??= e;
                }

                Thread.Sleep(1); // the service commits batch after batch, with room between them
            }
        });

        appender.Start();
        var purge = big.PurgeAYearOn(before, stepRows: 100, maxSteps: int.MaxValue);
        stop.Cancel();
        appender.Join();
        service.Checkpoint();
        service.FileCheckpoints();
        var result = big.Verify();

        Assert.Null(failed);
        Assert.True(appended > 0);
        Assert.Equal((LogPurgeOutcome.Purged, 1L, 3000L, 3000L), (purge.Outcome, purge.FromSeq, purge.ToSeq, purge.Rows));
        Assert.True(result.Ok, Describe(result));
        Assert.Equal(3000L, result.PurgedUpTo);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Append_BehindAnotherWriterThatAppendsAgainBeforeTheRetry_ChainsAfterBoth_AndTheLogVerifies()
    {
        // The CLI's purge steps append their rows one after the other while the service appends: the service's writer,
        // having found its row number taken, could find it taken again by the purge's next row before it retried (the
        // helper's full run met it: "UNIQUE constraint failed: entry_log.seq"), and a swipe then failed closed, denied
        // log_failure, for no fault of the disk.
        using var log = TestLog.Create(rows: 10);
        using var service = log.OpenWriter();
        using var cli = log.OpenWriter();
        var conflicts = 0;
        service.AfterConflict = () =>
        {
            conflicts++;
            cli.Append([log.Entry(500)]); // the other writer appends again between the conflict and the retry
        };
        cli.Append([log.Entry(400)]); // the service's head is stale: its first try conflicts

        var written = service.Append([log.Entry(600)]);

        Assert.Equal(1, conflicts);
        Assert.Equal(13L, written.Single().Seq);
        Assert.True(log.Verify().Ok);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void PurgeStep_BehindAServiceThatAppendsJustBeforeTheStepsTransaction_ChainsAfterIt_WithoutTryingAgain_AndTheLogVerifies()
    {
        // The CLI purges while the service appends. A step that read the head before its own write transaction lost its
        // row number to every swipe committed in between, and tried again: on a busy site, up to ten times, and then the
        // purge failed ("UNIQUE constraint failed: entry_log.seq").
        using var service = log.OpenWriter();
        var swipes = 0;
        log.Writer.BeforePurgeStepTransaction = () => service.Append([log.Entry(900 + ++swipes)]); // a swipe committed just then
        var before = log.Clock.GetCurrentInstant() + Duration.FromMinutes(1);

        var purge = log.PurgeAYearOn(before, stepRows: 20);
        log.Writer.Checkpoint();
        var result = log.Verify();

        Assert.Equal((LogPurgeOutcome.Purged, 1L, 36L, 36L, 40L), (purge.Outcome, purge.FromSeq, purge.ToSeq, purge.Rows, purge.PurgeSeq!.Value));
        Assert.True(result.Ok, Describe(result));
        Assert.Equal((37L, 41L, 36L), (result.FirstSeq, result.HeadSeq, result.PurgedUpTo));

        // Each step's row right behind the one swipe before it (a step that tried again would sit behind two), and the
        // last swipe, before the look that found nothing left to purge.
        var rows = new EntryLogQuery(log.Database).Find(new LogFilter()).OrderBy(r => r.Seq).Select(r => r.Kind == LogKinds.Integrity ? "step" : "swipe");
        Assert.Equal(["swipe", "step", "swipe", "step", "swipe"], rows);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Purge_StoppedBetweenSteps_LeavesALogThatVerifies_AndGoesOnWhenRunAgain()
    {
        var before = log.Clock.GetCurrentInstant() + Duration.FromMinutes(1);

        var stopped = log.PurgeAYearOn(before, stepRows: 10, maxSteps: 2);
        var between = log.Verify();
        var rest = log.PurgeAYearOn(before);
        log.Writer.Checkpoint();
        var after = log.Verify();

        Assert.Equal((1L, 20L, 20L), (stopped.FromSeq, stopped.ToSeq, stopped.Rows));
        Assert.Contains("stopped before seq 36: run it again to go on", stopped.Message, StringComparison.Ordinal);
        Assert.True(between.Ok, Describe(between));
        Assert.Equal((21L, 20L), (between.FirstSeq, between.PurgedUpTo));
        Assert.Equal((21L, 36L, 16L), (rest.FromSeq, rest.ToSeq, rest.Rows));
        Assert.True(after.Ok, Describe(after));
        Assert.Equal(36L, after.PurgedUpTo);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void Purge_ThenDeletingTheFirstKeptRow_IsDetected()
    {
        log.PurgeAYearOn(TestLog.Start + Duration.FromMinutes(1));
        using (var connection = log.Tamper())
        {
            TestLog.Execute(connection, "DELETE FROM entry_log WHERE seq = (SELECT MIN(seq) FROM entry_log)");
        }

        var result = log.Verify();

        Assert.False(result.Ok);
        Assert.Equal(LogBreaks.RowMissing, result.FirstBroken!.Problem);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "NIST-AU-10")]
    [Trait("control", "PCI-10.3")]
    public void ChangedRow_WithTheChainRecomputed_AndEveryCheckpointRemoved_IsNotVerified()
    {
        // The auditor's public key alone catches a forger's own signatures; removing the signatures altogether must not pass.
        using (var connection = log.Tamper())
        {
            TestLog.Execute(connection, "UPDATE entry_log SET decision = 'grant', reason = 'granted' WHERE seq = 7; DELETE FROM log_checkpoints");
            Rechain(connection);
            TestLog.RestoreTriggers(connection);
        }

        File.Delete(log.CheckpointPath);

        var result = log.Verify();

        Assert.False(result.Ok, Describe(result));
        Assert.Null(result.FirstBroken);
        var problem = Assert.Single(result.CheckpointProblems);
        Assert.Equal(CheckpointProblems.NoCheckpoint, problem.Problem);
        Assert.Contains("36 rows but no signed checkpoint", problem.Detail, StringComparison.Ordinal);
        Assert.Equal((0L, 36L), (result.SignedUpTo, result.UnsignedRows));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void RowsForgedAfterTheLastCheckpoint_WithTheChainRecomputed_AreCountedAsVouchedForByTheChainOnly()
    {
        // With the service stopped after a clean stop every row is signed: a row added behind its back is the only unsigned one.
        ForgeRow37();

        var result = log.Verify();

        Assert.True(result.Ok, Describe(result)); // no signature covers it yet (docs/log-integrity.md, section 4)
        Assert.Equal((36L, 1L), (result.SignedUpTo, result.UnsignedRows));
        Assert.Contains(result.Notes, n => n.StartsWith("1 rows after seq 36, the last signed checkpoint, are vouched for by the chain only", StringComparison.Ordinal));
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void RowsForgedWhileTheServiceWasStopped_AreNamedInTheLogAtItsStart_BeforeItsCheckpointSignsThem()
    {
        // After a clean stop every row is signed; a row added behind the service's back would be signed by its next
        // checkpoint like any other. So at start the service records what it found unsigned, and that row is signed too.
        ForgeRow37();

        log.Restart();
        var recorded = log.Writer.RecordUnsignedAtStart();
        log.Writer.Checkpoint();
        var result = log.Verify();

        Assert.NotNull(recorded);
        Assert.Equal((38L, LogKinds.Integrity, LogKinds.UnsignedAtStartReason), (recorded.Seq, recorded.Kind, recorded.Reason));
        Assert.Equal("""{"fromSeq":37,"toSeq":37,"rows":1,"lastCheckpointSeq":36}""", recorded.Detail);
        Assert.True(result.Ok, Describe(result));
        Assert.Equal((38L, 0L), (result.SignedUpTo, result.UnsignedRows));
    }

    /// <summary>A grant forged as row 37, behind the last signed checkpoint (36), the chain recomputed and the triggers restored.</summary>
    private void ForgeRow37()
    {
        using var connection = log.Tamper();
        TestLog.Execute(connection, $"INSERT INTO entry_log ({LogChain.Columns}) SELECT 37, at + 1000, kind, site_id, reader_id, door_id, zone_id, "
            + "person_id, card, source, 'ev-forged', device_seq, device_at, offline, 'grant', 'granted', 5, actor, detail FROM entry_log WHERE seq = 31");
        Rechain(connection);
        TestLog.RestoreTriggers(connection);
    }

    [Fact]
    public void AStartAfterACleanStop_RecordsNothing_EveryRowIsSigned()
    {
        log.Restart();

        Assert.Null(log.Writer.RecordUnsignedAtStart());
        Assert.Equal(36L, log.Writer.HeadSeq);
    }

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [InlineData("DROP TRIGGER entry_log_no_delete", "entry_log_no_delete", ProtectionProblems.TriggerMissing, "DELETE of entry_log")]
    [InlineData("DROP TRIGGER log_checkpoints_no_update", "log_checkpoints_no_update", ProtectionProblems.TriggerMissing, "UPDATE of log_checkpoints")]
    [InlineData("DROP TRIGGER log_purge_no_delete; CREATE TRIGGER log_purge_no_delete BEFORE DELETE ON log_purge WHEN 0 BEGIN SELECT RAISE(ABORT, 'refused'); END",
        "log_purge_no_delete", ProtectionProblems.TriggerAltered, "DELETE of log_purge")]
    [InlineData("CREATE TRIGGER entry_log_quietly AFTER INSERT ON entry_log BEGIN SELECT 1; END", "entry_log_quietly", ProtectionProblems.TriggerAdded, "made by no migration")]
    public void AppendOnlyTriggerDroppedAlteredOrAdded_IsReported_ThoughNoRowChanged(string sql, string trigger, string problem, string names)
    {
        using (var connection = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False"))
        {
            log.Writer.Dispose();
            connection.Open();
            TestLog.Execute(connection, sql);
        }

        var result = log.Verify();

        Assert.False(result.Ok, Describe(result));
        Assert.Null(result.FirstBroken);
        Assert.Empty(result.CheckpointProblems);
        var found = Assert.Single(result.ProtectionProblems);
        Assert.Equal((trigger, problem), (found.Trigger, found.Problem));
        Assert.Contains(names, found.Detail, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    [Trait("control", "PCI-10.3")]
    public void PurgeBoundNoPurgeRecorded_IsReported_ThoughEveryTriggerIsAsMadeAndNoRowChanged()
    {
        using (var connection = new SqliteConnection($"Data Source={log.Database.Path};Pooling=False"))
        {
            log.Writer.Dispose();
            connection.Open();
            // log_purge takes inserts: one bound past the head, and the untouched delete trigger lets every row go.
            TestLog.Execute(connection, "INSERT INTO log_purge (up_to_seq, purge_seq, at, actor) VALUES (1000000, 1, 0, 'ops')");
        }

        var result = log.Verify();

        Assert.False(result.Ok, Describe(result));
        Assert.Null(result.FirstBroken);
        var found = Assert.Single(result.ProtectionProblems);
        Assert.Equal(("entry_log_no_delete", ProtectionProblems.PurgeBoundAltered), (found.Trigger, found.Problem));
        Assert.Contains("up to seq 1000000", found.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [Trait("control", "NIST-AU-9")]
    [InlineData(0)]
    [InlineData(-5)]
    public void RowBeforeTheFirstSeq_IsReportedAsInserted_NamingTheStartOfTheLog(long seq)
    {
        using (var connection = log.Tamper())
        {
            TestLog.Execute(connection, $"INSERT INTO entry_log (seq, at, kind, decision, reason) VALUES ({seq}, 0, 'access', 'grant', 'granted')");
        }

        var result = log.Verify();

        Assert.Equal(new LogBreak(seq, LogBreaks.RowInserted, $"row {seq} comes before the log's first row, seq 1"), result.FirstBroken);
    }

    [Fact]
    public void Purge_WithoutACheckpoint_IsRefused()
    {
        using var fresh = new EntryLogWriter(NewDatabase(out var directory));
        try
        {
            fresh.Append([log.Entry(0)]);
            var result = fresh.Purge(TestLog.Start, "ops", TestLog.Start + LogRetention.Standard, LogRetention.Default);
            Assert.Equal(LogPurgeOutcome.Refused, result.Outcome);
        }
        finally
        {
            fresh.Dispose();
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    [Trait("control", "NIST-AU-9")]
    public void OldDatabase_IsSealedOnceAtOpen_WithAGenesisRow()
    {
        var database = NewDatabase(out var directory, migrate: false);
        try
        {
            // A log written before migration 0010: rows inserted with AUTOINCREMENT seq, no hash.
            using (var connection = database.Open())
            {
                foreach (var (_, _, sql) in Database.Scripts().Where(s => s.Version < 10))
                {
                    TestLog.Execute(connection, sql);
                }

                TestLog.Execute(connection, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)");
                TestLog.Execute(connection, "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 9) INSERT INTO schema_migrations SELECT v, 'old' FROM n");
                for (var i = 0; i < 5; i++)
                {
                    TestLog.Execute(connection, $"INSERT INTO entry_log (at, kind, reason, detail) VALUES ({1000 * i}, 'admin', 'person.upsert', '{{\"i\":{i}}}')");
                }
            }

            Assert.Equal(Database.Scripts().Where(s => s.Version >= 10).Select(s => s.Version).Order(), database.Migrate().Order());
            using (var writer = new EntryLogWriter(database))
            {
                Assert.Equal(6, writer.HeadSeq);
                writer.Append([log.Entry(1)]);
            }

            using (var writer = new EntryLogWriter(database))
            {
                Assert.Equal(7, writer.HeadSeq); // sealed once only
            }

            var result = new LogVerifier(database, Path.Combine(directory, "none.jsonl"), Path.Combine(directory, "none.pem")).Verify();
            TestLog.AssertChainWholeButUnsigned(result); // a writer without a signing key
            var genesis = new EntryLogQuery(database).Find(new LogFilter { Kind = LogKinds.Integrity }).Single();
            Assert.Equal((6L, "genesis"), (genesis.Seq, genesis.Reason));
            Assert.Contains("\"sealedRows\":5", genesis.Detail, StringComparison.Ordinal);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void CheckpointFile_LineRoundTripsAndIsSignedByThePublicKey()
    {
        var lines = CheckpointFile.ReadAll(log.CheckpointPath);
        using var key = LogSigningKey.LoadPublicKey(log.PublicKeyPath);

        Assert.All(lines, l => Assert.True(l.Checkpoint!.IsSignedBy(key)));
        var last = lines[^1].Checkpoint!;
        Assert.Equal(36, last.Seq);
        Assert.True(LogCheckpoint.Parse(last.ToJsonLine()).Checkpoint!.SameAs(last));
        Assert.Matches("^\\{\"v\":1,\"seq\":36,\"hash\":\"[0-9a-f]{64}\",\"rows\":36,\"at\":\"2025-03-03T09:\\d\\d:\\d\\d\\.\\d{3}Z\",\"keyId\":\"[0-9a-f]{16}\",\"sig\":\"[A-Za-z0-9+/=]+\"\\}$", last.ToJsonLine());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(log.Directory, LogSigningKey.PrivateKeyFileName)));
        }
    }

    [Fact]
    public void Chain_PinnedEncoding_MatchesTheDocumentedExample()
    {
        // docs/log-integrity.md walks through this row; the hash is pinned so that the document and the code cannot drift.
        var values = new object?[] { 1L, 1740992400000L, "access", "dc1", null, null, null, null, null, null, null, null, null, 0L, "grant", "granted", 5L, null, null };
        var hash = new LogChain().Hash(LogChain.Start, values);

        Assert.Equal(DocumentedExampleHash, Convert.ToHexStringLower(hash));
    }

    internal const string DocumentedExampleHash = "afe53944a60b17bf2829a49afbbc4aa348487b17668a0d7c9cd136813aa75287";

    internal static string Describe(LogVerification result) => JsonSerializer.Serialize(result);

    /// <summary>What an attacker without the key can do: recompute every hash from the first row (the algorithm is public).</summary>
    internal static void Rechain(SqliteConnection connection)
    {
        var chain = new LogChain();
        var previous = LogChain.Start;
        var rows = new List<object[]>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT {LogChain.Columns} FROM entry_log ORDER BY seq";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var values = new object[LogChain.ColumnCount];
                reader.GetValues(values);
                rows.Add(values);
            }
        }

        foreach (var row in rows)
        {
            previous = chain.Hash(previous, row);
            using var update = connection.CreateCommand();
            update.CommandText = "UPDATE entry_log SET hash = $hash WHERE seq = $seq";
            update.Parameters.AddWithValue("$hash", previous);
            update.Parameters.AddWithValue("$seq", row[0]);
            update.ExecuteNonQuery();
        }
    }

    private static Database NewDatabase(out string directory, bool migrate = true)
    {
        directory = Path.Combine(Path.GetTempPath(), "ac-log-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var database = new Database(Path.Combine(directory, "accesscontrol.db"));
        if (migrate)
        {
            database.Migrate();
        }

        return database;
    }
}

using System.Security.Cryptography;
using System.Text.Json;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;

namespace AccessControl.EntryLog;

/// <summary>What is wrong with a row of the chain.</summary>
public static class LogBreaks
{
    /// <summary>The row's hash is not SHA-256(previous hash || its content): content (or hash) changed.</summary>
    public const string ContentChanged = "content_changed";

    /// <summary>The row holds another seq's row (two rows' contents exchanged).</summary>
    public const string OrderSwapped = "order_swapped";

    /// <summary>Rows are missing before this seq (a gap), or the log does not start where its last purge says.</summary>
    public const string RowMissing = "row_missing";

    /// <summary>A row that should not be there (inside a purged range).</summary>
    public const string RowInserted = "row_inserted";

    /// <summary>A row without a hash in a chained log.</summary>
    public const string Unsealed = "unsealed";

    /// <summary>The chain ends before the last checkpoint: rows were cut off the end.</summary>
    public const string Truncated = "truncated";

    /// <summary>A purge row whose detail cannot be read.</summary>
    public const string PurgeRecordInvalid = "purge_record_invalid";

    /// <summary>SQLite could not read the file (corruption).</summary>
    public const string Unreadable = "unreadable";
}

/// <summary>What is wrong with a checkpoint.</summary>
public static class CheckpointProblems
{
    public const string SignatureInvalid = "signature_invalid";
    public const string HashMismatch = "hash_mismatch";
    public const string MissingFromDatabase = "missing_from_database";
    public const string MissingFromFile = "missing_from_file";
    public const string DiffersFromFile = "differs_from_file";
    public const string BeyondHead = "beyond_head";
    public const string FileLineInvalid = "file_line_invalid";
    public const string FileMissing = "file_missing";
    public const string NoPublicKey = "no_public_key";
    public const string Malformed = "malformed";

    /// <summary>The log has rows but no checkpoint in the database or the file: no signature vouches for any row.</summary>
    public const string NoCheckpoint = "no_checkpoint";
}

/// <summary>What is wrong with the triggers that make the log's tables append-only.</summary>
public static class ProtectionProblems
{
    /// <summary>A trigger the migrations made is gone: the database no longer refuses what it refused.</summary>
    public const string TriggerMissing = "trigger_missing";

    /// <summary>A trigger is there under its name but is not the one the migrations made (a WHEN that never holds, say).</summary>
    public const string TriggerAltered = "trigger_altered";

    /// <summary>A trigger on a log table that no migration made.</summary>
    public const string TriggerAdded = "trigger_added";

    /// <summary>
    /// <c>log_purge</c> lets the delete trigger pass other rows than the newest purge row of the chain purged: a row
    /// inserted there (the table takes inserts) opens every row up to it to a <c>DELETE</c>, the trigger left as it was.
    /// </summary>
    public const string PurgeBoundAltered = "purge_bound_altered";
}

/// <summary>A trigger of the log's tables that is not as the migrations made it (<see cref="ProtectionProblems"/>).</summary>
public sealed record ProtectionProblem(string Trigger, string Problem, string Detail);

/// <summary>The first broken row: its seq and what is wrong (<see cref="LogBreaks"/>).</summary>
public sealed record LogBreak(long Seq, string Problem, string Detail);

/// <summary>A checkpoint that no longer matches (<see cref="CheckpointProblems"/>); seq 0 when it concerns no single checkpoint.</summary>
public sealed record CheckpointProblem(long Seq, string Problem, string Detail);

/// <summary>
/// The outcome of <see cref="LogVerifier.Verify(SqliteConnection, LogVerifyInputs)"/>: ok with counts, or the first broken
/// row and every checkpoint that does not match. A value, not an exception: a broken log is an expected finding.
/// </summary>
public sealed record LogVerification
{
    public required bool Ok { get; init; }

    public required long Rows { get; init; }

    public required long FirstSeq { get; init; }

    public required long HeadSeq { get; init; }

    /// <summary>Rows up to this seq were purged (0: none).</summary>
    public required long PurgedUpTo { get; init; }

    public required int DatabaseCheckpoints { get; init; }

    public required int FileCheckpoints { get; init; }

    /// <summary>Checkpoints whose signature and hash were checked against the rows.</summary>
    public required int CheckpointsMatched { get; init; }

    public LogBreak? FirstBroken { get; init; }

    public IReadOnlyList<CheckpointProblem> CheckpointProblems { get; init; } = [];

    /// <summary>
    /// The append-only triggers of <c>entry_log</c>, <c>log_checkpoints</c> and <c>log_purge</c> that are missing, altered
    /// or added. Not evidence that a row changed (the chain says that), but the database no longer stops an UPDATE or
    /// DELETE by mistake, and whoever could drop them had the file.
    /// </summary>
    public IReadOnlyList<ProtectionProblem> ProtectionProblems { get; init; } = [];

    /// <summary>The last row a valid checkpoint vouches for (0: none).</summary>
    public long SignedUpTo { get; init; }

    /// <summary>
    /// Rows after <see cref="SignedUpTo"/>: only the chain vouches for them, so whoever has the file can cut, change or add
    /// them (recomputing the chain) without a trace. A running service has a few (it signs every 60 s or 1000 rows); a
    /// service stopped cleanly has none (it signs the head at its stop) but for the rows of a <c>log purge</c> run since.
    /// </summary>
    public long UnsignedRows { get; init; }

    /// <summary>What was not checked and why (no checkpoint file, checkpoints older than a purge).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The query index compared with the log (<see cref="LogIndex"/>); null when there was none to compare.</summary>
    public LogIndexCheck? Index { get; init; }

    /// <summary>The query index differs from the log: the log is as <see cref="Ok"/> says, but queries could miss rows.</summary>
    public bool IndexAltered => Index is { Differing: > 0 };
}

/// <summary>
/// What verify compares the database with: the checkpoint lines from the file outside the database and the public key
/// (both null when not available: then what they would prove is reported as not checked).
/// </summary>
/// <remarks>
/// Several public keys: the site's current one and those it signed with before a rotation (a checkpoint verifies when
/// one of them signed it).
/// </remarks>
public sealed record LogVerifyInputs(IReadOnlyList<(int Line, LogCheckpoint? Checkpoint, string? Error)>? FileCheckpoints, IReadOnlyList<ECDsa> PublicKeys)
    : IDisposable
{
    /// <summary>
    /// Reads the checkpoint file and the public keys of each PEM file that exists (every key of each: see
    /// <see cref="LogSigningKey.LoadPublicKeys"/>); a missing file is reported by verify, not thrown.
    /// </summary>
    public static LogVerifyInputs FromFiles(string? checkpointFile, params string?[] publicKeyFiles) =>
        new(checkpointFile is not null && File.Exists(checkpointFile) ? CheckpointFile.ReadAll(checkpointFile) : null,
            [.. publicKeyFiles.Where(File.Exists).SelectMany(f => LogSigningKey.LoadPublicKeys(f!))]);

    /// <summary>Whether one of the public keys signed <paramref name="checkpoint"/>.</summary>
    public bool Signed(LogCheckpoint checkpoint) => PublicKeys.Any(checkpoint.IsSignedBy);

    public void Dispose()
    {
        foreach (var key in PublicKeys)
        {
            key.Dispose();
        }
    }
}

/// <summary>
/// Walks the entry log's chain on a read-only connection and checks it against the signed checkpoints in the database
/// and in the checkpoint file. Reports the first broken row and every checkpoint that no longer matches. Used by
/// <c>accesscontrol log verify</c>, <c>GET /api/v1/log/verify</c> and the service's own periodic verification
/// (<see cref="LogWatch"/>). See docs/log-integrity.md.
/// </summary>
/// <param name="retiredKeysFile">The public keys the site signed with before (null: none), beside <paramref name="publicKeyFile"/>.</param>
public sealed class LogVerifier(Database database, string checkpointFile, string publicKeyFile, string? retiredKeysFile = null)
{
    /// <summary>The data folder's checkpoint file and public keys, beside the database.</summary>
    public LogVerifier(Database database)
        : this(database,
            CheckpointFile.PathIn(Path.GetDirectoryName(database.Path)!),
            Path.Combine(Path.GetDirectoryName(database.Path)!, LogSigningKey.PublicKeyFileName),
            Path.Combine(Path.GetDirectoryName(database.Path)!, LogSigningKey.RetiredKeysFileName))
    {
    }

    /// <summary>The data folder's checkpoint file and public keys (the database may be elsewhere): the API's and the service's own.</summary>
    public static LogVerifier ForDataFolder(Database database, string dataDirectory) =>
        new(database, CheckpointFile.PathIn(dataDirectory), Path.Combine(dataDirectory, LogSigningKey.PublicKeyFileName),
            Path.Combine(dataDirectory, LogSigningKey.RetiredKeysFileName));

    /// <summary>The public keys of the site's earlier signing keys (null: none are read).</summary>
    public string? RetiredKeysPath { get; } = retiredKeysFile;

    public string CheckpointFilePath { get; } = checkpointFile;

    public string PublicKeyPath { get; } = publicKeyFile;

    /// <summary>How many times <see cref="Verify()"/> waits for the newest checkpoints' lines before it reports them missing.</summary>
    public const int FilingWaits = 10;

    /// <summary>One wait for the writer to file a checkpoint's line (by default 100 ms; tests file the line instead).</summary>
    internal Action WaitForFiling { get; init; } = () => Thread.Sleep(TimeSpan.FromMilliseconds(100));

    /// <summary>Verifies the database with the configured checkpoint file and public key, and compares the query index with it.</summary>
    /// <remarks>
    /// The service appends a checkpoint's line to the file just after the checkpoint's commit, from another thread
    /// (<see cref="EntryLogWriter.FileCheckpoints"/>). A verify of a running log that reads in between finds the newest
    /// checkpoints in the database only. When that is all it finds wrong, it waits for those lines (re-reading the file,
    /// up to <see cref="FilingWaits"/> times in all) and walks the chain again once they are there; a line still missing
    /// then is reported (and the service files it at its next start).
    /// </remarks>
    public LogVerification Verify()
    {
        var result = VerifyChain();
        return new LogIndex(database).Check() is { } index ? result with { Index = index } : result;
    }

    private LogVerification VerifyChain()
    {
        var waits = 0;
        for (var pass = 0; ; pass++)
        {
            LogVerification result;
            using var inputs = LogVerifyInputs.FromFiles(CheckpointFilePath, PublicKeyPath, RetiredKeysPath);
            using (var connection = database.OpenReadOnly())
            {
                result = Verify(connection, inputs);
            }

            if (Unfiled(result, inputs) is not { } unfiled)
            {
                return result;
            }

            // Re-reading the file is cheap; walking the chain is not: walk again only once the lines are there.
            while (waits < FilingWaits && !Filed(unfiled))
            {
                WaitForFiling();
                waits++;
            }

            if (pass == FilingWaits || !Filed(unfiled))
            {
                return result with { Notes = [.. result.Notes, $"the newest checkpoints were still missing from the file after {waits} waits for the service to file them"] };
            }
        }
    }

    /// <summary>
    /// The checkpoints missing from the file, when the only things wrong are checkpoints newer than every line in it and
    /// perhaps a last line read while it was being appended: lines not yet filed. Null otherwise.
    /// </summary>
    private static IReadOnlyList<long>? Unfiled(LogVerification result, LogVerifyInputs inputs)
    {
        if (result.FirstBroken is not null || inputs.FileCheckpoints is not { Count: > 0 } lines)
        {
            return null;
        }

        var newestFiled = lines.Select(l => l.Checkpoint?.Seq ?? 0).Max();
        var lastLineTorn = lines[^1].Checkpoint is null && lines.Count(l => l.Checkpoint is null) == 1;
        var awaiting = result.CheckpointProblems.All(p => p switch
        {
            { Problem: CheckpointProblems.MissingFromFile } => p.Seq > newestFiled,
            { Problem: CheckpointProblems.FileLineInvalid } => lastLineTorn,
            _ => false,
        });
        var missing = result.CheckpointProblems.Where(p => p.Problem == CheckpointProblems.MissingFromFile).Select(p => p.Seq).ToList();
        return awaiting && missing.Count > 0 ? missing : null;
    }

    private bool Filed(IReadOnlyList<long> seqs)
    {
        var filed = File.Exists(CheckpointFilePath)
            ? CheckpointFile.ReadAll(CheckpointFilePath).Select(l => l.Checkpoint?.Seq).OfType<long>().ToHashSet()
            : [];
        return seqs.All(filed.Contains);
    }

    /// <summary>Verifies the log in <paramref name="connection"/> (it only reads).</summary>
    public static LogVerification Verify(SqliteConnection connection, LogVerifyInputs inputs)
    {
        var walk = new Walk();
        try
        {
            return walk.Run(connection, inputs);
        }
        catch (SqliteException ex)
        {
            return walk.Result(new LogBreak(walk.Expected, LogBreaks.Unreadable, $"SQLite cannot read the log: {ex.Message}"), [], ["the walk stopped at an unreadable part of the file"]);
        }
    }

    private sealed class Walk
    {
        private readonly LogChain chain = new();
        private long rows;
        private long firstSeq;
        private long headSeq;
        private long purgedUpTo;
        private int databaseCheckpoints;
        private int fileCheckpoints;
        private int matched;
        private long signedUpTo;
        private long unsignedRows;
        private IReadOnlyList<ProtectionProblem> protection = [];

        public long Expected { get; private set; } = 1;

        public LogVerification Run(SqliteConnection connection, LogVerifyInputs inputs)
        {
            var notes = new List<string>();
            var problems = new List<CheckpointProblem>();
            var fromDatabase = ReadCheckpoints(connection, problems);
            databaseCheckpoints = fromDatabase.Count;
            var wanted = new HashSet<long>(fromDatabase.Keys);
            var fromFile = new Dictionary<long, LogCheckpoint>();
            if (inputs.FileCheckpoints is { } lines)
            {
                foreach (var (line, checkpoint, error) in lines)
                {
                    if (checkpoint is null)
                    {
                        problems.Add(new CheckpointProblem(0, CheckpointProblems.FileLineInvalid, $"checkpoint file line {line}: {error}"));
                    }
                    else
                    {
                        fromFile[checkpoint.Seq] = checkpoint;
                        wanted.Add(checkpoint.Seq);
                    }
                }

                fileCheckpoints = fromFile.Count;
            }

            // Where the chain starts: after the newest purge's range, from the hash of its last row; else at seq 1 from zeros.
            var start = LogChain.Start;
            LogBreak? broken = null;
            byte[]? purgeAnchor = null;
            if (LastPurge(connection) is { } purge)
            {
                if (purge.Detail is { } detail && TryHex(detail.LastHash) is { } anchor)
                {
                    purgedUpTo = detail.ToSeq;
                    notes.Add(detail.Rows > 0
                        ? $"rows {detail.FromSeq}..{detail.ToSeq} ({detail.Rows}) were purged; the purge is recorded in row {purge.Seq}"
                        : $"the newest purge, recorded in row {purge.Seq}, found nothing to purge{(detail.ToSeq > 0 ? $"; rows up to seq {detail.ToSeq} were purged before it" : "")}");
                    Expected = detail.ToSeq + 1;
                    start = anchor;
                    purgeAnchor = anchor;
                }
                else
                {
                    broken = new LogBreak(purge.Seq, LogBreaks.PurgeRecordInvalid, "the purge row's detail does not name the range and last hash");
                }
            }

            // Read in place (LogPass), not through a data reader: the walk is the verifier's whole cost, and a data reader's
            // boxed values, strings and arrays, about a kilobyte a row, make garbage collections that stop every thread
            // of the service (the swipes' too) while an auditor verifies. Per row this allocates nothing.
            var hashesAt = new Dictionary<long, byte[]>();
            var previous = new byte[LogChain.HashSize];
            start.CopyTo(previous, 0);
            Span<byte> computed = stackalloc byte[LogChain.HashSize];
            using (var pass = new LogPass(connection, $"SELECT {LogChain.Columns}, hash FROM entry_log ORDER BY seq"))
            {
                while (pass.Read())
                {
                    if (pass.StorageClass(0) != SQLitePCL.raw.SQLITE_INTEGER)
                    {
                        broken ??= new LogBreak(Expected, LogBreaks.ContentChanged, "a row's seq is not an integer");
                        continue;
                    }

                    var seq = pass.GetInt64(0);
                    var sealedRow = pass.StorageClass(LogChain.ColumnCount) == SQLitePCL.raw.SQLITE_BLOB;
                    var stored = sealedRow ? pass.GetBlob(LogChain.ColumnCount) : default;
                    rows++;
                    firstSeq = rows == 1 ? seq : firstSeq;
                    headSeq = seq;
                    if (sealedRow && wanted.Contains(seq))
                    {
                        hashesAt[seq] = stored.ToArray();
                    }

                    if (broken is null)
                    {
                        if (seq <= purgedUpTo)
                        {
                            broken = new LogBreak(seq, LogBreaks.RowInserted, purgedUpTo > 0
                                ? $"row {seq} is inside the range purged up to seq {purgedUpTo}"
                                : $"row {seq} comes before the log's first row, seq 1");
                        }
                        else if (seq != Expected)
                        {
                            broken = new LogBreak(seq, LogBreaks.RowMissing,
                                Expected == seq - 1 ? $"row {Expected} is missing" : $"rows {Expected}..{seq - 1} are missing");
                        }
                        else if (!sealedRow)
                        {
                            broken = new LogBreak(seq, LogBreaks.Unsealed, $"row {seq} has no hash");
                        }
                        else
                        {
                            chain.Hash(previous, pass, computed);
                            if (!computed.SequenceEqual(stored))
                            {
                                broken = new LogBreak(seq, LogBreaks.ContentChanged, $"row {seq}'s content does not match its hash");
                            }
                        }
                    }

                    // The chain goes on from this row's hash only while it holds (then the hash is 32 bytes); after the
                    // first break the walk only counts rows and collects the checkpoints' hashes.
                    if (broken is null)
                    {
                        stored.CopyTo(previous);
                    }

                    Expected = seq + 1;
                }
            }

            if (broken is { Problem: LogBreaks.ContentChanged } changed && FindSwap(connection, changed.Seq, purgedUpTo) is { } other)
            {
                broken = new LogBreak(changed.Seq, LogBreaks.OrderSwapped, $"row {changed.Seq} holds the row of seq {other} (rows out of order)");
            }

            // Checkpoints: each must be in the database and in the file alike, signed by the site key, and match the chain.
            if (inputs.FileCheckpoints is null)
            {
                if (fromDatabase.Count > 0)
                {
                    problems.Add(new CheckpointProblem(0, CheckpointProblems.FileMissing, "no checkpoint file to compare the database's checkpoints with"));
                }
            }

            // No checkpoint anywhere: nothing but the (public) algorithm vouches for the rows, so a rewritten log with a
            // recomputed chain would pass. The service signs the head within a minute and at every clean stop, so a log
            // with rows and no checkpoint is either seconds old or has lost them; either way it is not verified.
            if (wanted.Count == 0 && rows > 0)
            {
                problems.Add(new CheckpointProblem(0, CheckpointProblems.NoCheckpoint,
                    $"the log has {rows} rows but no signed checkpoint, in the database or the file: nothing vouches for them "
                    + "(the service signs the head within a minute of a new row and at a clean stop; one that does not have lost its checkpoints)"));
            }

            if (inputs.PublicKeys.Count == 0 && wanted.Count > 0)
            {
                problems.Add(new CheckpointProblem(0, CheckpointProblems.NoPublicKey, "no public key: checkpoint signatures cannot be checked"));
            }

            var lastCheckpoint = 0L;
            var olderThanPurge = 0;
            foreach (var seq in wanted.Order())
            {
                fromDatabase.TryGetValue(seq, out var inDatabase);
                fromFile.TryGetValue(seq, out var inFile);
                var ok = true;
                if (inputs.FileCheckpoints is not null)
                {
                    if (inDatabase is null)
                    {
                        problems.Add(new CheckpointProblem(seq, CheckpointProblems.MissingFromDatabase, $"checkpoint at seq {seq} is in the file but not in the database"));
                        ok = false;
                    }
                    else if (inFile is null)
                    {
                        problems.Add(new CheckpointProblem(seq, CheckpointProblems.MissingFromFile, $"checkpoint at seq {seq} is in the database but not in the file"));
                        ok = false;
                    }
                    else if (!inDatabase.SameAs(inFile))
                    {
                        problems.Add(new CheckpointProblem(seq, CheckpointProblems.DiffersFromFile, $"checkpoint at seq {seq} differs between the database and the file"));
                        ok = false;
                    }
                }

                // One signature check when both copies are the same bytes.
                var copies = inFile is not null && inDatabase is not null && inFile.SameAs(inDatabase)
                    ? new (string Source, LogCheckpoint? Checkpoint)[] { ("file", inFile) }
                    : [("file", inFile), ("database", inDatabase)];
                foreach (var (source, checkpoint) in copies)
                {
                    if (checkpoint is not null && inputs.PublicKeys.Count > 0 && !inputs.Signed(checkpoint))
                    {
                        problems.Add(new CheckpointProblem(seq, CheckpointProblems.SignatureInvalid,
                            $"the {source}'s checkpoint at seq {seq} is not signed by the site key (key id {checkpoint.KeyId})"));
                        ok = false;
                    }
                }

                // The file's copy is the one that counts: it is outside the database.
                var reference = inFile ?? inDatabase!;
                lastCheckpoint = Math.Max(lastCheckpoint, seq);
                if (seq > headSeq)
                {
                    problems.Add(new CheckpointProblem(seq, CheckpointProblems.BeyondHead, $"checkpoint at seq {seq} is beyond the last row ({headSeq})"));
                    ok = false;
                }
                else if (seq < purgedUpTo)
                {
                    olderThanPurge++;
                    continue;
                }
                else if (seq == purgedUpTo)
                {
                    if (!purgeAnchor.AsSpan().SequenceEqual(reference.Hash))
                    {
                        problems.Add(new CheckpointProblem(seq, CheckpointProblems.HashMismatch, $"checkpoint at seq {seq} does not match the hash the purge recorded for that row"));
                        ok = false;
                    }
                }
                else if (!hashesAt.TryGetValue(seq, out var stored) || !stored.AsSpan().SequenceEqual(reference.Hash))
                {
                    problems.Add(new CheckpointProblem(seq, CheckpointProblems.HashMismatch, $"checkpoint at seq {seq} does not match row {seq}'s hash"));
                    ok = false;
                }

                matched += ok ? 1 : 0;
                signedUpTo = ok && seq <= headSeq ? Math.Max(signedUpTo, seq) : signedUpTo;
            }

            unsignedRows = CountAfter(connection, Math.Max(signedUpTo, purgedUpTo));
            if (unsignedRows > 0 && rows > 0)
            {
                notes.Add(signedUpTo > 0
                    ? $"{unsignedRows} rows after seq {signedUpTo}, the last signed checkpoint, are vouched for by the chain only (the service signs the head within a minute and at a clean stop)"
                    : $"{unsignedRows} rows are vouched for by the chain only: no checkpoint matched");
            }

            protection = LogProtection.Check(connection, purgedUpTo);

            if (olderThanPurge > 0)
            {
                notes.Add($"{olderThanPurge} checkpoint(s) cover purged rows only: their signatures were checked, not their hashes");
            }

            if (lastCheckpoint > headSeq && (broken is null || broken.Seq > headSeq))
            {
                broken = new LogBreak(headSeq + 1, LogBreaks.Truncated, $"the log ends at seq {headSeq} but a checkpoint covers up to seq {lastCheckpoint}");
            }

            return Result(broken, problems, notes);
        }

        public LogVerification Result(LogBreak? broken, IReadOnlyList<CheckpointProblem> problems, IReadOnlyList<string> notes) => new()
        {
            Ok = broken is null && problems.Count == 0 && protection.Count == 0,
            Rows = rows,
            FirstSeq = firstSeq,
            HeadSeq = headSeq,
            PurgedUpTo = purgedUpTo,
            DatabaseCheckpoints = databaseCheckpoints,
            FileCheckpoints = fileCheckpoints,
            CheckpointsMatched = matched,
            FirstBroken = broken,
            CheckpointProblems = problems,
            ProtectionProblems = protection,
            SignedUpTo = signedUpTo,
            UnsignedRows = unsignedRows,
            Notes = notes,
        };

        private static long CountAfter(SqliteConnection connection, long seq)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM entry_log WHERE seq > $seq";
            command.Parameters.AddWithValue("$seq", seq);
            return (long)command.ExecuteScalar()!;
        }

        /// <summary>
        /// Only when a row's content does not match: is it the row of another seq? That is, does its content, given that
        /// seq and the hash before it, give the hash it carries. One more pass, on the failure path only.
        /// </summary>
        /// <remarks>
        /// The hash before seq M is the one stored at M-1, except when M-1 is the broken row itself: rows exchanged with
        /// their neighbour (the broken row holds M's row, M holds the broken row's) have the broken row's own hash at M.
        /// A match is a SHA-256 preimage of the stored hash, so an edited row is never taken for a moved one.
        /// </remarks>
        private long? FindSwap(SqliteConnection connection, long brokenSeq, long purgedUpTo)
        {
            object[]? suspect = null;
            byte[]? suspectHash = null;
            using (var command = connection.CreateCommand())
            {
                command.CommandText = $"SELECT {LogChain.Columns}, hash FROM entry_log WHERE seq = $seq";
                command.Parameters.AddWithValue("$seq", brokenSeq);
                using var reader = command.ExecuteReader();
                if (reader.Read())
                {
                    suspect = new object[LogChain.ColumnCount + 1];
                    reader.GetValues(suspect);
                    suspectHash = suspect[LogChain.ColumnCount] as byte[];
                }
            }

            if (suspect is null || suspectHash is null)
            {
                return null;
            }

            var candidate = (object[])suspect.Clone();
            using var walk = connection.CreateCommand();
            walk.CommandText = "SELECT seq, hash FROM entry_log ORDER BY seq";
            using var rows = walk.ExecuteReader();
            var previous = purgedUpTo == 0 ? LogChain.Start : null;
            var previousSeq = purgedUpTo;
            while (rows.Read())
            {
                var seq = rows.GetInt64(0);
                var before = previousSeq == brokenSeq ? rows.GetValue(1) as byte[] : previous;
                if (seq != brokenSeq && before is not null && previousSeq == seq - 1)
                {
                    candidate[0] = seq;
                    if (chain.Hash(before, candidate.AsSpan(0, LogChain.ColumnCount)).AsSpan().SequenceEqual(suspectHash))
                    {
                        return seq;
                    }
                }

                previous = rows.GetValue(1) as byte[];
                previousSeq = seq;
            }

            return null;
        }

        /// <summary>The database's checkpoints; a row whose values have the wrong types is a problem, not an exception.</summary>
        private static Dictionary<long, LogCheckpoint> ReadCheckpoints(SqliteConnection connection, List<CheckpointProblem> problems)
        {
            var result = new Dictionary<long, LogCheckpoint>();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT seq, hash, rows, at, key_id, signature FROM log_checkpoints ORDER BY seq";
            using var reader = command.ExecuteReader();
            var values = new object[6];
            while (reader.Read())
            {
                reader.GetValues(values);
                if (values is [long seq, byte[] hash, long rows, long at, string keyId, byte[] signature])
                {
                    result[seq] = new LogCheckpoint(seq, hash, rows, NodaTime.Instant.FromUnixTimeMilliseconds(at), keyId, signature);
                }
                else
                {
                    problems.Add(new CheckpointProblem(values[0] as long? ?? 0, CheckpointProblems.Malformed, "a checkpoint row in the database has values of the wrong type"));
                }
            }

            return result;
        }

        private static (long Seq, EntryLogWriter.PurgeDetail? Detail)? LastPurge(SqliteConnection connection)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT seq, detail FROM entry_log WHERE kind = $kind AND reason = $reason ORDER BY seq DESC LIMIT 1";
            command.Parameters.AddWithValue("$kind", LogKinds.Integrity);
            command.Parameters.AddWithValue("$reason", LogKinds.PurgeReason);
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }

            try
            {
                return (reader.GetInt64(0), reader.GetValue(1) is string json ? JsonSerializer.Deserialize<EntryLogWriter.PurgeDetail>(json, EntryLogWriter.PurgeDetail.Json) : null);
            }
            catch (JsonException)
            {
                return (reader.GetInt64(0), null);
            }
        }

        private static byte[]? TryHex(string? hex)
        {
            if (hex is null || hex.Length != LogChain.HashSize * 2)
            {
                return null;
            }

            try
            {
                return Convert.FromHexString(hex);
            }
            catch (FormatException)
            {
                return null;
            }
        }
    }
}

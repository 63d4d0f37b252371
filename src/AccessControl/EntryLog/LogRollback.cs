using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using AccessControl.Storage;
using NodaTime;

namespace AccessControl.EntryLog;

/// <summary>
/// The data folder's checkpoint file signs rows beyond the database's head: the database is older than the file (a
/// restored backup, or an older copy put in place of the log to hide rows). Found at start, before the writer opens: a
/// service that went on would number its rows from <see cref="Head"/> + 1 over seqs the file already signed, and the
/// evidence of the rollback would turn into <c>hash_mismatch</c> mixed with new rows. So the start is refused unless
/// the operator accepts this very rollback (<see cref="LogIntegrityOptions.AcceptRollback"/>); then the old file is
/// moved aside, kept as evidence, and an <c>integrity</c>/<c>log_rollback_accepted</c> row records it.
/// </summary>
/// <remarks>
/// The file must go aside before the writer opens (the writer files checkpoints into the file at the usual path), so
/// there is a moment when it is aside and the row is not yet written; a start that stops there (the row cannot be
/// written: a full disk, a read-only file, a busy database; the process killed, the power gone) must not leave a
/// rollback that the next start, finding no file beyond the head, goes past unseen. Putting the file back on failure
/// would not do: nothing runs after a kill or a power cut, the same full disk or read-only folder can refuse the move
/// back, and by then the writer may have started a new file at the usual path. So the file first goes aside under a
/// name that says its rollback is not in the log yet (<see cref="UnrecordedPrefix"/>), and takes its final name
/// (<see cref="RecordedPrefix"/>) only after the row is committed. The next start finds such a file from the data
/// folder and the log alone (<see cref="FindUnrecorded"/>). When a row names it, the start stopped after the row, and
/// the file only takes its final name. Else the rollback is refused again, as the original file was, until the
/// operator accepts it again; the row then says an earlier start moved the file (<c>movedByEarlierStart</c>) and names
/// the account that accepted it this time. (Recording it at the next start without asking would give the auditor a
/// row that names no one who accepted it.) The mark lives in the file's name, not only in the row, because a purge
/// deletes old rows: a recorded rollback must not be refused again years later.
/// </remarks>
/// <param name="Head">The database's last seq when the rollback was found (0 for an empty log).</param>
/// <param name="Checkpoint">The newest checkpoint in the file, which names a seq after <see cref="Head"/>.</param>
/// <param name="CheckpointFile">Where the file is now: the usual path, or aside under <see cref="UnrecordedPrefix"/>.</param>
/// <param name="MovedAsideAt">When the file went aside, while its rollback is not in the log; null while it is at the usual path.</param>
public sealed partial record LogRollback(long Head, LogCheckpoint Checkpoint, string CheckpointFile, Instant? MovedAsideAt = null)
{
    /// <summary>The flag of <c>accesscontrol run</c> that sets <see cref="LogIntegrityOptions.AcceptRollback"/>.</summary>
    public const string AcceptFlag = "accept-log-rollback";

    /// <summary>The name of a file moved aside whose rollback is not in the log yet: <c>{prefix}{head}-{unix ms}.jsonl</c>.</summary>
    public const string UnrecordedPrefix = "entry-log.checkpoints.unrecorded-rollback-";

    /// <summary>The name of a file moved aside whose rollback a <c>log_rollback_accepted</c> row records.</summary>
    public const string RecordedPrefix = "entry-log.checkpoints.rolled-back-";

    /// <summary>
    /// Every rollback to accept before the log is written, by a start or by a CLI command that appends: the files an
    /// earlier start moved aside without recording their rollback (<see cref="FindUnrecorded"/>), then the file at
    /// <paramref name="checkpointFile"/> when it signs beyond the head (<see cref="Find"/>). None when the folder holds
    /// no checkpoint file. Throws <see cref="LogRollbackException"/> for a file moved aside that holds no checkpoint.
    /// </summary>
    public static IReadOnlyList<LogRollback> FindAll(Database database, string checkpointFile)
    {
        var found = FindUnrecorded(database, checkpointFile).ToList();
        if (Find(database, checkpointFile) is { } rollback)
        {
            found.Add(rollback);
        }

        return found;
    }

    /// <summary>The database's head against the newest checkpoint of the file; null when the file signs nothing beyond it.</summary>
    public static LogRollback? Find(Database database, string checkpointFile)
    {
        if (EntryLog.CheckpointFile.ReadLast(checkpointFile) is not { } last)
        {
            return null;
        }

        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COALESCE(MAX(seq), 0) FROM entry_log";
        var head = (long)command.ExecuteScalar()!;
        return last.Seq > head ? new LogRollback(head, last, checkpointFile) : null;
    }

    /// <summary>
    /// The files an earlier start moved aside (beside <paramref name="checkpointFile"/>) and stopped before their
    /// rollback was in the log: each is a rollback to accept again. A file that a row names already (the start
    /// stopped after the row, before the rename) is given its final name here, and is no rollback to accept.
    /// </summary>
    public static IReadOnlyList<LogRollback> FindUnrecorded(Database database, string checkpointFile)
    {
        var folder = Path.GetDirectoryName(checkpointFile)!;
        if (!Directory.Exists(folder))
        {
            return [];
        }

        var found = new List<LogRollback>();
        foreach (var path in Directory.EnumerateFiles(folder, UnrecordedPrefix + "*.jsonl").Order(StringComparer.Ordinal))
        {
            var name = UnrecordedName().Match(Path.GetFileName(path));
            if (!name.Success)
            {
                continue;
            }

            var head = long.Parse(name.Groups["head"].Value, CultureInfo.InvariantCulture);
            var movedAt = Instant.FromUnixTimeMilliseconds(long.Parse(name.Groups["ms"].Value, CultureInfo.InvariantCulture));
            var last = EntryLog.CheckpointFile.ReadLast(path) ?? throw EmptiedAside(path, head);
            var rollback = new LogRollback(head, last, path, movedAt);
            if (rollback.IsRecordedIn(database))
            {
                rollback.MarkRecorded();
            }
            else
            {
                found.Add(rollback);
            }
        }

        return found;
    }

    /// <summary>
    /// A file moved aside that holds no checkpoint now: no rollback to accept, and no way to tell which. A start and a
    /// CLI command that appends are both refused, each saying so in its own words, with the same finding and remedy.
    /// </summary>
    private static LogRollbackException EmptiedAside(string path, long head) => Refused(
        $"the checkpoint file {path} was moved aside by a start that accepted a rollback of the entry log to seq {head} and stopped before it recorded the rollback in the log, "
            + "and it holds no checkpoint now (it was changed since)",
        "Keep it with the incident record and move it out of the data folder (docs/operations.md, section 8)");

    /// <summary>
    /// A <c>log_rollback_accepted</c> row whose detail the service did not write (a changed database): whether it
    /// records this file's rollback cannot be told. Taken as a row that does not, the rollback would be refused as one
    /// nobody recorded, and accepting it again would write a second row over a log that was changed; so both a start
    /// and a CLI command that appends are refused, naming the row, until the log is looked at.
    /// </summary>
    private LogRollbackException UnreadableRow(long seq) => Refused(
        $"the entry log's row {seq} ({LogKinds.Integrity}/{LogKinds.RollbackAcceptedReason}) has a detail that is not the JSON object the service writes, "
            + $"so whether it records the rollback of the checkpoint file {CheckpointFile}, moved aside at seq {Head}, cannot be told: the database was changed outside the service",
        $"Run `accesscontrol log verify --db ... --checkpoints {RecordedPath}` for the incident record, then restore the database from a backup (docs/operations.md, section 8)");

    /// <summary>A refusal of a start and of a CLI command that appends, each in its own words, with the same finding and remedy.</summary>
    private static LogRollbackException Refused(string found, string remedy) =>
        new($"Cannot start: {found}. Nothing was written. {remedy}.", $"refused: {found}. Nothing was changed. {remedy}, then run this command again.");

    /// <summary>Why the service does not start, and what the operator does (docs/operations.md section 8).</summary>
    public string Refusal(long? accepted) => MovedAsideAt is { } movedAt
        ? $"Cannot start: the checkpoint file {CheckpointFile} signs rows up to seq {Checkpoint.Seq} (checkpoint of {EntryLogWriter.Rfc3339.Format(Checkpoint.At)}) but the entry log ended at seq {Head}; "
            + $"a start given --{AcceptFlag} {Checkpoint.Seq} moved it aside at {EntryLogWriter.Rfc3339.Format(movedAt)} and stopped before it recorded the rollback in the log. "
            + AnotherCheckpoint(accepted)
            + $"Nothing was written. Start again with --{AcceptFlag} {Checkpoint.Seq} to record the rollback now (the row names the account of that start, and that an earlier start moved the file), "
            + "or follow the restore procedure (docs/operations.md, section 8): keep the file with the incident record and move it out of the data folder."
        : $"Cannot start: the entry log ends at seq {Head} but the checkpoint file {CheckpointFile} signs rows up to seq {Checkpoint.Seq} "
            + $"(checkpoint of {EntryLogWriter.Rfc3339.Format(Checkpoint.At)}): the database is older than its checkpoint file (restored from a backup, or replaced). "
            + AnotherCheckpoint(accepted)
            + $"Nothing was written. Follow the restore procedure (docs/operations.md, section 8): run `accesscontrol log verify --db ... --checkpoints {CheckpointFile}` "
            + $"for the incident record, then move that file out of the data folder; or start once with --{AcceptFlag} {Checkpoint.Seq} "
            + "to have the service record the rollback in the log and move the file aside itself.";

    /// <summary>
    /// Why a CLI command that appends to the log (<c>token create</c>, <c>token revoke</c>, <c>log purge</c>) does not:
    /// its rows would take seqs the file signed for other rows, and bury the rollback. Only a start records one.
    /// </summary>
    public string CommandRefusal() =>
        $"the entry log is older than its checkpoint file: the log ends at seq {Head} but the checkpoint file {CheckpointFile} signs rows up to seq {Checkpoint.Seq} "
        + $"(checkpoint of {EntryLogWriter.Rfc3339.Format(Checkpoint.At)})"
        + (MovedAsideAt is { } movedAt
            ? $"; a start given --{AcceptFlag} {Checkpoint.Seq} moved it aside at {EntryLogWriter.Rfc3339.Format(movedAt)} and stopped before it recorded the rollback in the log. "
            : ": the database was restored from a backup, or replaced. ")
        + $"Rows written now would take seqs that file signed for other rows and hide the rollback. Nothing was changed. "
        + $"Start the service once with --{AcceptFlag} {Checkpoint.Seq} first, which records the rollback in the log (docs/operations.md, section 8), then run this command again.";

    /// <summary>
    /// Moves the old checkpoint file aside in its folder (<c>entry-log.checkpoints.unrecorded-rollback-{head}-{time}.jsonl</c>),
    /// where the writer will not append to it; the rollback as it is then.
    /// </summary>
    public LogRollback MoveAside(Instant now)
    {
        var aside = Path.Combine(Path.GetDirectoryName(CheckpointFile)!,
            string.Create(CultureInfo.InvariantCulture, $"{UnrecordedPrefix}{Head}-{now.ToUnixTimeMilliseconds()}.jsonl"));
        File.Move(CheckpointFile, aside);
        return this with { CheckpointFile = aside, MovedAsideAt = now };
    }

    /// <summary>Where the file moved aside goes once its row is committed (<c>entry-log.checkpoints.rolled-back-{head}-{time}.jsonl</c>).</summary>
    public string RecordedPath =>
        Path.Combine(Path.GetDirectoryName(CheckpointFile)!, RecordedPrefix + Path.GetFileName(CheckpointFile)[UnrecordedPrefix.Length..]);

    /// <summary>Gives the file moved aside its final name, once its row is committed, where <c>log verify</c> can still be pointed at it.</summary>
    public string MarkRecorded()
    {
        File.Move(CheckpointFile, RecordedPath);
        return RecordedPath;
    }

    /// <summary>
    /// The <c>integrity</c>/<c>log_rollback_accepted</c> row for the file moved aside: the head, the checkpoint beyond
    /// it (seq, time, hash), the file (its final name, SHA-256, when it went aside and whether an earlier start moved
    /// it) and who accepted (the OS account of this start, as purge rows name it).
    /// </summary>
    public LogEntry Entry(Instant now, OsAccount account, bool movedByEarlierStart) => new()
    {
        At = now,
        Kind = LogKinds.Integrity,
        Reason = LogKinds.RollbackAcceptedReason,
        Actor = account.ActorName,
        Detail = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["head"] = Head,
            ["checkpointSeq"] = Checkpoint.Seq,
            ["checkpointAt"] = EntryLogWriter.Rfc3339.Format(Checkpoint.At),
            ["checkpointHash"] = Convert.ToHexStringLower(Checkpoint.Hash),
            ["movedTo"] = RecordedPath,
            ["fileSha256"] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(CheckpointFile))),
            ["movedAt"] = MovedAsideAt is { } movedAt ? EntryLogWriter.Rfc3339.Format(movedAt) : null,
            ["movedByEarlierStart"] = movedByEarlierStart,
            ["osUser"] = account.User,
            ["osUid"] = account.Uid,
            ["loginUid"] = account.LoggedInAsAnother ? account.LoginUid : null,
            ["loginUser"] = account.LoggedInAsAnother ? account.LoginUser : null,
        }),
    };

    private string AnotherCheckpoint(long? accepted) =>
        accepted is { } seq ? $"--{AcceptFlag} {seq} names another checkpoint than seq {Checkpoint.Seq}. " : "";

    /// <summary>
    /// Whether a <c>log_rollback_accepted</c> row names this file's final name. Such a row comes after the head the
    /// file was moved aside at, so only the rows after it are read (the primary key), never the whole log.
    /// </summary>
    private bool IsRecordedIn(Database database)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, detail FROM entry_log WHERE seq > $head AND kind = $kind AND reason = $reason";
        command.Parameters.AddWithValue("$head", Head);
        command.Parameters.AddWithValue("$kind", LogKinds.Integrity);
        command.Parameters.AddWithValue("$reason", LogKinds.RollbackAcceptedReason);
        using var reader = command.ExecuteReader();
        var recorded = Path.GetFileName(RecordedPath);
        while (reader.Read())
        {
            var seq = reader.GetInt64(0);
            using var detail = StoredDetail.Object(reader.GetValue(1) as string) ?? throw UnreadableRow(seq);
            if (!detail.RootElement.TryGetProperty("movedTo", out var movedTo) || movedTo.ValueKind != JsonValueKind.String)
            {
                throw UnreadableRow(seq);
            }

            if (Path.GetFileName(movedTo.GetString()) == recorded)
            {
                return true;
            }
        }

        return false;
    }

    [GeneratedRegex(@"^entry-log\.checkpoints\.unrecorded-rollback-(?<head>[0-9]{1,18})-(?<ms>[0-9]{1,15})\.jsonl\z")]
    private static partial Regex UnrecordedName();
}

/// <summary>
/// A start refused on a rolled-back database (<see cref="LogRollback.Refusal"/>): exit code 2, nothing written. The
/// same finding refuses a CLI command that appends (<see cref="CommandRefusal"/>), which is no start.
/// </summary>
/// <param name="message">What the start says: <c>Cannot start: ...</c>.</param>
/// <param name="commandRefusal">What a CLI command that appends says (<c>token create</c>, <c>token revoke</c>, <c>log purge</c>):
/// that it was refused and changed nothing, with the same finding and what to do.</param>
public sealed class LogRollbackException(string message, string commandRefusal) : InvalidOperationException(message)
{
    /// <summary>The refusal in a CLI command's words (<see cref="LogRollback.CommandRefusal()"/> for a rollback to accept).</summary>
    public string CommandRefusal { get; } = commandRefusal;
}

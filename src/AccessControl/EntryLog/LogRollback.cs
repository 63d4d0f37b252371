using System.Security.Cryptography;
using System.Text.Json;
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
/// <param name="Head">The database's last seq (0 for an empty log).</param>
/// <param name="Checkpoint">The newest checkpoint in the file, which names a seq after <see cref="Head"/>.</param>
public sealed record LogRollback(long Head, LogCheckpoint Checkpoint, string CheckpointFile)
{
    /// <summary>The flag of <c>accesscontrol run</c> that sets <see cref="LogIntegrityOptions.AcceptRollback"/>.</summary>
    public const string AcceptFlag = "accept-log-rollback";

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

    /// <summary>Why the service does not start, and what the operator does (docs/operations.md section 8).</summary>
    public string Refusal(long? accepted) =>
        $"Cannot start: the entry log ends at seq {Head} but the checkpoint file {CheckpointFile} signs rows up to seq {Checkpoint.Seq} "
        + $"(checkpoint of {EntryLogWriter.Rfc3339.Format(Checkpoint.At)}): the database is older than its checkpoint file (restored from a backup, or replaced). "
        + (accepted is { } seq ? $"--{AcceptFlag} {seq} names another checkpoint than seq {Checkpoint.Seq}. " : "")
        + $"Nothing was written. Follow the restore procedure (docs/operations.md, section 8): run `accesscontrol log verify --db ... --checkpoints {CheckpointFile}` "
        + $"for the incident record, then move that file out of the data folder; or start once with --{AcceptFlag} {Checkpoint.Seq} "
        + "to have the service record the rollback in the log and move the file aside itself.";

    /// <summary>
    /// Moves the old checkpoint file aside in its folder (<c>entry-log.checkpoints.rolled-back-{head}-{time}.jsonl</c>),
    /// where the writer will not append to it and <c>log verify</c> can still be pointed at it; returns its new path.
    /// </summary>
    public string MoveAside(Instant now)
    {
        var aside = Path.Combine(Path.GetDirectoryName(CheckpointFile)!,
            $"entry-log.checkpoints.rolled-back-{Head}-{now.ToUnixTimeMilliseconds()}.jsonl");
        File.Move(CheckpointFile, aside);
        return aside;
    }

    /// <summary>
    /// The <c>integrity</c>/<c>log_rollback_accepted</c> row: the head, the checkpoint beyond it (seq, time, hash), the
    /// moved file (where, SHA-256) and who accepted (the OS account, as purge rows name it).
    /// </summary>
    public LogEntry Entry(Instant now, string movedTo, OsAccount account) => new()
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
            ["movedTo"] = movedTo,
            ["fileSha256"] = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(movedTo))),
            ["osUser"] = account.User,
            ["osUid"] = account.Uid,
            ["loginUid"] = account.LoggedInAsAnother ? account.LoginUid : null,
            ["loginUser"] = account.LoggedInAsAnother ? account.LoginUser : null,
        }),
    };
}

/// <summary>A start refused on a rolled-back database (<see cref="LogRollback.Refusal"/>): exit code 2, nothing written.</summary>
public sealed class LogRollbackException(LogRollback rollback, long? accepted) : InvalidOperationException(rollback.Refusal(accepted))
{
    public LogRollback Rollback { get; } = rollback;
}

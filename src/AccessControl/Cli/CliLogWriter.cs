using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Cli;

/// <summary>
/// The one way a CLI command opens the entry log to append to it itself, without the service (<c>token create</c>,
/// <c>token revoke</c>, <c>log purge</c>): first the check the service makes at start (<see cref="LogRollback.FindAll"/>),
/// against the checkpoint file of the database's folder (the data folder, where <c>log verify</c> looks too). On a
/// database older than that file the command's rows would take seqs the file signed for other rows, and the next start
/// and <c>log verify</c> would see <c>hash_mismatch</c> among new rows instead of the rollback; so the command writes
/// nothing until a start given <c>--accept-log-rollback</c> has recorded it. A folder without a checkpoint file has
/// nothing to compare with, for the CLI as for the service.
/// </summary>
internal static class CliLogWriter
{
    /// <summary>The writer; null after saying on <paramref name="error"/> why the log must not be written now.</summary>
    public static EntryLogWriter? Open(Database database, TextWriter error)
    {
        var checkpointFile = CheckpointFile.PathIn(Path.GetDirectoryName(database.Path)!);
        try
        {
            if (LogRollback.FindAll(database, checkpointFile) is [var rollback, ..])
            {
                error.WriteLine("error: " + rollback.CommandRefusal());
                return null;
            }
        }
        catch (LogRollbackException ex)
        {
            // In the command's words, not the start's: it was refused, and changed nothing.
            error.WriteLine("error: " + ex.CommandRefusal);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Fail closed: a log that cannot be compared with its checkpoint file may be a rolled-back one.
            error.WriteLine($"error: cannot read the checkpoint file {checkpointFile} to check that the entry log is not older than it ({ex.Message}); nothing was changed");
            return null;
        }

        return new EntryLogWriter(database);
    }

    /// <summary>
    /// Appends the <c>admin</c> row of a CLI command: the actor, the action and <paramref name="detail"/>, with the OS account
    /// the command ran as and the login's (<see cref="OsAccount"/>). False after saying why on <paramref name="error"/>:
    /// the command then changes or hands out nothing.
    /// </summary>
    public static bool AppendAdminRow(Database database, IClock clock, string actor, OsAccount account, string action, object detail, TextWriter error) =>
        AppendAdminRowAt(database, clock, actor, account, action, detail, error) is not null;

    /// <summary><see cref="AppendAdminRow"/>, returning the row as written (with its seq, which a <c>.failed</c> row names); null when it was not.</summary>
    public static LogEntry? AppendAdminRowAt(Database database, IClock clock, string actor, OsAccount account, string action, object detail, TextWriter error)
    {
        try
        {
            var fields = System.Text.Json.JsonSerializer.SerializeToNode(detail, AdminJson.Options)!.AsObject();
            fields["osUser"] = account.User;
            fields["osUid"] = account.Uid;
            if (account.LoginUid is { } loginUid)
            {
                fields["loginUid"] = loginUid;
            }

            if (account.LoginUser is { } loginUser)
            {
                fields["loginUser"] = loginUser;
            }

            using var writer = Open(database, error);
            if (writer is null)
            {
                return null;
            }

            return writer.Append([new LogEntry { At = clock.GetCurrentInstant(), Kind = LogKinds.Admin, Actor = actor, Reason = action, Detail = fields.ToJsonString(AdminJson.Options) }])[0];
        }
        catch (SqliteException ex)
        {
            error.WriteLine($"error: the entry log could not be written ({ex.Message}); nothing was changed");
            return null;
        }
    }
}

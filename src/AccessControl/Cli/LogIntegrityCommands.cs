using AccessControl.Admin;
using AccessControl.Display;
using AccessControl.EntryLog;
using AccessControl.Hosting;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Cli;

/// <summary>
/// <c>accesscontrol log verify --db PATH [--checkpoints FILE] [--public-key FILE] [--json]</c> and
/// <c>accesscontrol log purge --db PATH --config FILE --before RFC3339 [--actor NAME]</c> (docs/log-integrity.md).
/// </summary>
/// <remarks>
/// Both work on the database file directly, with the service running or not. <c>verify</c> only reads; the checkpoint
/// file and public key default to the ones beside the database (the data folder), but an auditor should pass the
/// copies they were given: a rewritten data folder could hold a rewritten key too.
/// </remarks>
public static class LogIntegrityCommands
{
    public const string VerifyUsage = "usage: log verify --db PATH [--checkpoints FILE] [--public-key FILE] [--json]";
    public const string PurgeUsage = "usage: log purge --db PATH --config FILE --before RFC3339 [--actor NAME]";

    /// <summary>Exit code 0: the log verifies (and its query index matches it); 1: it is broken, the index was altered, or it cannot be read; 2: usage error.</summary>
    public static int Verify(CliArgs args, TextWriter output, TextWriter error)
    {
        if (args.CheckOptions(["db", "checkpoints", "public-key", "json"]) is { } problem)
        {
            return UsageError(error, problem, VerifyUsage);
        }

        if (args.Positionals.Count != 1)
        {
            return UsageError(error, $"unexpected argument '{args.Positionals[^1]}'", VerifyUsage);
        }

        var path = args.Get("db");
        if (string.IsNullOrWhiteSpace(path))
        {
            return UsageError(error, "--db PATH is required", VerifyUsage);
        }

        if (!File.Exists(path))
        {
            error.WriteLine($"error: no database at {path}");
            return ExitCodes.Failed;
        }

        var database = new Database(path);
        var defaults = new LogVerifier(database);
        // An auditor's own --public-key file is all the keys they trust (their copies of the current and the retired keys,
        // concatenated); without it, the data folder's current and retired keys.
        var verifier = args.Get("public-key") is { } trusted
            ? new LogVerifier(database, args.Get("checkpoints") ?? defaults.CheckpointFilePath, trusted)
            : new LogVerifier(database, args.Get("checkpoints") ?? defaults.CheckpointFilePath, defaults.PublicKeyPath, defaults.RetiredKeysPath);
        LogVerification result;
        try
        {
            result = verifier.Verify();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            error.WriteLine($"error: cannot read the checkpoint file or public key: {ex.Message}");
            return ExitCodes.Failed;
        }

        if (args.Has("json"))
        {
            output.WriteLine(AdminJson.Serialize(result));
        }
        else
        {
            Write(result, output);
            WritePendingOutage(Path.GetDirectoryName(Path.GetFullPath(path))!, output, error);
        }

        return result.Ok && !result.IndexAltered ? ExitCodes.Ok : ExitCodes.Failed;
    }

    /// <summary>
    /// Exit code 0: purged (or nothing left to purge); 1: refused (a <c>--before</c> within the minimum retention, a
    /// configured minimum that is not allowed, no checkpoint yet), failed, or refused unrecorded because the database is
    /// older than its checkpoint file (<see cref="CliLogWriter"/>); 2: usage error, or a settings file that
    /// cannot be read. Every refusal is recorded in the log (<see cref="LogPurgeRefusal"/>); when even that row cannot be
    /// written, exit code 1 and an error that says so. A log whose purge records disagree (<see cref="LogPurgeInconsistentException"/>)
    /// is refused unrecorded, exit code 1, pointing to <c>log verify</c>.
    /// </summary>
    /// <remarks>
    /// The minimum retention is the service's (<c>AccessControl:LogIntegrity:MinimumRetention</c>), read as the service
    /// reads it (<see cref="ServiceSettings.Load"/>): from <c>--config FILE</c>, the file the service is started with, then
    /// the <c>AccessControl__...</c> environment variables. The file is required, and the working directory's
    /// <c>appsettings.json</c> is never read: a purge run from another folder would apply another minimum than the service's.
    /// <para><c>--actor</c> is a name the caller types; every row the purge writes (purges and refusals) also records
    /// <paramref name="account"/>, the OS account it ran as, which is the actor when <c>--actor</c> is not given.</para>
    /// </remarks>
    public static int Purge(CliArgs args, IClock clock, OsAccount account, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (args.CheckOptions(["db", "config", "before", "actor"]) is { } problem)
        {
            return UsageError(error, problem, PurgeUsage);
        }

        if (args.Positionals.Count != 1)
        {
            return UsageError(error, $"unexpected argument '{args.Positionals[^1]}'", PurgeUsage);
        }

        var path = args.Get("db");
        var actor = args.Get("actor") ?? account.ActorName;
        var config = args.Get("config");
        if (string.IsNullOrWhiteSpace(path) || string.IsNullOrWhiteSpace(config) || args.Get("before") is not { } beforeText)
        {
            return UsageError(error, "--db, --config and --before are required (--config: the settings file the service is started with, "
                + "whose minimum retention the purge applies)", PurgeUsage);
        }

        if (string.IsNullOrWhiteSpace(actor))
        {
            return UsageError(error, "--actor, when given, must name who asks for the purge", PurgeUsage);
        }

        var before = OffsetDateTimePattern.ExtendedIso.Parse(beforeText);
        if (!before.Success)
        {
            return UsageError(error, $"--before: '{beforeText}' is not an RFC 3339 time with an offset (2025-01-01T00:00:00Z)", PurgeUsage);
        }

        // Within these years every offset still gives a time: 9999-12-31T23:59:59-01:00 is past the last one there is,
        // and turning it into an instant would throw (an overflow) instead of saying what is wrong.
        if (before.Value.Year is < 1 or > 9998)
        {
            return UsageError(error, $"--before: '{beforeText}' is outside the years a purge can name (0001 to 9998)", PurgeUsage);
        }

        LogIntegrityOptions options;
        try
        {
            options = ServiceSettings.Load(config).LogIntegrity;
        }
        catch (SettingsException ex)
        {
            error.WriteLine("error: " + ex.Message);
            return ExitCodes.Usage;
        }

        if (!File.Exists(path))
        {
            error.WriteLine($"error: no database at {path}");
            return ExitCodes.Failed;
        }

        var now = clock.GetCurrentInstant();
        var cutOff = before.Value.ToInstant();
        try
        {
            using var writer = CliLogWriter.Open(new Database(path), error);
            if (writer is null)
            {
                return ExitCodes.Failed;
            }

            // A minimum the service would not start with is a refusal like any other: recorded, nothing deleted.
            var result = LogPurgeRefusal.ForSettings(cutOff, actor, Duration.FromTimeSpan(options.MinimumRetention), options.MinimumRetentionReason) is { } refusal
                ? writer.Refuse(refusal with { OsAccount = account }, now)
                : writer.Purge(cutOff, actor, now, options.Retention, account);
            (result.Outcome == LogPurgeOutcome.Refused ? error : output).WriteLine(result.Message);
            return result.Outcome == LogPurgeOutcome.Refused ? ExitCodes.Failed : ExitCodes.Ok;
        }
        catch (LogPurgeInconsistentException ex)
        {
            error.WriteLine($"error: refused: {ex.Message}. Nothing was changed. Run `accesscontrol log verify --db {path}` for what was changed in the log, "
                + "and keep its report with the incident record (docs/log-integrity.md)");
            return ExitCodes.Failed;
        }
        catch (LogPurgeRefusalNotRecordedException ex)
        {
            error.WriteLine("error: " + ex.Message);
            return ExitCodes.Failed;
        }
        catch (SqliteException ex)
        {
            // Each step is its own transaction: the failed one left nothing behind, the ones before it are done and recorded.
            error.WriteLine($"error: the purge of {path} stopped: {ex.Message}. Steps done before it are recorded in the log (purge rows); run it again to go on");
            return ExitCodes.Failed;
        }
    }

    /// <summary>
    /// Rows the service kept in its outage journal and has not written to the log yet (it was stopped during an
    /// outage): not part of what was verified, but part of what happened, so an auditor is told. Counts only.
    /// </summary>
    private static void WritePendingOutage(string dataFolder, TextWriter output, TextWriter error)
    {
        var journal = Path.Combine(dataFolder, Events.OutageJournal.FileName);
        try
        {
            if (Events.OutageJournal.Peek(journal) is { Outage: { } outage } found)
            {
                output.WriteLine($"outage journal: {found.Rows.Count} rows of an entry-log outage since {Protocol.WireFormat.FormatInstant(outage.Since)} " +
                    $"are not in the log yet; the service writes them at its next start (docs/operations.md, section 6)");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"warning: cannot read the outage journal {journal}: {ex.Message}");
        }
    }

    /// <summary>The human-readable report: one line when ok; else the first broken row and each checkpoint that no longer matches.</summary>
    /// <remarks>Each line through <see cref="TerminalText"/>: a trigger named with <c>ESC[1A</c> (cursor up) and
    /// <c>ESC[2K</c> (erase the line) by whoever altered the file would otherwise erase the report's own verdict.</remarks>
    public static void Write(LogVerification result, TextWriter output)
    {
        foreach (var line in Lines(result))
        {
            output.WriteLine(TerminalText.Show(line));
        }
    }

    private static IEnumerable<string> Lines(LogVerification result)
    {
        var range = result.Rows == 0 ? "empty" : $"seq {result.FirstSeq}..{result.HeadSeq}";
        var purged = result.PurgedUpTo > 0 ? $", purged up to seq {result.PurgedUpTo}" : "";
        yield return result.Ok
            ? $"entry log OK: {result.Rows} rows ({range}{purged}), {result.CheckpointsMatched} checkpoints matched ({result.DatabaseCheckpoints} in the database, {result.FileCheckpoints} in the file)"
            : $"entry log BROKEN: {result.Rows} rows ({range}{purged})";
        if (result.FirstBroken is { } broken)
        {
            yield return $"first broken row: seq {broken.Seq}: {broken.Problem}: {broken.Detail}";
        }

        foreach (var p in result.CheckpointProblems)
        {
            yield return p.Seq > 0 ? $"checkpoint seq {p.Seq}: {p.Problem}: {p.Detail}" : $"checkpoints: {p.Problem}: {p.Detail}";
        }

        foreach (var p in result.ProtectionProblems)
        {
            yield return $"protection: {p.Problem}: {p.Detail}";
        }

        foreach (var note in result.Notes)
        {
            yield return "note: " + note;
        }

        if (result.Index is { } index)
        {
            yield return index.Differing == 0
                ? $"log index OK: {index.RowsChecked} rows up to seq {index.Watermark} match the log"
                : $"log index ALTERED: {index.Differing} rows missing, extra or different (first at seq {index.FirstDifferingSeq}); "
                  + "queries through it could miss rows. Keep a copy for the investigation, then delete it: the service builds it again from the log.";
        }
    }

    private static int UsageError(TextWriter error, string message, string usage)
    {
        error.WriteLine("error: " + message);
        error.WriteLine(usage);
        return ExitCodes.Usage;
    }
}

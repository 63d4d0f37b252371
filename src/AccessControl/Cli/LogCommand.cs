using System.Globalization;
using AccessControl.Admin;
using AccessControl.EntryLog;
using AccessControl.Storage;
using Microsoft.Data.Sqlite;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Cli;

/// <summary>
/// <c>accesscontrol log --db PATH [--from T] [--to T] [--time recorded|happened] [--site S] [--door D] [--reader R] [--person P] [--escort P] [--actor A]
/// [--kind K] [--decision grant|deny|pending] [--reason CODE] [--after SEQ] [--limit N] [--tz ZONE] [--json]</c>
/// (and <c>log verify</c>, <c>log purge</c>: see <see cref="LogIntegrityCommands"/>)
/// </summary>
/// <remarks>
/// Reads the database file directly, so it works when the service is down (that is when it is needed most).
/// It never migrates or writes: a missing file is an error, not a new empty log.
/// Times are shown in <c>--tz</c> (an IANA zone, the site's) or UTC; <c>--json</c> prints one JSON object per row.
/// </remarks>
public static class LogCommand
{
    public const int DefaultLimit = 1000;

    private static readonly string[] OwnOptions = ["db", "tz", "json"];

    public static IReadOnlyCollection<string> Flags { get; } = ["json"];

    public static int Run(CliArgs args, TextWriter output, TextWriter error)
    {
        var known = OwnOptions.Concat(LogQueryParameters.Names).ToArray();
        if (args.CheckOptions(known) is { } problem)
        {
            return UsageError(error, problem);
        }

        if (args.Positionals.Count > 0)
        {
            return UsageError(error, $"unexpected argument '{args.Positionals[0]}'");
        }

        var path = args.Get("db");
        if (string.IsNullOrWhiteSpace(path))
        {
            return UsageError(error, "--db PATH is required");
        }

        var zone = DateTimeZone.Utc;
        if (args.Get("tz") is { } tz)
        {
            var found = DateTimeZoneProviders.Tzdb.GetZoneOrNull(tz);
            if (found is null)
            {
                return UsageError(error, $"--tz: '{tz}' is not a known time zone (use an IANA name such as Europe/Amsterdam)");
            }

            zone = found;
        }

        var parameters = args.Options
            .Where(o => LogQueryParameters.Names.Contains(o.Key))
            .Select(o => new KeyValuePair<string, IReadOnlyList<string>>(o.Key, o.Value));
        var (filter, errors) = LogQueryParameters.Parse(parameters, DefaultLimit);
        if (filter is null)
        {
            foreach (var e in errors)
            {
                error.WriteLine($"error: --{e.Field}: {e.Message}");
            }

            return ExitCodes.Usage;
        }

        if (!File.Exists(path))
        {
            error.WriteLine($"error: no database at {path}");
            return ExitCodes.Failed;
        }

        IReadOnlyList<LogEntry> rows;
        PurgeHorizon? purged;
        try
        {
            (rows, purged) = new EntryLogQuery(new Database(path)).Answer(filter);
        }
        catch (SqliteException ex)
        {
            error.WriteLine($"error: cannot read the entry log in {path}: {ex.Message}");
            return ExitCodes.Failed;
        }

        if (args.Has("json"))
        {
            foreach (var row in rows)
            {
                output.WriteLine(AdminJson.Serialize(row));
            }
        }
        else
        {
            WriteTable(rows, zone, output);
        }

        if (purged is not null)
        {
            // On stderr, so that the table and --json stay rows only; said even with rows, as part of the range is gone.
            error.WriteLine($"(rows recorded before {InstantPattern.ExtendedIso.Format(purged.Before)}, up to seq {purged.UpToSeq}, were purged (row {purged.PurgeSeq}): "
                + "this answer has none of them, whatever happened then)");
        }

        if (rows.Count == filter.Limit)
        {
            error.WriteLine($"(limit of {filter.Limit} rows reached; continue with --after {rows[^1].Seq})");
        }

        return ExitCodes.Ok;
    }

    /// <summary>
    /// Writes rows as a table with aligned columns; absent values are shown as '-'. TIME is when the service recorded the
    /// row; OFFLINE says a device buffered the event while cut off and replayed it later, and DEVICE TIME is the device's
    /// time of the event (for a buffered one, when it happened; for one refused as a replay, the time it claimed).
    /// </summary>
    public static void WriteTable(IReadOnlyList<LogEntry> rows, DateTimeZone zone, TextWriter output)
    {
        var pattern = ZonedDateTimePattern.CreateWithInvariantCulture("uuuu'-'MM'-'dd HH':'mm':'ss.fff o<+HH:mm>", null);
        string[] header = ["SEQ", "TIME", "OFFLINE", "DEVICE TIME", "KIND", "SITE", "DOOR", "READER", "PERSON", "CARD", "DECISION", "REASON", "ACTOR"];
        var table = new List<string[]> { header };
        table.AddRange(rows.Select(r => new[]
        {
            r.Seq.ToString(CultureInfo.InvariantCulture),
            pattern.Format(r.At.InZone(zone)),
            r.Offline ? "yes" : "-",
            r.DeviceAt is { } deviceAt ? pattern.Format(deviceAt.InZone(zone)) : "-",
            r.Kind,
            r.SiteId ?? "-",
            r.DoorId ?? "-",
            r.ReaderId ?? "-",
            r.PersonId ?? "-",
            r.Card ?? "-",
            r.Decision ?? "-",
            r.Reason ?? "-",
            ActorOf(r),
        }));
        TextTable.Write(table, output);
    }

    /// <summary>
    /// The row's actor, and for a row a CLI command wrote to the log itself the OS account it ran as (<c>osUser</c>,
    /// <c>osUid</c> in the detail): <c>ops-bob (os: alice, uid 1000)</c>. The typed name alone proves nothing. When the
    /// account someone logged in as is another one (<c>loginUid</c>, <c>loginUser</c>: a <c>sudo -u</c>), it follows:
    /// <c>ops-bob (os: accesscontrol, uid 998; login: alice, uid 1000)</c>.
    /// </summary>
    private static string ActorOf(LogEntry row)
    {
        var actor = row.Actor ?? "-";
        if (row.Detail is not { } detail || !detail.Contains("\"osUser\"", StringComparison.Ordinal))
        {
            return actor;
        }

        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(detail);
            var root = json.RootElement;
            if (root.ValueKind != System.Text.Json.JsonValueKind.Object || Text(root, "osUser") is not { } user)
            {
                return actor;
            }

            var uid = Number(root, "osUid");
            var login = Number(root, "loginUid") is { } loginUid && loginUid != uid
                ? Text(root, "loginUser") is { } loginUser ? $"; login: {loginUser}, uid {loginUid}" : $"; login uid {loginUid}"
                : "";
            return $"{actor} (os: {user}{(uid is null ? "" : $", uid {uid}")}{login})";
        }
        catch (System.Text.Json.JsonException)
        {
            return actor;
        }

        static string? Text(System.Text.Json.JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String ? value.GetString() : null;

        static string? Number(System.Text.Json.JsonElement root, string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == System.Text.Json.JsonValueKind.Number ? value.GetRawText() : null;
    }

    private static int UsageError(TextWriter error, string message)
    {
        error.WriteLine("error: " + message);
        error.WriteLine("usage: log --db PATH [--from T] [--to T] [--time recorded|happened] [--site S] [--door D] [--reader R] [--person P] [--escort P] [--actor A] [--kind K] [--decision grant|deny|pending] [--reason CODE] [--after SEQ] [--limit N] [--tz ZONE] [--json]");
        error.WriteLine("       " + LogIntegrityCommands.VerifyUsage);
        error.WriteLine("       " + LogIntegrityCommands.PurgeUsage);
        return ExitCodes.Usage;
    }
}

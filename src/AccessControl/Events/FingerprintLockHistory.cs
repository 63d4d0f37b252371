using System.Text.Json;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Storage;
using Dapper;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Events;

/// <summary>
/// Cards locked after repeated fingerprint mismatches, rebuilt from the entry log at start-up: every
/// <c>fingerprint_failures</c> alarm row names its card and, in its detail, the end of the lock. Without this a
/// restart (a power cut, say) would hand a card that is being guessed at a fresh set of tries.
/// </summary>
public static class FingerprintLockHistory
{
    /// <summary>No lock lasts longer than a day (the site file's maximum), so older rows cannot matter.</summary>
    private static readonly Duration Horizon = Duration.FromDays(1);

    private const string LocksSql = """
        SELECT seq AS Seq, card AS Card, detail AS Detail FROM entry_log
        WHERE seq >= @first AND kind = 'alarm' AND reason = @reason AND card IS NOT NULL AND at >= @since
        """;

    /// <summary>
    /// The locks in force at <paramref name="now"/>. A lock row whose detail the service did not write (a changed
    /// database) is left out, with an error naming it on <paramref name="logger"/>: its card gets fresh tries, but a
    /// start refused for it would keep every door shut.
    /// </summary>
    public static FingerprintState Load(Database database, Instant now, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(logger);
        using var log = LogSnapshot.Open(database);
        var state = FingerprintState.Empty;
        var since = now - Horizon;
        if (log.FirstSeqSince(since) is not { } first)
        {
            return state;
        }

        var rows = log.Connection.Query<(long Seq, string Card, string? Detail)>(LocksSql,
            new { first, reason = AlarmTypes.FingerprintFailures, since = since.ToUnixTimeMilliseconds() }, log.Transaction);
        foreach (var (seq, card, detail) in rows)
        {
            if (Until(seq, detail, logger) is { } until && until > now)
            {
                state = state.Lock(card, until);
            }
        }

        return state;
    }

    private static Instant? Until(long seq, string? detail, ILogger logger)
    {
        if (detail is null)
        {
            return null;
        }

        using var json = StoredDetail.ParseObject(seq, detail, logger, "the card it locked is not locked again");
        return json is not null && json.RootElement.TryGetProperty("until", out var until) && until.ValueKind == JsonValueKind.String
            && InstantPattern.ExtendedIso.Parse(until.GetString()!) is { Success: true } parsed ? parsed.Value : null;
    }
}

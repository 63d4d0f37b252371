using System.Text.Json;
using AccessControl.Decisions;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Storage;
using Dapper;
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
        SELECT card AS Card, detail AS Detail FROM entry_log
        WHERE seq >= @first AND kind = 'alarm' AND reason = @reason AND card IS NOT NULL AND at >= @since
        """;

    public static FingerprintState Load(Database database, Instant now)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var log = LogSnapshot.Open(database);
        var state = FingerprintState.Empty;
        var since = now - Horizon;
        if (log.FirstSeqSince(since) is not { } first)
        {
            return state;
        }

        var rows = log.Connection.Query<(string Card, string? Detail)>(LocksSql,
            new { first, reason = AlarmTypes.FingerprintFailures, since = since.ToUnixTimeMilliseconds() }, log.Transaction);
        foreach (var (card, detail) in rows)
        {
            if (Until(detail) is { } until && until > now)
            {
                state = state.Lock(card, until);
            }
        }

        return state;
    }

    private static Instant? Until(string? detail)
    {
        if (detail is null)
        {
            return null;
        }

        try
        {
            using var json = JsonDocument.Parse(detail);
            return json.RootElement.TryGetProperty("until", out var until) && until.ValueKind == JsonValueKind.String
                && InstantPattern.ExtendedIso.Parse(until.GetString()!) is { Success: true } parsed ? parsed.Value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

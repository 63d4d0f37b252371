using System.Text.Json;
using AccessControl.Storage;
using Dapper;
using NodaTime;

namespace AccessControl.Hr;

/// <summary>An HR event as recorded (table <c>hr_events</c>, <c>Migrations/0012_hr_events.sql</c>).</summary>
public sealed record HrEventRecord(
    string EventId,
    string Type,
    string PersonId,
    Instant EffectiveAt,
    IReadOnlyList<string>? AccessLevels,
    string ContentSha256,
    Instant ReceivedAt,
    string Status,
    Instant? AppliedAt,
    string? Result);

/// <summary>
/// The HR events received: plain SQL over <c>hr_events</c>. Neither validates nor audits: <see cref="HrFeedService"/>
/// does both and is the only caller.
/// </summary>
public sealed class HrEventStore(Database database)
{
    public const string Scheduled = "scheduled";
    public const string AppliedStatus = "applied";
    public const string FailedStatus = "failed";

    private const string Columns =
        """
        event_id AS EventId, type AS Type, person_id AS PersonId, effective_at AS EffectiveAt, access_levels AS AccessLevels,
        content_sha256 AS ContentSha256, received_at AS ReceivedAt, status AS Status, applied_at AS AppliedAt, result AS Result
        """;

    public HrEventRecord? Get(string eventId)
    {
        using var connection = database.Open();
        return connection.Query<Row>($"SELECT {Columns} FROM hr_events WHERE event_id = @eventId", new { eventId }).SingleOrDefault()?.ToRecord();
    }

    /// <summary>Scheduled events whose time has come, oldest first.</summary>
    public IReadOnlyList<HrEventRecord> Due(Instant now)
    {
        using var connection = database.Open();
        return [.. connection.Query<Row>(
            $"SELECT {Columns} FROM hr_events WHERE status = 'scheduled' AND effective_at <= @now ORDER BY effective_at, received_at, event_id",
            new { now }).Select(r => r.ToRecord())];
    }

    /// <summary>The earliest termination of the person still scheduled (future-dated, or half done): when it takes effect; null for none.</summary>
    public Instant? ScheduledTerminationOf(string personId)
    {
        using var connection = database.Open();
        return connection.ExecuteScalar<long?>(
            "SELECT MIN(effective_at) FROM hr_events WHERE status = 'scheduled' AND type = 'termination' AND person_id = @personId",
            new { personId }) is { } at ? Instant.FromUnixTimeMilliseconds(at) : null;
    }

    /// <summary>The earliest transfer of the person still scheduled: when it takes effect and the levels it gives; null for none.</summary>
    public (Instant At, IReadOnlyList<string> Levels)? ScheduledTransferOf(string personId)
    {
        using var connection = database.Open();
        return connection.Query<Row>(
            $"SELECT {Columns} FROM hr_events WHERE status = 'scheduled' AND type = 'transfer' AND person_id = @personId ORDER BY effective_at, received_at, event_id LIMIT 1",
            new { personId }).SingleOrDefault()?.ToRecord() is { } r ? (r.EffectiveAt, r.AccessLevels ?? []) : null;
    }

    /// <summary>Every person with a transfer still scheduled, with the earliest one's instant and levels.</summary>
    public IReadOnlyDictionary<string, (Instant At, IReadOnlyList<string> Levels)> ScheduledTransfers()
    {
        using var connection = database.Open();
        var earliest = new Dictionary<string, (Instant At, IReadOnlyList<string> Levels)>(StringComparer.Ordinal);
        foreach (var r in connection.Query<Row>(
            $"SELECT {Columns} FROM hr_events WHERE status = 'scheduled' AND type = 'transfer' ORDER BY effective_at, received_at, event_id").Select(r => r.ToRecord()))
        {
            earliest.TryAdd(r.PersonId, (r.EffectiveAt, r.AccessLevels ?? []));
        }

        return earliest;
    }

    /// <summary>Every person with a termination still scheduled, with the earliest one's instant.</summary>
    public IReadOnlyDictionary<string, Instant> ScheduledTerminations()
    {
        using var connection = database.Open();
        return connection.Query<(string PersonId, long At)>(
            "SELECT person_id, MIN(effective_at) FROM hr_events WHERE status = 'scheduled' AND type = 'termination' GROUP BY person_id")
            .ToDictionary(r => r.PersonId, r => Instant.FromUnixTimeMilliseconds(r.At), StringComparer.Ordinal);
    }

    /// <summary>Records a new event as scheduled. False when the id exists already.</summary>
    public bool Insert(HrEventRecord record)
    {
        using var connection = database.Open();
        return connection.Execute(
            """
            INSERT INTO hr_events (event_id, type, person_id, effective_at, access_levels, content_sha256, received_at, status)
            VALUES (@EventId, @Type, @PersonId, @EffectiveAt, @levels, @ContentSha256, @ReceivedAt, 'scheduled')
            ON CONFLICT (event_id) DO NOTHING
            """,
            new
            {
                record.EventId,
                record.Type,
                record.PersonId,
                record.EffectiveAt,
                levels = record.AccessLevels is null ? null : JsonSerializer.Serialize(record.AccessLevels),
                record.ContentSha256,
                record.ReceivedAt,
            }) == 1;
    }

    /// <summary>Marks a scheduled event applied or failed, with what was done or why not.</summary>
    public bool Finish(string eventId, string status, Instant at, string result)
    {
        using var connection = database.Open();
        return connection.Execute(
            "UPDATE hr_events SET status = @status, applied_at = @at, result = @result WHERE event_id = @eventId AND status = 'scheduled'",
            new { eventId, status, at, result }) == 1;
    }

    /// <summary>
    /// The seq of the <c>operator_token.revoke</c> row written for this termination (<c>Migrations/0021</c>); null while
    /// there is none.
    /// </summary>
    public long? OperatorsLoggedSeq(string eventId)
    {
        using var connection = database.Open();
        return connection.ExecuteScalar<long?>("SELECT operators_logged_seq FROM hr_events WHERE event_id = @eventId", new { eventId });
    }

    /// <summary>Notes that the termination's <c>operator_token.revoke</c> row is written, as row <paramref name="seq"/>.</summary>
    public void OperatorsLogged(string eventId, long seq)
    {
        using var connection = database.Open();
        connection.Execute("UPDATE hr_events SET operators_logged_seq = @seq WHERE event_id = @eventId", new { eventId, seq });
    }

    private sealed class Row
    {
        public string EventId { get; set; } = "";

        public string Type { get; set; } = "";

        public string PersonId { get; set; } = "";

        public long EffectiveAt { get; set; }

        public string? AccessLevels { get; set; }

        public string ContentSha256 { get; set; } = "";

        public long ReceivedAt { get; set; }

        public string Status { get; set; } = "";

        public long? AppliedAt { get; set; }

        public string? Result { get; set; }

        public HrEventRecord ToRecord() => new(
            EventId,
            Type,
            PersonId,
            Instant.FromUnixTimeMilliseconds(EffectiveAt),
            AccessLevels is null ? null : JsonSerializer.Deserialize<string[]>(AccessLevels),
            ContentSha256,
            Instant.FromUnixTimeMilliseconds(ReceivedAt),
            Status,
            AppliedAt is { } at ? Instant.FromUnixTimeMilliseconds(at) : null,
            Result);
    }
}

using System.Data;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;
using Microsoft.Data.Sqlite;
using NodaTime;

namespace AccessControl.Fingerprints;

/// <summary>
/// What is known about one enrolled template, without the template: who enrolled it, when, at which station, under
/// which key it is encrypted, whether and why it was revoked, when it last matched. This is what lists, audits and the
/// monthly reconciliation show.
/// </summary>
public sealed record FingerprintRecord(
    string TemplateId,
    PersonId Person,
    string Finger,
    string Format,
    string KeyId,
    Instant EnrolledAt,
    string EnrolledBy,
    string Station,
    Instant? RevokedAt = null,
    string? RevokedBy = null,
    string? RevokeReason = null,
    Instant? LastMatchedAt = null)
{
    public bool Active => RevokedAt is null;

    /// <summary>The row identity its ciphertext is bound to.</summary>
    public TemplateBinding Binding => new(TemplateId, Person, Finger, Format);
}

/// <summary>An active template as stored: its record and its ciphertext. Holds no plaintext.</summary>
public sealed record EncryptedTemplate(FingerprintRecord Record, SealedTemplate Sealed);

/// <summary>
/// The durable copy of the fingerprint templates: plain SQL over <c>Migrations/0009_fingerprint_templates.sql</c>.
/// </summary>
/// <remarks>
/// Like the other stores it neither validates nor audits (<see cref="FingerprintService"/> does both and is the only
/// writer), and it never sees a plaintext template: it stores and returns ciphertexts. Its connections use SQLite's
/// <c>secure_delete</c>, so that the ciphertext of a revoked template is overwritten with zeros in the database
/// file rather than left in a free page.
/// </remarks>
public sealed class FingerprintStore(Database database)
{
    private const string RecordColumns =
        """
        template_id AS TemplateId, person_id AS PersonId, finger AS Finger, format AS Format, key_id AS KeyId,
        enrolled_at AS EnrolledAt, enrolled_by AS EnrolledBy, station AS Station, revoked_at AS RevokedAt,
        revoked_by AS RevokedBy, revoke_reason AS RevokeReason, last_matched_at AS LastMatchedAt
        """;

    /// <summary>Every active template with its ciphertext, in enrollment order (start-up, rekey).</summary>
    public IReadOnlyList<EncryptedTemplate> LoadActive()
    {
        using var connection = Open();
        return [.. connection.Query<Row>(
                $"SELECT {RecordColumns}, nonce AS Nonce, ciphertext AS Ciphertext FROM fingerprint_templates WHERE revoked_at IS NULL ORDER BY enrolled_at, template_id")
            .Select(r => new EncryptedTemplate(r.ToRecord(), new SealedTemplate(r.KeyId, r.Nonce!, r.Ciphertext!)))];
    }

    /// <summary>Every template of a person, active and revoked, in enrollment order. Metadata only.</summary>
    public IReadOnlyList<FingerprintRecord> List(PersonId person)
    {
        using var connection = Open();
        return [.. connection.Query<Row>(
                $"SELECT {RecordColumns} FROM fingerprint_templates WHERE person_id = @person ORDER BY enrolled_at, template_id",
                new { person = person.Value })
            .Select(r => r.ToRecord())];
    }

    /// <summary>Every active template's record (reconciliation). Metadata only.</summary>
    public IReadOnlyList<FingerprintRecord> ListActive()
    {
        using var connection = Open();
        return [.. connection.Query<Row>($"SELECT {RecordColumns} FROM fingerprint_templates WHERE revoked_at IS NULL ORDER BY person_id, enrolled_at, template_id")
            .Select(r => r.ToRecord())];
    }

    /// <summary>One template's record, or null.</summary>
    public FingerprintRecord? Find(string templateId)
    {
        using var connection = Open();
        return connection.QuerySingleOrDefault<Row>($"SELECT {RecordColumns} FROM fingerprint_templates WHERE template_id = @templateId", new { templateId })?.ToRecord();
    }

    /// <summary>Inserts a new active template, first revoking <paramref name="replaces"/> (same person and finger), in one transaction.</summary>
    public Task InsertAsync(EncryptedTemplate template, FingerprintRecord? replaces, string? replaceReason, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) =>
        {
            var r = template.Record;
            if (replaces is not null)
            {
                await RevokeAsync(connection, transaction, replaces.TemplateId, r.EnrolledAt, r.EnrolledBy, replaceReason ?? "replaced", cancellationToken);
            }

            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO fingerprint_templates (template_id, person_id, finger, format, key_id, nonce, ciphertext, enrolled_at, enrolled_by, station)
                VALUES (@TemplateId, @person, @Finger, @Format, @KeyId, @nonce, @ciphertext, @EnrolledAt, @EnrolledBy, @Station)
                """,
                new
                {
                    r.TemplateId,
                    person = r.Person.Value,
                    r.Finger,
                    r.Format,
                    template.Sealed.KeyId,
                    nonce = template.Sealed.Nonce,
                    ciphertext = template.Sealed.CiphertextAndTag,
                    r.EnrolledAt,
                    r.EnrolledBy,
                    r.Station,
                },
                transaction,
                cancellationToken: cancellationToken));
        }, cancellationToken);

    /// <summary>
    /// Revokes active templates: the ciphertext and nonce are erased, the record stays. Returns how many were active.
    /// </summary>
    public Task<int> RevokeAsync(IReadOnlyCollection<string> templateIds, Instant at, string actor, string reason, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) =>
        {
            var count = 0;
            foreach (var id in templateIds)
            {
                count += await RevokeAsync(connection, transaction, id, at, actor, reason, cancellationToken);
            }

            return count;
        }, cancellationToken);

    /// <summary>Replaces the ciphertexts of active templates (rekey), in one transaction. Returns how many rows changed.</summary>
    public Task<int> ReplaceCiphertextsAsync(IReadOnlyCollection<(string TemplateId, SealedTemplate Sealed)> templates, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) =>
        {
            var count = 0;
            foreach (var (templateId, sealedTemplate) in templates)
            {
                count += await connection.ExecuteAsync(new CommandDefinition(
                    "UPDATE fingerprint_templates SET key_id = @KeyId, nonce = @nonce, ciphertext = @ciphertext WHERE template_id = @templateId AND revoked_at IS NULL",
                    new { templateId, sealedTemplate.KeyId, nonce = sealedTemplate.Nonce, ciphertext = sealedTemplate.CiphertextAndTag },
                    transaction,
                    cancellationToken: cancellationToken));
            }

            return count;
        }, cancellationToken);

    /// <summary>Records matches (never moving <c>last_matched_at</c> backwards), in one transaction.</summary>
    public void RecordMatches(IReadOnlyCollection<(string TemplateId, Instant At)> matches)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        foreach (var (templateId, at) in matches)
        {
            connection.Execute(
                "UPDATE fingerprint_templates SET last_matched_at = @at WHERE template_id = @templateId AND (last_matched_at IS NULL OR last_matched_at < @at)",
                new { templateId, at },
                transaction);
        }

        transaction.Commit();
    }

    private static Task<int> RevokeAsync(SqliteConnection connection, IDbTransaction transaction, string templateId, Instant at, string actor, string reason, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE fingerprint_templates SET nonce = NULL, ciphertext = NULL, revoked_at = @at, revoked_by = @actor, revoke_reason = @reason
            WHERE template_id = @templateId AND revoked_at IS NULL
            """,
            new { templateId, at, actor, reason },
            transaction,
            cancellationToken: cancellationToken));

    private SqliteConnection Open()
    {
        var connection = database.Open();
        connection.Execute("PRAGMA secure_delete=ON;");
        return connection;
    }

    private async Task InTransactionAsync(Func<SqliteConnection, IDbTransaction, Task> work, CancellationToken cancellationToken) =>
        await InTransactionAsync(async (c, t) =>
        {
            await work(c, t);
            return 0;
        }, cancellationToken);

    private async Task<T> InTransactionAsync<T>(Func<SqliteConnection, IDbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = Open();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    private sealed class Row
    {
        public string TemplateId { get; init; } = "";

        public string PersonId { get; init; } = "";

        public string Finger { get; init; } = "";

        public string Format { get; init; } = "";

        public string KeyId { get; init; } = "";

        public Instant EnrolledAt { get; init; }

        public string EnrolledBy { get; init; } = "";

        public string Station { get; init; } = "";

        public Instant? RevokedAt { get; init; }

        public string? RevokedBy { get; init; }

        public string? RevokeReason { get; init; }

        public Instant? LastMatchedAt { get; init; }

        public byte[]? Nonce { get; init; }

        public byte[]? Ciphertext { get; init; }

        public FingerprintRecord ToRecord() =>
            new(TemplateId, new PersonId(PersonId), Finger, Format, KeyId, EnrolledAt, EnrolledBy, Station, RevokedAt, RevokedBy, RevokeReason, LastMatchedAt);
    }
}

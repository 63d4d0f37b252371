using System.Collections.Immutable;
using System.Data;
using AccessControl.People;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;
using NodaTime;

namespace AccessControl.Cardholding;

/// <summary>
/// The durable copy of the cardholders: plain SQL over the tables of <c>Migrations/0002_cardholders.sql</c>.
/// </summary>
/// <remarks>
/// The store neither validates nor audits: <see cref="Admin.AdminService"/> does both and is the only caller of the
/// write methods. Each write method is one SQLite transaction, so the tables never hold half a change (or half a batch of them).
/// Every written row is stamped with <c>updated_at</c>/<c>updated_by</c>.
/// </remarks>
public sealed class CardholderStore(Database database)
{
    /// <summary>Reads every table and builds the snapshot the decision engine starts with.</summary>
    public Cardholders LoadAll()
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(); // one consistent read across the five tables

        var zones = connection.Query<(string LevelId, string ZoneId)>(
                "SELECT level_id, zone_id FROM access_level_zones", transaction: transaction)
            .ToLookup(r => r.LevelId, r => new ZoneId(r.ZoneId));
        var levels = connection.Query<(string Id, string Name, string ScheduleId, long Escort, long EscortedOnly)>(
                "SELECT id, name, schedule_id, escort, escorted_only FROM access_levels", transaction: transaction)
            .Select(r => new AccessLevel(new AccessLevelId(r.Id), r.Name, [.. zones[r.Id]], new ScheduleId(r.ScheduleId), r.Escort != 0, r.EscortedOnly != 0));

        var held = connection.Query<(string PersonId, string LevelId)>(
                "SELECT person_id, level_id FROM person_access_levels ORDER BY person_id, level_id", transaction: transaction)
            .ToLookup(r => r.PersonId, r => new AccessLevelId(r.LevelId));
        var people = connection.Query<(string Id, string Name, string Kind, string Status)>(
                "SELECT id, name, kind, status FROM people", transaction: transaction)
            .Select(r => new Person(new PersonId(r.Id), r.Name, Parse<PersonKind>(r.Kind, CardholderCodes.TryParse), Parse<PersonStatus>(r.Status, CardholderCodes.TryParse), [.. held[r.Id]]));

        var credentials = connection.Query<(string CardUid, string Technology, string PersonId, long? ValidFrom, long? ValidUntil, string Status)>(
                "SELECT card_uid, technology, person_id, valid_from, valid_until, status FROM credentials", transaction: transaction)
            .Select(r => new Credential(
                r.CardUid,
                r.Technology,
                new PersonId(r.PersonId),
                r.ValidFrom is { } from ? Instant.FromUnixTimeMilliseconds(from) : null,
                r.ValidUntil is { } until ? Instant.FromUnixTimeMilliseconds(until) : null,
                Parse<CredentialStatus>(r.Status, CardholderCodes.TryParse)));

        return Cardholders.Create([.. people], [.. credentials], [.. levels]);
    }

    /// <summary>
    /// Who changed each stored person and card last, and when: what a site file that declares one no file owns is told
    /// (<see cref="SiteFiles.SiteIdsInUse"/>).
    /// </summary>
    public (IReadOnlyDictionary<PersonId, LastChange> People, IReadOnlyDictionary<string, LastChange> Cards) LastChanges()
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        var people = connection.Query<(string Id, string By, long At)>("SELECT id, updated_by, updated_at FROM people", transaction: transaction)
            .ToDictionary(r => new PersonId(r.Id), r => new LastChange(r.By, Instant.FromUnixTimeMilliseconds(r.At)));
        var cards = connection.Query<(string Card, string By, long At)>("SELECT card_uid, updated_by, updated_at FROM credentials", transaction: transaction)
            .ToDictionary(r => r.Card, r => new LastChange(r.By, Instant.FromUnixTimeMilliseconds(r.At)), StringComparer.Ordinal);
        return (people, cards);
    }

    /// <summary>
    /// The site whose visitor badge pool holds <paramref name="cardUid"/> (table <c>badge_pool</c>, Visitors/), or null:
    /// such a card is bound by the front desk's check-in, to a visitor, for a visit's zones and window.
    /// </summary>
    public string? PooledBadgeSite(string cardUid)
    {
        using var connection = database.Open();
        return connection.QuerySingleOrDefault<string?>("SELECT site_id FROM badge_pool WHERE card_uid = @cardUid", new { cardUid });
    }

    /// <summary>Inserts or replaces a person, including the set of access levels they hold.</summary>
    public Task UpsertPersonAsync(Person person, Instant at, string actor, CancellationToken cancellationToken = default) =>
        InTransactionAsync((connection, transaction) => UpsertPersonAsync(connection, transaction, person, at, actor, cancellationToken), cancellationToken);

    /// <summary>
    /// Inserts or replaces access levels, then people, then credentials, all in one transaction (a site file's import,
    /// a batch at a time): the tables hold all of them or none.
    /// </summary>
    public Task UpsertAllAsync(
        IReadOnlyList<AccessLevel> levels, IReadOnlyList<Person> people, IReadOnlyList<Credential> credentials, Instant at, string actor, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) =>
        {
            foreach (var level in levels)
            {
                await UpsertAccessLevelAsync(connection, transaction, level, at, actor, cancellationToken);
            }

            foreach (var person in people)
            {
                await UpsertPersonAsync(connection, transaction, person, at, actor, cancellationToken);
            }

            foreach (var credential in credentials)
            {
                await UpsertCredentialAsync(connection, transaction, credential, at, actor, cancellationToken);
            }
        }, cancellationToken);

    private static async Task UpsertPersonAsync(IDbConnection connection, IDbTransaction transaction, Person person, Instant at, string actor, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO people (id, name, kind, status, updated_at, updated_by)
            VALUES (@id, @name, @kind, @status, @at, @actor)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, status = excluded.status,
                                          updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            new { id = person.Id.Value, name = person.Name, kind = person.Kind.ToCode(), status = person.Status.ToCode(), at, actor },
            transaction,
            cancellationToken: cancellationToken));
        await ReplaceAccessLevelsAsync(connection, transaction, person.Id, person.AccessLevels, at, actor, cancellationToken);
    }

    /// <summary>Changes a person's status. False when there is no such person.</summary>
    public Task<bool> SetPersonStatusAsync(PersonId id, PersonStatus status, Instant at, string actor, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE people SET status = @status, updated_at = @at, updated_by = @actor WHERE id = @id",
            new { id = id.Value, status = status.ToCode(), at, actor },
            transaction,
            cancellationToken: cancellationToken)) == 1, cancellationToken);

    /// <summary>Replaces the set of access levels a person holds. False when there is no such person.</summary>
    public Task<bool> SetPersonAccessLevelsAsync(PersonId id, IEnumerable<AccessLevelId> levels, Instant at, string actor, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) =>
        {
            var touched = await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE people SET updated_at = @at, updated_by = @actor WHERE id = @id",
                new { id = id.Value, at, actor },
                transaction,
                cancellationToken: cancellationToken));
            if (touched != 1)
            {
                return false;
            }

            await ReplaceAccessLevelsAsync(connection, transaction, id, levels, at, actor, cancellationToken);
            return true;
        }, cancellationToken);

    /// <summary>Inserts or replaces a credential, keyed by its normalized card UID.</summary>
    public Task UpsertCredentialAsync(Credential credential, Instant at, string actor, CancellationToken cancellationToken = default) =>
        InTransactionAsync((connection, transaction) => UpsertCredentialAsync(connection, transaction, credential, at, actor, cancellationToken), cancellationToken);

    private static Task UpsertCredentialAsync(IDbConnection connection, IDbTransaction transaction, Credential credential, Instant at, string actor, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO credentials (card_uid, technology, person_id, valid_from, valid_until, status, updated_at, updated_by)
            VALUES (@card, @technology, @person, @validFrom, @validUntil, @status, @at, @actor)
            ON CONFLICT (card_uid) DO UPDATE SET technology = excluded.technology, person_id = excluded.person_id,
                                                valid_from = excluded.valid_from, valid_until = excluded.valid_until,
                                                status = excluded.status, updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            new
            {
                card = credential.CardUid,
                technology = credential.Technology,
                person = credential.Person.Value,
                validFrom = credential.ValidFrom,
                validUntil = credential.ValidUntil,
                status = credential.Status.ToCode(),
                at,
                actor,
            },
            transaction,
            cancellationToken: cancellationToken));

    /// <summary>Changes a credential's status. False when there is no such credential.</summary>
    public Task<bool> SetCredentialStatusAsync(string cardUid, CredentialStatus status, Instant at, string actor, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE credentials SET status = @status, updated_at = @at, updated_by = @actor WHERE card_uid = @cardUid",
            new { cardUid, status = status.ToCode(), at, actor },
            transaction,
            cancellationToken: cancellationToken)) == 1, cancellationToken);

    /// <summary>Inserts or replaces an access level and its zones.</summary>
    public Task UpsertAccessLevelAsync(AccessLevel level, Instant at, string actor, CancellationToken cancellationToken = default) =>
        InTransactionAsync((connection, transaction) => UpsertAccessLevelAsync(connection, transaction, level, at, actor, cancellationToken), cancellationToken);

    private static async Task UpsertAccessLevelAsync(IDbConnection connection, IDbTransaction transaction, AccessLevel level, Instant at, string actor, CancellationToken cancellationToken)
    {
        var id = level.Id.Value;
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO access_levels (id, name, schedule_id, escort, escorted_only, updated_at, updated_by)
            VALUES (@id, @name, @schedule, @escort, @escortedOnly, @at, @actor)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, schedule_id = excluded.schedule_id,
                                          escort = excluded.escort, escorted_only = excluded.escorted_only,
                                          updated_at = excluded.updated_at, updated_by = excluded.updated_by
            """,
            new { id, name = level.Name, schedule = level.Schedule.Value, escort = level.Escort ? 1 : 0, escortedOnly = level.EscortedOnly ? 1 : 0, at, actor },
            transaction,
            cancellationToken: cancellationToken));
        var zones = level.Zones.Select(z => z.Value).ToArray();
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM access_level_zones WHERE level_id = @id AND zone_id NOT IN @zones",
            new { id, zones },
            transaction,
            cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO access_level_zones (level_id, zone_id, updated_at, updated_by) VALUES (@id, @zone, @at, @actor)
            ON CONFLICT (level_id, zone_id) DO NOTHING
            """,
            zones.Select(zone => new { id, zone, at, actor }),
            transaction,
            cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Deletes an access level and its zones. False when there is no such level. Throws (foreign key) when
    /// someone still holds it: the caller checks that first and answers with a conflict.
    /// </summary>
    public Task<bool> DeleteAccessLevelAsync(AccessLevelId id, CancellationToken cancellationToken = default) =>
        InTransactionAsync(async (connection, transaction) => await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM access_levels WHERE id = @id",
            new { id = id.Value },
            transaction,
            cancellationToken: cancellationToken)) == 1, cancellationToken);

    private static async Task ReplaceAccessLevelsAsync(
        IDbConnection connection, IDbTransaction transaction, PersonId person, IEnumerable<AccessLevelId> levels, Instant at, string actor, CancellationToken cancellationToken)
    {
        var id = person.Value;
        var ids = levels.Select(l => l.Value).Distinct(StringComparer.Ordinal).ToArray();
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM person_access_levels WHERE person_id = @id AND level_id NOT IN @ids",
            new { id, ids },
            transaction,
            cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO person_access_levels (person_id, level_id, updated_at, updated_by) VALUES (@id, @level, @at, @actor)
            ON CONFLICT (person_id, level_id) DO NOTHING
            """,
            ids.Select(level => new { id, level, at, actor }),
            transaction,
            cancellationToken: cancellationToken));
    }

    private Task InTransactionAsync(Func<IDbConnection, IDbTransaction, Task> work, CancellationToken cancellationToken) =>
        InTransactionAsync(async (c, t) =>
        {
            await work(c, t);
            return true;
        }, cancellationToken);

    private async Task<T> InTransactionAsync<T>(Func<IDbConnection, IDbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = database.Open();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await work(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    private delegate bool TryParseCode<T>(string? code, out T value);

    private static T Parse<T>(string code, TryParseCode<T> tryParse) =>
        tryParse(code, out var value) ? value : throw new InvalidDataException($"The cardholder tables hold an unknown {typeof(T).Name} code '{code}'.");
}

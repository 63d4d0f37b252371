using System.Data;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AccessControl.Cardholding;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Storage;
using Dapper;
using Microsoft.AspNetCore.WebUtilities;
using NodaTime;

namespace AccessControl.Admin;

/// <summary>
/// Bearer tokens of operators (table <c>operator_tokens</c>, <c>Migrations/0003_operator_tokens.sql</c>).
/// </summary>
/// <remarks>
/// A token is 32 random bytes, base64url: too long to guess, so it can be looked up by its SHA-256 hash
/// (no per-token salt or slow hash needed, and the lookup is a primary-key read, not a timing-sensitive
/// string comparison). Only the hash is stored; the token itself is shown once, by <see cref="CreateToken"/>.
/// </remarks>
public sealed class ApiTokens(Database database, IClock clock)
{
    private const int TokenBytes = 32;

    /// <summary>Creates a token for an operator and returns it. It cannot be retrieved later: only its hash is kept.</summary>
    /// <param name="personId">The person behind the token, whatever its role: the HR feed's termination of that person
    /// revokes it (a token that names nobody would outlive its holder's employment). It must be a person of the
    /// <c>people</c> table who is active (see <see cref="PersonProblem(string)"/>). Hosts, approvers and enrollment
    /// operators are also compared by it (the visit's host, segregation of duties, nobody enrolls their own fingers).</param>
    /// <param name="site">The one site the operator acts for (e.g. an approver for that site); null for every site.</param>
    /// <param name="id">The token's id (<see cref="NewId"/>), when its audit row named it before it was made; null for a new one.</param>
    public string CreateToken(string operatorName, OperatorRole role, string createdBy, string personId, string? site = null, string? id = null)
    {
        if (id is not null && !IsTokenId(id))
        {
            throw new ArgumentException("A token id is 'tok-' and 16 hexadecimal digits (ApiTokens.NewId).", nameof(id));
        }

        if (site is not null && !WireFormat.IsValidId(site))
        {
            throw new ArgumentException("A site id is 1 to 64 characters of A-Z a-z 0-9 . _ : -", nameof(site));
        }

        if (!IsValidOperatorName(operatorName))
        {
            throw new ArgumentException("An operator name is 1 to 64 characters of A-Z a-z 0-9 . _ : -", nameof(operatorName));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(createdBy);
        if (!Enum.IsDefined(role))
        {
            throw new ArgumentOutOfRangeException(nameof(role), role, "Not a defined role.");
        }

        if (personId is null)
        {
            throw new ArgumentException($"A token of role '{RoleCode(role)}' must name the person it belongs to, so that their termination revokes it.", nameof(personId));
        }

        if (!WireFormat.IsValidId(personId))
        {
            throw new ArgumentException("A person id is 1 to 64 characters of A-Z a-z 0-9 . _ : -", nameof(personId));
        }

        using var connection = database.Open();
        if (PersonProblem(connection, personId) is { } problem)
        {
            throw new ArgumentException(problem, nameof(personId));
        }

        if (OperatorNameProblem(connection, operatorName, personId) is { } taken)
        {
            throw new ArgumentException(taken, nameof(operatorName));
        }

        // The person is checked again in the insert itself: a termination between the check above and the insert
        // finds no token to revoke, so the insert must not happen after it.
        var token = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(TokenBytes));
        var inserted = connection.Execute(
            """
            INSERT INTO operator_tokens (token_hash, operator, role, person_id, site_id, created_at, created_by, revoked_at, id)
            SELECT @hash, @operatorName, @role, @personId, @site, @at, @createdBy, NULL, @id
            FROM people WHERE id = @personId AND status = @active
            """,
            new { hash = Hash(token), operatorName, role = RoleCode(role), personId, site, at = clock.GetCurrentInstant(), createdBy, active = PersonStatus.Active.ToCode(), id });
        if (inserted != 1)
        {
            throw new ArgumentException(PersonProblem(connection, personId) ?? $"person '{personId}' changed while the token was created; try again", nameof(personId));
        }

        return token;
    }

    /// <summary>
    /// Why no token may name <paramref name="personId"/>, or null when one may. A person id nobody has (a typo such as
    /// <c>p-mkcoh</c> for <c>p-mkoch</c>) would give a token that the real person's termination never revokes, a person
    /// HR has already terminated must not get a token at all, and a suspended one's tokens are refused until they are
    /// reinstated (<see cref="Check"/>), so a new one would be a token that does not work.
    /// </summary>
    public string? PersonProblem(string personId)
    {
        using var connection = database.Open();
        return PersonProblem(connection, personId);
    }

    private static string? PersonProblem(IDbConnection connection, string personId) =>
        connection.QuerySingleOrDefault<string?>("SELECT status FROM people WHERE id = @personId", new { personId }) switch
        {
            null => $"there is no person '{personId}': a token must name a known person (check the id; people come from the site file, the admin API or the HR feed)",
            var status when status == PersonStatus.Terminated.ToCode() => $"person '{personId}' is terminated: no token may be issued to them",
            var status when status == PersonStatus.Suspended.ToCode() => $"person '{personId}' is suspended: no token may be issued to them until they are reinstated (their existing tokens are refused meanwhile)",
            _ => null,
        };

    /// <summary>
    /// The actors the service's own rows carry: an operator of that name would have their changes read as the HR feed's,
    /// a start's, a site file's (<c>site-file:NAME</c>), a CLI command's (<c>cli:USER</c>) or the broker's own clients'.
    /// Compared without regard to case, as a reader of the log would.
    /// </summary>
    public static IReadOnlyList<string> ServiceActors { get; } =
    [
        Hr.HrFeedService.Actor, Hr.LeaverSweep.Actor, Visitors.VisitorService.RetentionJob, EntryLog.EntryLogWriter.ServiceActor,
        Devices.DeviceSecrets.ServiceUsername, Devices.DeviceSecrets.ServicePublisherUsername, Devices.DeviceSecrets.MonitorUsername,
    ];

    /// <summary>The prefixes of actors the service makes from a name: a site file's import, a CLI command's OS account.</summary>
    public static IReadOnlyList<string> ServiceActorPrefixes { get; } = ["site-file:", "cli:"];

    /// <summary>Whether <paramref name="name"/> is, or is made like, an actor of the service's own rows, without regard to case.</summary>
    private static bool IsServiceActor(string name) =>
        ServiceActors.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase))
        || ServiceActorPrefixes.Any(p => name.StartsWith(p, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Why a token of <paramref name="operatorName"/> may not name <paramref name="personId"/>, or null when it may. The
    /// operator name is the actor of every row the token writes, so it must say one person: not a name of the service's
    /// own (<see cref="ServiceActors"/>), nor one whose tokens, revoked ones too, name another person (their rows by that
    /// name would then be two people's, and <c>token revoke --operator</c> would revoke both). A person's tokens of
    /// several roles may share a name. Without regard to case.
    /// </summary>
    public string? OperatorNameProblem(string operatorName, string personId)
    {
        using var connection = database.Open();
        return OperatorNameProblem(connection, operatorName, personId);
    }

    private static string? OperatorNameProblem(IDbConnection connection, string operatorName, string personId)
    {
        if (IsServiceActor(operatorName))
        {
            return $"the operator name '{operatorName}' is one the service's own rows carry as actor (the HR feed, a start, a site file, a CLI command, the broker): an operator's changes would read as the service's; choose another name";
        }

        var others = connection.Query<string>(
            "SELECT DISTINCT person_id FROM operator_tokens WHERE operator = @operatorName COLLATE NOCASE AND person_id IS NOT NULL AND person_id <> @personId ORDER BY 1",
            new { operatorName, personId }).ToList();
        return others.Count == 0 ? null
            : $"the operator name '{operatorName}' already names the tokens of {string.Join(", ", others)}: the entry log's rows by that name would be two people's; choose another name (one person's tokens may share a name)";
    }

    /// <summary>The operator a token belongs to, or null when the token is unknown, revoked or malformed, or refused (<see cref="Check"/>).</summary>
    public OperatorIdentity? Authenticate(string? token) => Check(token).Identity;

    /// <summary>
    /// Whose token this is, and whether it may be used now: only while the person it names is active. The person's
    /// status is read with the token, in the same query (no cache), so a suspension or termination refuses the token
    /// from the next request on, and a reinstatement lets it work again.
    /// </summary>
    public TokenCheck Check(string? token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 128)
        {
            return TokenCheck.Unknown;
        }

        using var connection = database.Open();
        var rows = connection.Query<(string Operator, string Role, string? PersonId, string? Site, string? PersonStatus)>(
            $"""
            SELECT t.operator, t.role, t.person_id, t.site_id, {PersonStatusNow}
            FROM operator_tokens t LEFT JOIN people p ON p.id = t.person_id
            WHERE t.token_hash = @hash AND t.revoked_at IS NULL
            """,
            new { hash = Hash(token), now = clock.GetCurrentInstant() }).ToList();
        return rows is [var row] && TryParseRole(row.Role, out var role)
            ? new TokenCheck(new OperatorIdentity(row.Operator, role, row.PersonId, row.Site), RefusalOf(row.PersonId, row.PersonStatus))
            : TokenCheck.Unknown;
    }

    /// <summary>
    /// The status of a token's person (<c>p</c>, joined on <c>t.person_id</c>) as in force at <c>@now</c>: terminated from the
    /// instant of a termination the HR feed dated for now or before (<c>Hr/HrEventStore</c>), not from when the job that
    /// applies it (and revokes the tokens) runs.
    /// </summary>
    private const string PersonStatusNow =
        """
        CASE WHEN EXISTS (SELECT 1 FROM hr_events h
                          WHERE h.person_id = t.person_id AND h.status = 'scheduled' AND h.type = 'termination' AND h.effective_at <= @now)
             THEN 'terminated' ELSE p.status END
        """;

    /// <summary>Why a valid token is refused for its person (<see cref="TokenRefusals"/>), or null when it is not. Anything but an active person refuses it.</summary>
    private static string? RefusalOf(string? personId, string? personStatus) => (personId, personStatus) switch
    {
        (null, _) => TokenRefusals.WithoutPerson,
        (_, null) => TokenRefusals.PersonUnknown,
        _ when personStatus == PersonStatus.Active.ToCode() => null,
        _ when personStatus == PersonStatus.Suspended.ToCode() => TokenRefusals.PersonSuspended,
        _ => TokenRefusals.PersonTerminated,
    };

    /// <summary>
    /// A new token id, as the database gives one (migration 0019): 'tok-' and 16 random hexadecimal digits. Made before the
    /// token so that its creation's audit row, written first, names it: a token sampled from <see cref="List"/> is then
    /// found in the log by its id.
    /// </summary>
    public static string NewId() => "tok-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    private static bool IsTokenId(string id) =>
        id.Length == 20 && id.StartsWith("tok-", StringComparison.Ordinal) && id[4..].All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    /// <summary>The ids of an operator's unrevoked tokens, in the order they were made: what <see cref="RevokeAll"/> would revoke.</summary>
    public IReadOnlyList<string> ValidIdsOf(string operatorName)
    {
        using var connection = database.Open();
        return [.. connection.Query<string>(
            "SELECT id FROM operator_tokens WHERE operator = @operatorName AND revoked_at IS NULL ORDER BY created_at, id", new { operatorName })];
    }

    /// <summary>
    /// Revokes these tokens (<see cref="ValidIdsOf"/>, read for the audit row before it was written), those not revoked
    /// already: exactly the tokens the row names, not one made meanwhile. Returns how many were revoked.
    /// </summary>
    public int RevokeIds(IReadOnlyCollection<string> ids, string revokedBy)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentException.ThrowIfNullOrWhiteSpace(revokedBy);
        using var connection = database.Open();
        return connection.Execute(
            "UPDATE operator_tokens SET revoked_at = @at, revoked_by = @revokedBy WHERE id IN @ids AND revoked_at IS NULL",
            new { ids, revokedBy, at = clock.GetCurrentInstant() });
    }

    /// <summary>Revokes every token of an operator (someone who leaves). Returns how many were revoked.</summary>
    /// <param name="revokedBy">Who revokes them, kept with each token (<see cref="List"/>).</param>
    public int RevokeAll(string operatorName, string revokedBy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(revokedBy);
        using var connection = database.Open();
        return connection.Execute(
            "UPDATE operator_tokens SET revoked_at = @at, revoked_by = @revokedBy WHERE operator = @operatorName AND revoked_at IS NULL",
            new { operatorName, revokedBy, at = clock.GetCurrentInstant() });
    }

    /// <summary>
    /// Revokes one token, by the id <see cref="List"/> shows: the operator name may hold other tokens (a replacement
    /// made before the old one is revoked), which stay valid. Returns the token's operator, or null when no unrevoked
    /// token has that id.
    /// </summary>
    public string? Revoke(string id, string revokedBy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(revokedBy);
        using var connection = database.Open();
        return connection.QuerySingleOrDefault<string>(
            "UPDATE operator_tokens SET revoked_at = @at, revoked_by = @revokedBy WHERE id = @id AND revoked_at IS NULL RETURNING operator",
            new { id, revokedBy, at = clock.GetCurrentInstant() });
    }

    /// <summary>The operator of the unrevoked token with this id, or null.</summary>
    public string? OperatorOf(string id)
    {
        using var connection = database.Open();
        return connection.QuerySingleOrDefault<string>("SELECT operator FROM operator_tokens WHERE id = @id AND revoked_at IS NULL", new { id });
    }

    /// <summary>The operator accounts with a token still valid that names <paramref name="personId"/> (someone who leaves), by name.</summary>
    public IReadOnlyList<string> ActiveOperatorsOf(string personId)
    {
        using var connection = database.Open();
        return [.. connection.Query<string>(
            "SELECT DISTINCT operator FROM operator_tokens WHERE person_id = @personId AND revoked_at IS NULL ORDER BY operator",
            new { personId })];
    }

    /// <summary>
    /// The operator accounts whose tokens a termination of <paramref name="personId"/> revoked (migration 0020: with the
    /// person's status, at its instant and by its author, those of its <c>person.terminate</c> row), by name.
    /// </summary>
    public IReadOnlyList<string> OperatorsRevokedWith(string personId, string terminatedBy, Instant terminatedAt)
    {
        using var connection = database.Open();
        return [.. connection.Query<string>(
            """
            SELECT DISTINCT operator FROM operator_tokens
            WHERE person_id = @personId AND revoked_by = @terminatedBy AND revoked_at = @terminatedAt
            ORDER BY operator
            """,
            new { personId, terminatedBy, terminatedAt = Instant.FromUnixTimeMilliseconds(terminatedAt.ToUnixTimeMilliseconds()) })];
    }

    /// <summary>
    /// The tokens of <paramref name="personId"/> that <paramref name="revokedBy"/> revoked last, all at one instant (a
    /// termination revokes every token of its person in the same statement, migration 0020), with their operators, by id:
    /// what a termination's <c>operator_token.revoke</c> row names, so that a token sampled from the list is found.
    /// </summary>
    public IReadOnlyList<(string Id, string Operator)> RevokedLastBy(string personId, string revokedBy)
    {
        using var connection = database.Open();
        return [.. connection.Query<(string, string)>(
            """
            SELECT id, operator FROM operator_tokens
            WHERE person_id = @personId AND revoked_by = @revokedBy
              AND revoked_at = (SELECT MAX(revoked_at) FROM operator_tokens WHERE person_id = @personId AND revoked_by = @revokedBy)
            ORDER BY id
            """,
            new { personId, revokedBy })];
    }

    /// <summary>
    /// The terminated people some of whose tokens are revoked: those whose termination may have revoked tokens that no
    /// row names yet (<c>Hr.LeaverSweep</c> asks <c>Hr.Termination</c> about each). Few: only people who were operators.
    /// </summary>
    public IReadOnlyList<string> TerminatedWithRevokedTokens()
    {
        using var connection = database.Open();
        return [.. connection.Query<string>(
            """
            SELECT DISTINCT t.person_id FROM operator_tokens t JOIN people p ON p.id = t.person_id
            WHERE p.status = 'terminated' AND t.revoked_at IS NOT NULL
            ORDER BY 1
            """)];
    }

    /// <summary>
    /// The tokens, revoked ones too, in the order they were made (ties by id): who holds which role for which site, since
    /// when and from whom, and whether each works now (<see cref="OperatorToken.State"/>). Never a token or its hash.
    /// </summary>
    /// <param name="after">The id of the last token of the previous page; null for the first page (an unknown id gives an empty page).</param>
    /// <param name="limit">At most this many; null for all.</param>
    public IReadOnlyList<OperatorToken> List(string? after = null, int? limit = null)
    {
        using var connection = database.Open();
        return [.. connection.Query<TokenRow>(
            $"""
            SELECT t.id, t.operator, t.role, t.person_id AS PersonId, t.site_id AS SiteId, t.created_at AS CreatedAt,
                   t.created_by AS CreatedBy, t.revoked_at AS RevokedAt, t.revoked_by AS RevokedBy, {PersonStatusNow} AS PersonStatus
            FROM operator_tokens t LEFT JOIN people p ON p.id = t.person_id
            WHERE @after IS NULL OR (t.created_at, t.id) > (SELECT created_at, id FROM operator_tokens WHERE id = @after)
            ORDER BY t.created_at, t.id
            LIMIT @limit
            """,
            new { after, limit = limit ?? -1, now = clock.GetCurrentInstant() })
            .Select(r => new OperatorToken(
                r.Id, r.Operator, r.Role, r.PersonId, r.SiteId, r.CreatedAt, r.CreatedBy, r.RevokedAt, r.RevokedBy,
                r.RevokedAt is not null ? OperatorToken.Revoked : RefusalOf(r.PersonId, r.PersonStatus) ?? OperatorToken.Valid))];
    }

    /// <summary>
    /// The operators and roles of the unrevoked tokens that name no person, stored by a version that asked a person only
    /// of hosts, approvers and enrollment operators. A termination cannot find them, so they are refused
    /// (<see cref="TokenRefusals.WithoutPerson"/>): they are to be revoked and issued again with a person.
    /// </summary>
    public IReadOnlyList<(string Operator, string Role)> WithoutPerson()
    {
        using var connection = database.Open();
        return [.. connection.Query<(string, string)>(
            "SELECT DISTINCT operator, role FROM operator_tokens WHERE person_id IS NULL AND revoked_at IS NULL ORDER BY operator, role")];
    }

    /// <summary>
    /// The operator names of unrevoked tokens that do not say one person (<see cref="OperatorNameProblem(string, string)"/>),
    /// stored before <c>token create</c> checked them, each with the people its unrevoked tokens name: a name the service's
    /// own rows carry, or one whose tokens (revoked ones too) name more than one person. Without regard to case.
    /// </summary>
    public IReadOnlyList<(string Operator, IReadOnlyList<string> People)> Misnamed()
    {
        using var connection = database.Open();
        var rows = connection.Query<(string Operator, string PersonId, bool Revoked)>(
            "SELECT operator, person_id, revoked_at IS NOT NULL FROM operator_tokens WHERE person_id IS NOT NULL").ToList();
        return [.. rows
            .GroupBy(r => r.Operator, StringComparer.OrdinalIgnoreCase)
            .Where(g => g.Any(r => !r.Revoked)
                && (g.Select(r => r.PersonId).Distinct(StringComparer.Ordinal).Count() > 1 || IsServiceActor(g.Key)))
            .Select(g => (g.Where(r => !r.Revoked).Select(r => r.Operator).Order(StringComparer.Ordinal).First(),
                (IReadOnlyList<string>)[.. g.Where(r => !r.Revoked).Select(r => r.PersonId).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]))
            .OrderBy(m => m.Item1, StringComparer.Ordinal)];
    }

    public static bool IsValidOperatorName([NotNullWhen(true)] string? name) => name is not null && WireFormat.IsValidId(name);

    public static string RoleCode(OperatorRole role) => JsonNamingPolicy.KebabCaseLower.ConvertName(role.ToString());

    public static bool TryParseRole(string? code, out OperatorRole role)
    {
        foreach (var candidate in Enum.GetValues<OperatorRole>())
        {
            if (string.Equals(RoleCode(candidate), code, StringComparison.Ordinal))
            {
                role = candidate;
                return true;
            }
        }

        role = default;
        return false;
    }

    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private sealed class TokenRow
    {
        public string Id { get; init; } = "";

        public string Operator { get; init; } = "";

        public string Role { get; init; } = "";

        public string? PersonId { get; init; }

        public string? SiteId { get; init; }

        public Instant CreatedAt { get; init; }

        public string CreatedBy { get; init; } = "";

        public Instant? RevokedAt { get; init; }

        public string? RevokedBy { get; init; }

        public string? PersonStatus { get; init; }
    }
}

/// <summary>
/// A token as <c>token list</c> and <c>GET /api/v1/tokens</c> show it: its id, never the token or any hash of it.
/// </summary>
/// <param name="Site">The one site it acts for; null for every site.</param>
/// <param name="RevokedBy">Null also for a token revoked by a version that did not keep who (the entry log's row says).</param>
/// <param name="State"><see cref="Valid"/>, <see cref="Revoked"/>, or why it is refused for its person (<see cref="TokenRefusals"/>).</param>
public sealed record OperatorToken(
    string Id,
    string Operator,
    string Role,
    string? Person,
    string? Site,
    Instant CreatedAt,
    string CreatedBy,
    Instant? RevokedAt,
    string? RevokedBy,
    string State)
{
    public const string Valid = "valid";

    public const string Revoked = "revoked";
}

/// <summary>
/// What a presented token is worth: nothing (<see cref="Holder"/> null: unknown, revoked or malformed), or the operator
/// it belongs to and, when it may not be used now, why (<see cref="Refusal"/>, one of <see cref="TokenRefusals"/>).
/// </summary>
public sealed record TokenCheck(OperatorIdentity? Holder, string? Refusal = null)
{
    public static TokenCheck Unknown { get; } = new(Holder: null);

    /// <summary>The operator the request acts as: the holder of a token that is not refused.</summary>
    public OperatorIdentity? Identity => Refusal is null ? Holder : null;
}

/// <summary>
/// Why a known token that is not revoked is refused: the <c>code</c> of the API's answer, and the <c>security</c> row
/// <c>auth.&lt;code&gt;</c>. Every one but <see cref="WithoutPerson"/> follows the person's status and may change back.
/// </summary>
public static class TokenRefusals
{
    /// <summary>Stored by an older version without a person: no termination could ever revoke it. It is to be replaced (401).</summary>
    public const string WithoutPerson = "token_without_person";

    /// <summary>The person is suspended: their tokens work again once they are reinstated (403).</summary>
    public const string PersonSuspended = "person_suspended";

    /// <summary>
    /// The person is terminated (403). A termination revokes the person's tokens (migration 0020), so only a token left
    /// unrevoked some other way (a database edited by hand) meets this.
    /// </summary>
    public const string PersonTerminated = "person_terminated";

    /// <summary>The person is no longer in the people table (403).</summary>
    public const string PersonUnknown = "person_unknown";
}

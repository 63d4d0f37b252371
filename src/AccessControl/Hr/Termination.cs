using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.Display;
using AccessControl.EntryLog;
using AccessControl.Fingerprints;
using AccessControl.People;
using AccessControl.SiteFiles;
using AccessControl.Sites;
using AccessControl.Visitors;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Hr;

/// <summary>
/// What a termination takes away, whoever makes it: the HR feed (<see cref="HrFeedService"/>, which records the event
/// around it), an operator through the admin API or CLI (<c>person status ID terminated</c>, <see cref="ByOperatorAsync"/>;
/// <c>person set ID ... --status terminated</c>, <see cref="UpsertByOperatorAsync"/>) or a site file that declares a
/// person terminated (<see cref="ImportSiteFileAsync"/>).
/// A person who leaves loses access at once (NIST PS-4, ISO 27001 A.7.3) and keeps nothing that a later
/// <c>active</c> (a rehire, or a mistake) would bring back: the same steps either way.
/// </summary>
/// <remarks>
/// <para>In this order, each through the service that owns it and each with its own <c>admin</c> row naming who and when:
/// the person terminated (<c>person.terminate</c>), which alone denies every card of theirs at the very next swipe and, in
/// the same database statement, revokes their operator tokens (migration 0020); each credential revoked
/// (<c>credential.revoke</c>), so no card of theirs works again without a re-issue; every fingerprint template revoked
/// (<c>fingerprint.revoke</c>); their visits cancelled, or them removed as escort, or them checked out as a visitor
/// (<see cref="VisitorService.EndInvolvementAsync"/>).</para>
/// <para>A step that fails (audit log or database unavailable) stops the sequence; the steps done stay done (each only
/// takes access away) and asking again does the rest: a step already done changes and records nothing. Nobody need
/// ask: every start finishes the terminations left so (<see cref="LeaverSweep"/>).</para>
/// <para>The fingerprint and visitor services are null only in a host composed without those features (the admin API's
/// own tests): there is then nothing of theirs to take away.</para>
/// </remarks>
public sealed class Termination
{
    private readonly AdminService admin;
    private readonly FingerprintService? fingerprints;
    private readonly VisitorService? visitors;
    private readonly ApiTokens tokens;
    private readonly LiveConfiguration configuration;
    private readonly EntryLogQuery log;
    private readonly Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog;
    private readonly IClock clock;
    private readonly ILogger<Termination> logger;

    /// <param name="log">Read to tell whether the row naming the tokens a termination revoked is written already (<see cref="TokensRevokedWith"/>).</param>
    /// <param name="appendLog">Appends a row to the entry log and completes when it is durable (<c>EventPipeline.AppendAsync</c>).</param>
    public Termination(
        AdminService admin,
        FingerprintService? fingerprints,
        VisitorService? visitors,
        ApiTokens tokens,
        LiveConfiguration configuration,
        EntryLogQuery log,
        Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog,
        IClock clock,
        ILogger<Termination> logger)
    {
        this.admin = admin;
        this.fingerprints = fingerprints;
        this.visitors = visitors;
        this.tokens = tokens;
        this.configuration = configuration;
        this.log = log;
        this.appendLog = appendLog;
        this.clock = clock;
        this.logger = logger;
    }

    /// <summary>
    /// The steps (see the class remarks). <see cref="TerminationSteps.Status"/> is the status change's own result: when
    /// it is not ok nothing was done; otherwise <see cref="TerminationSteps.Unavailable"/> says why a later step stopped.
    /// </summary>
    /// <param name="reference">Recorded in the rows' detail (the HR event id); null for none.</param>
    /// <param name="templateReason">The reason each template's revocation records.</param>
    /// <param name="endVisits">False only for the visitor desk's own retention purge (<see cref="OfPurgedVisitorAsync"/>).</param>
    public async Task<TerminationSteps> TakeAwayAsync(AdminActor who, PersonId person, string? reference, string templateReason, bool endVisits = true)
    {
        ArgumentNullException.ThrowIfNull(who);

        // Once started, nothing here is cancelled: a half-done termination is finished by a retry, not abandoned.
        // The operators are read first: the status change itself revokes the person's tokens (migration 0020).
        var operators = tokens.ActiveOperatorsOf(person.Value);
        var status = await admin.SetPersonStatusAsync(who, person.Value, PersonStatus.Terminated.ToCode(), CancellationToken.None, reference);
        var steps = new TerminationSteps(status, status.Changed ? operators : [], [], 0, null, null);
        if (!status.IsOk)
        {
            return steps;
        }

        var revoked = new List<string>();
        foreach (var credential in configuration.Cardholders.CredentialsOf(person).Where(c => c.Status != CredentialStatus.Revoked).OrderBy(c => c.CardUid, StringComparer.Ordinal).ToList())
        {
            var result = await admin.SetCredentialStatusAsync(who, credential.CardUid, CredentialStatus.Revoked.ToCode(), CancellationToken.None, reference);
            if (!result.IsOk)
            {
                return steps with { CredentialsRevoked = revoked, Unavailable = result.Message };
            }

            revoked.Add(credential.CardUid);
        }

        steps = steps with { CredentialsRevoked = revoked };
        if (fingerprints is not null)
        {
            var templates = await fingerprints.RevokeAllAsync(who.Name, person, templateReason, CancellationToken.None);
            if (!templates.IsOk)
            {
                return steps with { Unavailable = templates.Message };
            }

            steps = steps with { TemplatesRevoked = templates.Value!.Count };
        }

        if (visitors is not null && endVisits)
        {
            var visits = await visitors.EndInvolvementAsync(who, person, reference, CancellationToken.None);
            if (!visits.IsOk)
            {
                return steps with { Unavailable = visits.Message };
            }

            steps = steps with { Visits = visits.Value };
        }

        return steps;
    }

    /// <summary>
    /// An operator's termination (<c>POST /people/{id}/status</c> with <c>terminated</c>): the steps, then the row naming the
    /// operator tokens it revoked (<c>operator_token.revoke</c>). A failure after the status change is
    /// <see cref="AdminOutcome.Unavailable"/> saying that the person is terminated and what is left to do.
    /// </summary>
    public async Task<AdminResult<Person>> ByOperatorAsync(AdminActor who, string id)
    {
        ArgumentNullException.ThrowIfNull(who);
        var steps = await TakeAwayAsync(who, new PersonId(id), null, TemplateReason(id, who));
        if (!steps.Status.IsOk)
        {
            return steps.Status;
        }

        if (steps.Unavailable is { } why)
        {
            return AdminResult<Person>.Unavailable(
                $"'{id}' is terminated (every card of theirs is denied), but the rest could not be done: {why} Terminate them again to finish it (else the next start of the service does).");
        }

        if (!await NameTokensAsync(who, new PersonId(id), steps.Operators, null))
        {
            return AdminResult<Person>.Unavailable(
                $"'{id}' is terminated and their operator tokens are revoked with it, but the row naming the tokens could not be written (the token list shows them revoked).");
        }

        return AdminResult<Person>.Ok(configuration.Cardholders.People[new PersonId(id)], steps.Status.Changed);
    }

    /// <summary>Whether a request's status is <c>terminated</c>: the admin API then terminates through this class.</summary>
    public static bool Terminates(string? status) => CardholderCodes.TryParse(status, out PersonStatus asked) && asked == PersonStatus.Terminated;

    /// <summary>
    /// <c>PUT /people/{id}</c> (<c>person add|set</c>): when it terminates a stored person who is not terminated yet, that is
    /// <see cref="ByOperatorAsync"/> first (every step, each row by the operator, the status change a <c>person.terminate</c>
    /// row), then the rest of the request (name, kind, access levels: a <c>person.upsert</c> row when anything differs), so
    /// no leaver is ever given anything while active. A request that would be refused as invalid changes nothing.
    /// Anything else is <see cref="AdminService.UpsertPersonAsync"/> alone.
    /// </summary>
    public async Task<AdminResult<Person>> UpsertByOperatorAsync(AdminActor who, string id, PersonInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        // An operator's own record is refused whatever it asks (AdminService: segregation of duties), before anything is done.
        if (!Terminates(input.Status) || !configuration.Cardholders.People.TryGetValue(new PersonId(id), out var stored) || stored.Status == PersonStatus.Terminated
            || string.Equals(who.Token?.PersonId, id, StringComparison.Ordinal))
        {
            return await admin.UpsertPersonAsync(who, id, input, cancellationToken);
        }

        if (admin.CheckPerson(id, input) is { Count: > 0 } errors)
        {
            return AdminResult<Person>.Invalid(errors);
        }

        var terminated = await ByOperatorAsync(who, id);
        if (!terminated.IsOk)
        {
            return terminated;
        }

        var rest = await admin.UpsertPersonAsync(who, id, input, CancellationToken.None);
        return rest.IsOk
            ? AdminResult<Person>.Ok(rest.Value!, changed: true)
            : AdminResult<Person>.Unavailable(
                $"'{id}' is terminated (every step of it done), but the rest of the change was not made: {rest.Message ?? string.Join("; ", rest.Errors.Select(e => $"{e.Field} {e.Message}"))}");
    }

    /// <summary>
    /// A site file's import (<paramref name="import"/>, <see cref="AdminService.ImportSiteDefinitionAsync"/>), then the
    /// steps for each person the file terminates, each row by the file (<c>site-file:NAME</c>, the file's SHA-256 as the
    /// reference): a person stored and not terminated before this import, or one the site's previously imported file
    /// (<paramref name="previous"/>) declared not terminated. The import's own row for the status is <c>person.terminate</c>.
    /// And for each person the file declares whom the import leaves terminated (the file's own leavers, and those who stay
    /// terminated whatever it says) while a card of theirs is not revoked: a person it declares terminated from the first
    /// (never stored as anything else), or a card it gives to someone terminated. The import stores such a card as the file
    /// declares it (denied at once: its holder is terminated), and the steps revoke it before the start goes on, with the
    /// same rows as any termination's, so a later reactivation brings no card back.
    /// </summary>
    /// <remarks>
    /// Fail closed: a step that cannot be written stops this (Unavailable; the person is terminated, every card denied) and
    /// the caller does not note the file as imported (<c>EdgeService</c> refuses to start). Its next start imports the file
    /// again against the same previous file, so the person is again one this file terminates, and the steps left are done
    /// (those done change and record nothing), the row naming the operator tokens the first start's status change
    /// revoked too, unless that start wrote it (<see cref="TokensRevokedWith"/>).
    /// </remarks>
    public async Task<AdminResult<ImportSummary>> ImportSiteFileAsync(
        string siteFileName, string sha256, SiteDefinition site, SiteDefinition? previous, Func<Task<AdminResult<ImportSummary>>> import)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(import);
        var who = AdminActor.EverySite(AdminService.SiteFileActor(siteFileName));
        var reference = "sha256:" + sha256;
        var activeBefore = previous?.People.Where(p => p.Status != PersonStatus.Terminated).Select(p => p.Id).ToHashSet() ?? [];
        var leavers = site.People.Where(p => p.Status == PersonStatus.Terminated).Select(p => p.Id).ToHashSet();
        var now = leavers.Where(p => configuration.Cardholders.People.TryGetValue(p, out var stored) && stored.Status != PersonStatus.Terminated).ToHashSet();

        // The operators first: the import's status change revokes their tokens (migration 0020).
        var operators = now.ToDictionary(p => p, p => tokens.ActiveOperatorsOf(p.Value));
        var imported = await import();
        if (!imported.IsOk)
        {
            return imported;
        }

        // Terminated and holding a card not revoked: one pass over the cards, not one per person (a file may keep
        // thousands of leavers declared, against hundreds of thousands of cards, at every start).
        var cardholders = configuration.Cardholders;
        var holdingCards = cardholders.Credentials.Values.Where(c => c.Status != CredentialStatus.Revoked).Select(c => c.Person).ToHashSet();
        bool HoldsCardWhileTerminated(PersonId p) =>
            holdingCards.Contains(p) && cardholders.People.TryGetValue(p, out var holder) && holder.Status == PersonStatus.Terminated;

        foreach (var person in site.People.Select(p => p.Id).Where(p => now.Contains(p) || (leavers.Contains(p) && activeBefore.Contains(p)) || HoldsCardWhileTerminated(p)))
        {
            var steps = await TakeAwayAsync(who, person, reference, TemplateReason(person.Value, who));
            if ((steps.Unavailable ?? steps.Status.Message) is { } why)
            {
                return AdminResult<ImportSummary>.Unavailable(
                    $"The site file terminates '{person}' (every card of theirs is denied), but the rest could not be done: {why} The next start finishes it.");
            }

            if (!await NameTokensAsync(who, person, operators.GetValueOrDefault(person) ?? [], reference))
            {
                return AdminResult<ImportSummary>.Unavailable(
                    $"The site file terminates '{person}' and their operator tokens are revoked with it, but the row naming the tokens could not be written (the token list shows them revoked). The next start writes it.");
            }
        }

        return imported;
    }

    /// <summary>
    /// The operator tokens the termination of <paramref name="person"/> revoked (with the status, migration 0020), who
    /// terminated them, and whether a row names the tokens yet; null when they are not terminated or it revoked none.
    /// A row is missing after an attempt that changed the status and then stopped (a step failed, the process ended)
    /// before writing it: whoever finishes the termination writes it then (the same operator asking again, another one,
    /// the site file's next start, the HR feed's retry, or the start's <see cref="LeaverSweep"/>), once: a row after the
    /// person's last <c>person.terminate</c> row, by anyone, names them.
    /// </summary>
    /// <remarks>Read through the log query, so the log index finds that person's rows, not a scan of the log.</remarks>
    public RevokedTokens? TokensRevokedWith(PersonId person)
    {
        if (!configuration.Cardholders.People.TryGetValue(person, out var stored) || stored.Status != PersonStatus.Terminated
            || LastRow(person, CardholderActions.PersonTerminate) is not { Actor: { } terminatedBy } terminated)
        {
            return null;
        }

        var revoked = tokens.OperatorsRevokedWith(person.Value, terminatedBy, terminated.At);
        return revoked.Count == 0 ? null : new RevokedTokens(terminatedBy, revoked,
            Named: log.Find(new LogFilter { Kind = LogKinds.Admin, PersonId = person.Value, Reason = OperatorTokenActions.Revoke, AfterSeq = terminated.Seq, Limit = 1 }).Count > 0,
            Reference: ReferenceOf(terminated.Detail));
    }

    /// <summary>The <c>reference</c> an admin row's detail names (an HR event id), if any; none for a detail the service did not write.</summary>
    private static string? ReferenceOf(string? detail)
    {
        using var json = StoredDetail.Object(detail);
        return json is not null && json.RootElement.TryGetProperty("reference", out var reference) && reference.ValueKind == System.Text.Json.JsonValueKind.String
            ? reference.GetString() : null;
    }

    /// <summary>The person's last admin row with this reason, page by page (a person may have any number of them).</summary>
    private LogEntry? LastRow(PersonId person, string reason)
    {
        var filter = new LogFilter { Kind = LogKinds.Admin, PersonId = person.Value, Reason = reason, Limit = EntryLogQuery.MaxLimit };
        LogEntry? last = null;
        while (true)
        {
            var page = log.Find(filter);
            last = page.Count > 0 ? page[^1] : last;
            if (page.Count < filter.Limit)
            {
                return last;
            }

            filter = filter with { AfterSeq = last!.Seq };
        }
    }

    /// <summary>
    /// After a termination's steps: the row naming the operator tokens this attempt's status change revoked
    /// (<paramref name="revokedNow"/>, read just before it), or, when it revoked none, those an earlier attempt revoked
    /// and left unnamed (<see cref="TokensRevokedWith"/>). False when a row was due and could not be written.
    /// </summary>
    private async Task<bool> NameTokensAsync(AdminActor who, PersonId person, IReadOnlyList<string> revokedNow, string? reference)
    {
        var left = revokedNow.Count > 0 ? new RevokedTokens(who.Name, revokedNow, Named: false, reference) : TokensRevokedWith(person);
        if (left is null || left.Named)
        {
            return true;
        }

        return await NameRevokedTokensAsync(who.Name, person.Value, left.Operators, reference, left.TerminatedBy) is not null;
    }

    /// <summary>
    /// The visitor desk's retention purge (<see cref="VisitorService.PurgeAsync"/>) of a per-visit cardholder: the steps
    /// but the visits one, each row by whoever runs the purge, with <paramref name="reference"/> (the purge's row). The
    /// visits are the purge's own: it holds the desk, and deletes the visit, on which the visitor is no longer on site.
    /// Null when every step was done; otherwise why one was not.
    /// </summary>
    public async Task<string?> OfPurgedVisitorAsync(AdminActor who, PersonId visitor, string reference)
    {
        ArgumentNullException.ThrowIfNull(who);
        return Left(await TakeAwayAsync(who, visitor, reference, $"retention purge of {visitor} by {who.Name}", endVisits: false));
    }

    /// <summary>
    /// The start's sweep (<see cref="LeaverSweep"/>) of a person left terminated with something the steps take away (a
    /// termination cut short): the steps left, each row by <paramref name="who"/> with <paramref name="reference"/>.
    /// Null when every step was done; otherwise why one was not.
    /// </summary>
    public async Task<string?> FinishAsync(AdminActor who, PersonId person, string reference)
    {
        ArgumentNullException.ThrowIfNull(who);
        var steps = await TakeAwayAsync(who, person, reference, TemplateReason(person.Value, who));
        return Left(steps) ?? (await NameTokensAsync(who, person, steps.Operators, reference) ? null : TokensRowNotWritten);
    }

    /// <summary>
    /// The start's sweep of a person whose termination revoked operator tokens that no row names
    /// (<see cref="TokensRevokedWith"/>): that row, by <paramref name="who"/> with <paramref name="reference"/>. Whether a
    /// row was written (false: none was due), or why it could not be.
    /// </summary>
    public async Task<(bool Named, string? Why)> NameTokensLeftAsync(AdminActor who, PersonId person, string reference)
    {
        ArgumentNullException.ThrowIfNull(who);
        if (TokensRevokedWith(person) is not { Named: false } left)
        {
            return (false, null);
        }

        return await NameRevokedTokensAsync(who.Name, person.Value, left.Operators, reference, left.TerminatedBy) is null
            ? (false, TokensRowNotWritten)
            : (true, null);
    }

    private const string TokensRowNotWritten = "the row naming the operator tokens revoked with the termination could not be written";

    /// <summary>Why a step of <paramref name="steps"/> was not done; null when every one was.</summary>
    private static string? Left(TerminationSteps steps) =>
        steps.Status.IsOk ? steps.Unavailable : steps.Status.Message ?? "the status could not be changed";

    /// <summary>The reason each template's revocation records when an operator or a site file terminates someone.</summary>
    /// A site file's name may hold characters a reason may not (controls, bidi and other invisible characters: its actor
    /// names it as it is), which read as '?', and be longer than a reason may be (cut, then read so: a cut between a
    /// surrogate pair leaves a lone one): a file that terminates someone must not be refused for its name.
    private static string TemplateReason(string id, AdminActor who)
    {
        var reason = $"termination of {id} by {who.Name}";
        return ReadableText.Replaced(reason.Length <= FingerprintService.MaxReasonLength ? reason : reason[..FingerprintService.MaxReasonLength]);
    }

    /// <summary>The ids of the tokens of <paramref name="operators"/> that the termination by <paramref name="terminatedBy"/> revoked; none when they cannot be read.</summary>
    private IReadOnlyList<string> TokenIdsRevokedWith(string personId, IReadOnlyList<string> operators, string terminatedBy)
    {
        try
        {
            return [.. tokens.RevokedLastBy(personId, terminatedBy).Where(t => operators.Contains(t.Operator)).Select(t => t.Id)];
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            // The row still names the operators: it is written without the ids rather than not at all.
            logger.LogError(ex, "The ids of the operator tokens revoked with the termination of {Person} could not be read.", personId);
            return [];
        }
    }

    /// <summary>The row naming the operator tokens a termination revoked (<c>operator_token.revoke</c>); null when it could not be written.</summary>
    /// <param name="terminatedBy">Whose termination revoked them, when not <paramref name="actor"/>'s (the row then says so); null: the actor's.</param>
    public async Task<LogEntry?> NameRevokedTokensAsync(string actor, string personId, IReadOnlyList<string> operators, string? reference, string? terminatedBy = null)
    {
        var entry = new LogEntry
        {
            At = clock.GetCurrentInstant(),
            Kind = LogKinds.Admin,
            Actor = actor,
            Reason = OperatorTokenActions.Revoke,
            PersonId = personId,
            // The ids too (what 'token list' shows): an auditor sampling a revoked token finds the row that ended it.
            Detail = AdminJson.Serialize(new { operators, ids = TokenIdsRevokedWith(personId, operators, terminatedBy ?? actor), reference, terminatedBy = terminatedBy == actor ? null : terminatedBy }),
        };
        try
        {
            return await appendLog(entry, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "The row naming the operator tokens revoked with the termination of {Person} could not be written.", personId);
            return null;
        }
    }
}

/// <summary>What <see cref="Termination.TakeAwayAsync"/> did.</summary>
/// <param name="Status">The status change's result; nothing else was done unless it is ok.</param>
/// <param name="Operators">The operator accounts whose tokens the status change revoked (read just before it); none when the person was terminated already.</param>
/// <param name="Unavailable">Why a step after the status change stopped the sequence; null when every step was done.</param>
public sealed record TerminationSteps(
    AdminResult<Person> Status, IReadOnlyList<string> Operators, IReadOnlyList<string> CredentialsRevoked, int TemplatesRevoked, VisitsEnded? Visits, string? Unavailable);

/// <summary>
/// The operator tokens a termination revoked, who terminated the person, whether a row names them yet, and the
/// termination's reference (an HR event id, a site file's hash; null for none) (<see cref="Termination.TokensRevokedWith"/>).
/// </summary>
public sealed record RevokedTokens(string TerminatedBy, IReadOnlyList<string> Operators, bool Named, string? Reference);

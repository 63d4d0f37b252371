using System.Collections.Immutable;
using AccessControl.Cardholding;
using AccessControl.Display;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Admin;

/// <summary>
/// The one place a change to people, credentials or access levels happens, whoever asks for it (the HTTP API,
/// the CLI through the API, a site file being loaded, the HR feed, the visitor desk's per-visit cardholders).
/// </summary>
/// <remarks>
/// <para>Who asks is an <see cref="AdminActor"/>. A token limited to one site (<see cref="SiteLimit"/>) changes no
/// cardholders, since they are global: the service refuses it here, whoever passes its request on, before reading
/// anything, with the API's answer (<see cref="AdminOutcome.NotForThisSite"/>: 403 <c>not_approver_for_site</c>) and
/// row (<c>cardholders.refused</c>).</para>
/// <para>Nor does an operator's token give its own person access (segregation of duties, NIST AC-5, PCI DSS 7.2): the
/// person's record (<c>PUT</c>), their access levels, a card bound, re-issued or activated for them, a level they hold.
/// Refused with <see cref="AdminOutcome.SegregationOfDuties"/> (403 <see cref="SegregationOfDuties"/>) and a
/// <c>security</c> row <see cref="CardholderActions.SelfChange"/>. What only takes access away (suspending or terminating
/// themselves, suspending or revoking a card of theirs) is not refused.</para>
/// <para>Each change is validated against the current topology and cardholders, then, in this order:
/// (1) its audit row (kind <c>admin</c>: actor, time, action code, before/after) is appended to the entry log,
/// (2) the cardholder tables are written in one transaction, (3) the new snapshot is swapped into
/// <see cref="LiveConfiguration"/>, so the very next swipe is decided with it. From before (1) until (3) the change is
/// in flight (<see cref="LiveConfiguration.BeginChangeAsync"/>): a swipe meanwhile is granted only if it would be both with
/// and without the change, so a leaver's card queued behind the termination's audit row is not let in.</para>
/// <para>Audit first is the fail-closed order: no change ever exists, in the database or in memory, without its
/// audit row. If the audit append fails, nothing is written and the caller gets <see cref="AdminOutcome.Unavailable"/>.
/// If the database write fails after the row was appended, a second row <c>&lt;action&gt;.failed</c> says so and nothing
/// becomes visible. Once started, steps 1-3 are not cancelled, so the log, the tables and memory stay in step.</para>
/// <para>A credential change can be part of another feature's change recorded first (a visitor's check-out revokes the
/// badge): that row is written inside the credential change's flight (<see cref="PrecedingChange"/>), so both take
/// effect no later than the first row, and a failure of either gives both back.</para>
/// <para>Changes are serialized (one at a time): admin changes are rare, and it makes each "before" exact.
/// A request that asks for the state that already holds writes and records nothing.</para>
/// </remarks>
public sealed class AdminService
{
    public const int MaxNameLength = 200;

    /// <summary>The code of the API's answer to a change an operator asked for their own person (<see cref="AdminOutcome.SegregationOfDuties"/>).</summary>
    public const string SegregationOfDuties = "segregation_of_duties";

    /// <summary>How many changes of a site file's import share one flight, one log commit, one transaction and one swap.</summary>
    internal const int ImportBatchSize = 1_000;

    private readonly CardholderStore store;
    private readonly LiveConfiguration configuration;
    private readonly Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog;
    private readonly Func<IReadOnlyList<LogEntry>, CancellationToken, Task<IReadOnlyList<LogEntry>>>? appendLogAll;
    private readonly IClock clock;
    private readonly ILogger<AdminService> logger;
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <param name="appendLog">Appends a row to the entry log and completes when it is durable (in the service: <c>EventPipeline.AppendAsync</c>).</param>
    /// <param name="appendLogAll">
    /// Appends rows in one commit, all durable or none (in the service: <c>EventPipeline.AppendAllAsync</c>); null
    /// appends them one by one with <paramref name="appendLog"/>.
    /// </param>
    public AdminService(
        CardholderStore store,
        LiveConfiguration configuration,
        Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog,
        IClock clock,
        ILogger<AdminService> logger,
        Func<IReadOnlyList<LogEntry>, CancellationToken, Task<IReadOnlyList<LogEntry>>>? appendLogAll = null)
    {
        this.store = store;
        this.configuration = configuration;
        this.appendLog = appendLog;
        this.appendLogAll = appendLogAll;
        this.clock = clock;
        this.logger = logger;
    }

    // ---- people ------------------------------------------------------------------------------------

    /// <summary>
    /// Creates or replaces a person (action <c>person.upsert</c>). This alone takes nothing else away from a person it
    /// terminates: the admin API's PUT goes through <c>Hr.Termination.UpsertByOperatorAsync</c>, which does.
    /// </summary>
    public async Task<AdminResult<Person>> UpsertPersonAsync(AdminActor who, string id, PersonInput input, CancellationToken cancellationToken = default)
    {
        if (await RefuseSiteLimitedAsync<Person>(who, CardholderActions.PersonUpsert, id) is { } refused)
        {
            return refused;
        }

        if (await RefuseSelfChangeAsync<Person>(who, CardholderActions.PersonUpsert, id) is { } own)
        {
            return own;
        }

        var actor = who.Name;
        ArgumentNullException.ThrowIfNull(input);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var (existing, after, errors) = PlanPerson(configuration.Cardholders, id, input);
            return after is null ? AdminResult<Person>.Invalid(errors)
                : UnfinishedTermination(existing, after.Status) is { } unfinished ? unfinished
                : await ChangePersonAsync(actor, CardholderActions.PersonUpsert, existing, after, (at, ct) => store.UpsertPersonAsync(after, at, actor, ct));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// What <see cref="UpsertPersonAsync"/> would refuse as invalid (400), checked against the cardholders as they are now
    /// without changing anything: a termination asked for in the same request is made first (<c>Hr.Termination</c>) only
    /// when the rest of it would be accepted.
    /// </summary>
    public IReadOnlyList<FieldError> CheckPerson(string id, PersonInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return PlanPerson(configuration.Cardholders, id, input).Errors;
    }

    /// <summary>The person as stored, and as an upsert of <paramref name="input"/> leaves them (null when it is invalid: see the errors).</summary>
    private static (Person? Existing, Person? After, List<FieldError> Errors) PlanPerson(Cardholders current, string id, PersonInput input)
    {
        var errors = new List<FieldError>();
        var personId = CheckId(id, "id", errors) is { } pidText ? new PersonId(pidText) : (PersonId?)null;
        var name = CheckName(input.Name, "name", errors);
        if (!CardholderCodes.TryParse(input.Kind, out PersonKind kind))
        {
            errors.Add(OneOf<PersonKind>("kind", input.Kind));
        }

        var existing = personId is { } pid && current.People.TryGetValue(pid, out var found) ? found : null;
        var status = existing?.Status ?? PersonStatus.Active;
        if (input.Status is not null && !CardholderCodes.TryParse(input.Status, out status))
        {
            errors.Add(OneOf<PersonStatus>("status", input.Status));
        }

        var levels = input.AccessLevels is null
            ? existing?.AccessLevels ?? []
            : CheckLevels(input.AccessLevels, "accessLevels", current.AccessLevels.ContainsKey, errors);
        return (existing, errors.Count > 0 ? null : Normalize(new Person(personId!.Value, name!, kind, status, levels)), errors);
    }

    /// <summary>Activates, suspends or terminates a person (actions <c>person.activate</c>, <c>person.suspend</c>, <c>person.terminate</c>).</summary>
    /// <param name="reference">Recorded in the audit row's detail: what the change answers (an HR event id); null for none.</param>
    public async Task<AdminResult<Person>> SetPersonStatusAsync(AdminActor who, string id, string? status, CancellationToken cancellationToken = default, string? reference = null)
    {
        if (await RefuseSiteLimitedAsync<Person>(who, CardholderCodes.TryParse(status, out PersonStatus asked) ? PersonStatusAction(asked) : null, id) is { } refused)
        {
            return refused;
        }

        var actor = who.Name;
        var errors = new List<FieldError>();
        var personId = CheckId(id, "id", errors) is { } pidText ? new PersonId(pidText) : (PersonId?)null;
        if (!CardholderCodes.TryParse(status, out PersonStatus newStatus))
        {
            errors.Add(OneOf<PersonStatus>("status", status));
        }

        if (errors.Count > 0)
        {
            return AdminResult<Person>.Invalid(errors);
        }

        // Suspending or terminating oneself only takes access away.
        if (newStatus == PersonStatus.Active && await RefuseSelfChangeAsync<Person>(who, PersonStatusAction(newStatus), id) is { } own)
        {
            return own;
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            if (!configuration.Cardholders.People.TryGetValue(personId!.Value, out var existing))
            {
                return AdminResult<Person>.NotFound($"No person '{id}'.");
            }

            if (UnfinishedTermination(existing, newStatus) is { } unfinished)
            {
                return unfinished;
            }

            var after = existing with { Status = newStatus };
            return await ChangePersonAsync(actor, PersonStatusAction(newStatus), existing, after, async (at, ct) =>
                Found(await store.SetPersonStatusAsync(after.Id, newStatus, at, actor, ct), "person", id), reference);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// A terminated person is not made active or suspended while their termination is unfinished (a card not revoked, a
    /// fingerprint template active: a step answered 503, or cut short by a crash, that nobody has asked again and no
    /// start has finished yet, <c>Hr.LeaverSweep</c>): what it left would come back with them. Conflict, telling the
    /// operator to terminate them again first; null when the change may go on.
    /// </summary>
    private AdminResult<Person>? UnfinishedTermination(Person? existing, PersonStatus newStatus)
    {
        if (existing is not { Status: PersonStatus.Terminated } || newStatus == PersonStatus.Terminated)
        {
            return null;
        }

        var current = configuration.Cardholders;
        List<string> left = [.. current.CredentialsOf(existing.Id).Where(c => c.Status != CredentialStatus.Revoked).Select(c => $"card {c.CardUid} not revoked")];
        if (current.FingerprintEnrolled.Contains(existing.Id))
        {
            left.Add("a fingerprint template active");
        }

        return left.Count == 0 ? null : AdminResult<Person>.Conflict(
            $"'{existing.Id}' is terminated, but their termination is unfinished ({string.Join("; ", left)}): making them {newStatus.ToCode()} "
            + "would bring that back. Terminate them again first (it finishes the steps), then change their status.");
    }

    /// <summary>Replaces the access levels a person holds (action <c>person.access_levels</c>).</summary>
    /// <param name="reference">Recorded in the audit row's detail (an HR event id); null for none.</param>
    public async Task<AdminResult<Person>> SetPersonAccessLevelsAsync(AdminActor who, string id, IReadOnlyList<string?> accessLevels, CancellationToken cancellationToken = default, string? reference = null)
    {
        if (await RefuseSiteLimitedAsync<Person>(who, CardholderActions.PersonAccessLevels, id) is { } refused)
        {
            return refused;
        }

        if (await RefuseSelfChangeAsync<Person>(who, CardholderActions.PersonAccessLevels, id) is { } own)
        {
            return own;
        }

        var actor = who.Name;
        ArgumentNullException.ThrowIfNull(accessLevels);
        var errors = new List<FieldError>();
        var personId = CheckId(id, "id", errors) is { } pidText ? new PersonId(pidText) : (PersonId?)null;
        if (errors.Count > 0)
        {
            return AdminResult<Person>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var current = configuration.Cardholders;
            if (!current.People.TryGetValue(personId!.Value, out var existing))
            {
                return AdminResult<Person>.NotFound($"No person '{id}'.");
            }

            var levels = CheckLevels(accessLevels, "accessLevels", current.AccessLevels.ContainsKey, errors);
            if (errors.Count > 0)
            {
                return AdminResult<Person>.Invalid(errors);
            }

            var after = Normalize(existing with { AccessLevels = levels });
            return await ChangePersonAsync(actor, CardholderActions.PersonAccessLevels, existing, after, async (at, ct) =>
                Found(await store.SetPersonAccessLevelsAsync(after.Id, after.AccessLevels, at, actor, ct), "person", id), reference);
        }
        finally
        {
            gate.Release();
        }
    }

    // ---- credentials -------------------------------------------------------------------------------

    /// <summary>
    /// Creates or replaces a credential (action <c>credential.upsert</c>). The card UID is normalized first. An omitted
    /// status, validFrom or validUntil keeps the current one (new: active, unbounded). A revoked credential is not made
    /// active or suspended here (<see cref="AdminOutcome.Conflict"/>): see <see cref="ReissueCredentialAsync"/>.
    /// Nor is a card bound, active or suspended, to a terminated person (<see cref="AdminOutcome.Conflict"/>, as is a re-issue to one).
    /// </summary>
    public Task<AdminResult<Credential>> UpsertCredentialAsync(AdminActor who, string card, CredentialInput input, CancellationToken cancellationToken = default) =>
        BindCredentialAsync(who, card, input, reason: null, cancellationToken);

    /// <summary>
    /// Binds a card afresh (action <c>credential.reissue</c>, with <paramref name="reason"/> in the row's detail): the
    /// only way back from a revocation. Nothing is kept from a previous binding (omitted: active, unbounded). The visitor
    /// desk re-issues a pooled badge at each check-in, since the previous check-out revoked it.
    /// </summary>
    public Task<AdminResult<Credential>> ReissueCredentialAsync(AdminActor who, string card, CredentialInput input, string? reason, CancellationToken cancellationToken = default) =>
        BindCredentialAsync(who, card, input, reason ?? "", cancellationToken);

    /// <param name="reason">Null for an upsert; otherwise a re-issue, which must give one.</param>
    private async Task<AdminResult<Credential>> BindCredentialAsync(AdminActor who, string card, CredentialInput input, string? reason, CancellationToken cancellationToken)
    {
        var action = reason is null ? CardholderActions.CredentialUpsert : CardholderActions.CredentialReissue;
        if (await RefuseSiteLimitedAsync<Credential>(who, action, card) is { } refused)
        {
            return refused;
        }

        var actor = who.Name;
        ArgumentNullException.ThrowIfNull(input);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var current = configuration.Cardholders;
            var errors = new List<FieldError>();
            var cardUid = CheckCard(card, "card", errors);
            if (!CardUid.IsTechnologyToken(input.Technology))
            {
                errors.Add(new FieldError("technology", "must be 1 to 32 characters of a-z 0-9 and '-', such as desfire-ev3"));
            }

            var personId = CheckId(input.PersonId, "personId", errors) is { } pidText ? new PersonId(pidText) : (PersonId?)null;
            if (personId is { } p && !current.People.ContainsKey(p))
            {
                errors.Add(new FieldError("personId", $"no person '{p}'"));
            }

            var reissue = reason is null ? null : CheckName(reason, "reason", errors);

            // Omitted bounds keep the current ones, as an omitted status does: an edit that does not mention the validity
            // (a corrected technology) must not turn a card that expires into one that never does. A re-issue is a new
            // binding and keeps nothing.
            var existing = cardUid is not null && current.Credentials.TryGetValue(cardUid, out var found) ? found : null;
            var kept = reason is null ? existing : null;
            var validFrom = Credential.StoredPrecision(input.ValidFrom) ?? kept?.ValidFrom;
            var validUntil = Credential.StoredPrecision(input.ValidUntil) ?? kept?.ValidUntil;
            CheckValidity(validFrom, validUntil, "validUntil", errors);
            var status = kept?.Status ?? CredentialStatus.Active;
            if (input.Status is not null && !CardholderCodes.TryParse(input.Status, out status))
            {
                errors.Add(OneOf<CredentialStatus>("status", input.Status));
            }

            if (errors.Count > 0)
            {
                return AdminResult<Credential>.Invalid(errors);
            }

            if (reason is null && await RefuseUnrevokingAsync(who, action, existing, status) is { } final)
            {
                return final;
            }

            // A card bound to oneself, one's own card's bounds moved, or someone else's card taken: each gives access.
            if (await RefuseSelfChangeAsync<Credential>(who, action, personId!.Value.Value, cardUid) is { } own)
            {
                return own;
            }

            // A terminated person holds no card that a later reactivation would bring back (every termination revokes
            // theirs, a site file's too): a card is bound to them again once they are active again, an explicit change.
            if (status != CredentialStatus.Revoked && current.People[personId!.Value].Status == PersonStatus.Terminated)
            {
                return AdminResult<Credential>.Conflict(
                    $"'{personId}' is terminated: no card is bound to them but revoked. Set them active first (a rehire is an explicit change), then bind or re-issue the card.");
            }

            // A visitor badge of the pool is the front desk's to bind (check-in: a visitor, the visit's zones and window,
            // the watch list and the document checked). Bound by an operator's token to someone, it would open that
            // person's levels in the hands of whoever holds the badge, a visitor on site included.
            if (who.Token is not null && status != CredentialStatus.Revoked && store.PooledBadgeSite(cardUid!) is { } pool)
            {
                return AdminResult<Credential>.Conflict(
                    $"Card '{cardUid}' is a visitor badge of site {pool}'s pool: the front desk binds it to a visitor at check-in. To bind it to someone, remove it from the pool first (DELETE /badge-pool/{cardUid}: visit badge remove).");
            }

            var after = new Credential(cardUid!, input.Technology!, personId!.Value, validFrom, validUntil, status);
            return await ChangeCredentialAsync(actor, action, existing, after, (at, ct) => store.UpsertCredentialAsync(after, at, actor, ct), reason: reissue);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Activates, suspends or revokes a credential (actions <c>credential.activate</c>, <c>credential.suspend</c>, <c>credential.revoke</c>).</summary>
    /// <param name="reference">Recorded in the audit row's detail (an HR event id); null for none.</param>
    /// <param name="precededBy">
    /// The caller's own change this one is part of: its row is written first, inside this change's flight, and it is
    /// made (in flight from before its row) even when the credential is already in that state or is not found.
    /// </param>
    public async Task<AdminResult<Credential>> SetCredentialStatusAsync(
        AdminActor who, string card, string? status, CancellationToken cancellationToken = default, string? reference = null, PrecedingChange? precededBy = null)
    {
        if (await RefuseSiteLimitedAsync<Credential>(who, CardholderCodes.TryParse(status, out CredentialStatus asked) ? CredentialStatusAction(asked) : null, card) is { } refused)
        {
            return refused;
        }

        var actor = who.Name;
        var errors = new List<FieldError>();
        var cardUid = CheckCard(card, "card", errors);
        if (!CardholderCodes.TryParse(status, out CredentialStatus newStatus))
        {
            errors.Add(OneOf<CredentialStatus>("status", status));
        }

        if (errors.Count > 0)
        {
            return AdminResult<Credential>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            if (!configuration.Cardholders.Credentials.TryGetValue(cardUid!, out var existing))
            {
                return await WithoutChangeAsync(precededBy, AdminResult<Credential>.NotFound($"No credential '{cardUid}'."));
            }

            if (await RefuseUnrevokingAsync(who, CredentialStatusAction(newStatus), existing, newStatus) is { } final)
            {
                return await WithoutChangeAsync(precededBy, final);
            }

            // Suspending or revoking a card of one's own only takes access away.
            if (newStatus == CredentialStatus.Active
                && await RefuseSelfChangeAsync<Credential>(who, CredentialStatusAction(newStatus), existing.Person.Value, existing.CardUid) is { } own)
            {
                return await WithoutChangeAsync(precededBy, own);
            }

            var after = existing with { Status = newStatus };
            return await ChangeCredentialAsync(actor, CredentialStatusAction(newStatus), existing, after, async (at, ct) =>
                Found(await store.SetCredentialStatusAsync(after.CardUid, newStatus, at, actor, ct), "credential", after.CardUid), reference, precededBy);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The refusal to bring a revoked credential back (active or suspended), or null. Revocation is final for a binding:
    /// a card revoked when lost or at a termination must not quietly work again; a re-issue says so, with a reason.
    /// The attempt is recorded as a <c>security</c> row (<see cref="CardholderActions.CredentialReactivate"/>) naming
    /// the change and the status asked for: someone trying to bring such a card back is what an auditor wants to see.
    /// </summary>
    private async Task<AdminResult<Credential>?> RefuseUnrevokingAsync(AdminActor who, string change, Credential? existing, CredentialStatus status)
    {
        if (existing is not { Status: CredentialStatus.Revoked } || status == CredentialStatus.Revoked)
        {
            return null;
        }

        // The card is named in the security row below, not in the service's own log (which carries no card UIDs).
        logger.LogWarning("{Actor} asked to make a revoked credential {Status}; refused (a re-issue is needed; see the credential.reactivate.refused row).", who.Name, status.ToCode());
        var row = new LogEntry
        {
            At = clock.GetCurrentInstant(),
            Kind = LogKinds.Security,
            Actor = who.Name,
            Reason = LogReasons.Refused(CardholderActions.CredentialReactivate),
            PersonId = existing.Person.Value,
            Card = existing.CardUid,
            Detail = AdminJson.Serialize(new
            {
                change,
                status = status.ToCode(),
                role = who.Token is { } token ? ApiTokens.RoleCode(token.Role) : null,
                person = who.Token?.PersonId,
            }),
        };
        await AdminApi.RecordRefusalAsync(appendLog, row, logger);
        return AdminResult<Credential>.Conflict(
            $"Credential '{existing.CardUid}' is revoked, and a revocation is final. To bind the card again, re-issue it with a reason (POST /credentials/{existing.CardUid}/reissue, or credential reissue).");
    }

    // ---- access levels -----------------------------------------------------------------------------

    /// <summary>Creates or replaces an access level (action <c>access_level.upsert</c>). Its zones and schedule must exist in the topology.</summary>
    public async Task<AdminResult<AccessLevel>> UpsertAccessLevelAsync(AdminActor who, string id, AccessLevelInput input, CancellationToken cancellationToken = default)
    {
        if (await RefuseSiteLimitedAsync<AccessLevel>(who, CardholderActions.AccessLevelUpsert, id) is { } refused)
        {
            return refused;
        }

        var actor = who.Name;
        ArgumentNullException.ThrowIfNull(input);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var snapshot = configuration.Current;
            var errors = new List<FieldError>();
            var levelId = CheckId(id, "id", errors);
            var name = CheckName(input.Name, "name", errors);
            var zones = ImmutableHashSet.CreateBuilder<ZoneId>();
            if (input.Zones is null)
            {
                errors.Add(new FieldError("zones", "is required (a list of zone ids)"));
            }
            else
            {
                for (var i = 0; i < input.Zones.Count; i++)
                {
                    var field = $"zones[{i}]";
                    if (CheckId(input.Zones[i], field, errors) is { } zone)
                    {
                        if (snapshot.Topology.Zones.ContainsKey(new ZoneId(zone)))
                        {
                            zones.Add(new ZoneId(zone));
                        }
                        else
                        {
                            errors.Add(new FieldError(field, $"no zone '{zone}'"));
                        }
                    }
                }
            }

            var schedule = CheckId(input.Schedule, "schedule", errors);
            if (schedule is not null)
            {
                CheckSchedule(snapshot.Topology, new ScheduleId(schedule), zones, "schedule", errors);
            }

            if (input.Escort == true && input.EscortedOnly == true)
            {
                errors.Add(new FieldError("escortedOnly", "a level cannot be both escort and escortedOnly: an escort needs unescorted access"));
            }

            if (errors.Count > 0)
            {
                return AdminResult<AccessLevel>.Invalid(errors);
            }

            var after = new AccessLevel(new AccessLevelId(levelId!), name!, zones.ToImmutable(), new ScheduleId(schedule!), input.Escort ?? false, input.EscortedOnly ?? false);
            snapshot.Cardholders.AccessLevels.TryGetValue(after.Id, out var existing);

            // A level the operator's own person holds: its zones and schedule are their own access.
            if (who.Token is { PersonId: { } own } && snapshot.Cardholders.People.TryGetValue(new PersonId(own), out var self) && self.AccessLevels.Contains(after.Id)
                && await RefuseSelfChangeAsync<AccessLevel>(who, CardholderActions.AccessLevelUpsert, own, level: after.Id.Value) is { } held)
            {
                return held;
            }
            return await ChangeAccessLevelAsync(actor, existing, after, (at, ct) => store.UpsertAccessLevelAsync(after, at, actor, ct));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Deletes an access level (action <c>access_level.delete</c>). A level someone still holds is a conflict: remove it from them first.</summary>
    public async Task<AdminResult<AccessLevel>> DeleteAccessLevelAsync(AdminActor who, string id, CancellationToken cancellationToken = default)
    {
        if (await RefuseSiteLimitedAsync<AccessLevel>(who, CardholderActions.AccessLevelDelete, id) is { } refused)
        {
            return refused;
        }

        var actor = who.Name;
        var errors = new List<FieldError>();
        var levelId = CheckId(id, "id", errors) is { } valid ? new AccessLevelId(valid) : default;
        if (errors.Count > 0)
        {
            return AdminResult<AccessLevel>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var current = configuration.Cardholders;
            if (!current.AccessLevels.TryGetValue(levelId, out var existing))
            {
                return AdminResult<AccessLevel>.NotFound($"No access level '{id}'.");
            }

            var holders = current.People.Values.Where(p => p.AccessLevels.Contains(levelId)).Select(p => p.Id.Value).Order(StringComparer.Ordinal).ToList();
            if (holders.Count > 0)
            {
                return AdminResult<AccessLevel>.Conflict(
                    $"Access level '{id}' is held by {holders.Count} people ({string.Join(", ", holders.Take(5))}{(holders.Count > 5 ? ", ..." : "")}); remove it from them first.");
            }

            return await CommitAsync(
                actor,
                CardholderActions.AccessLevelDelete,
                existing,
                person: null,
                card: null,
                AccessLevelView.From(existing),
                null,
                async (at, ct) => Found(await store.DeleteAccessLevelAsync(levelId, ct), "access level", id),
                c => c.WithoutAccessLevel(levelId));
        }
        finally
        {
            gate.Release();
        }
    }

    // ---- site files --------------------------------------------------------------------------------

    /// <summary>
    /// Upserts the access levels, people and credentials of a loaded site file, with actor <c>site-file:&lt;name&gt;</c>.
    /// Only real differences are written and audited: loading the same file twice records nothing the second time.
    /// The whole definition is validated first (zones and schedules against the current topology,
    /// so set the file's topology before importing); when anything is invalid, nothing is applied.
    /// </summary>
    /// <remarks>
    /// <para>What the site's previous file declared and this one does not (<paramref name="version"/>) is taken away
    /// first, each with its own row naming this file and its SHA-256 (<c>removedFrom</c>): a card is revoked; a person
    /// loses the levels that file gave them and is suspended; an access level is deleted, every holder losing it first
    /// (the API's too: the level is gone). Nothing else is touched: a card an operator bound to someone else since, or
    /// other levels granted through the API. A person the file declares holds its levels and keeps those the previous
    /// file did not give (the API's).</para>
    /// <para>A person or card that no site file declared is taken over only when the loader let it through
    /// (<c>adopt: true</c>, <see cref="SiteFileVersion.AdoptedPeople"/>): its row names the adoption, even when nothing differs.</para>
    /// <para>A person already terminated stays terminated and a credential already revoked stays revoked, whatever the
    /// file says: restarting the service with its site file must not undo a termination (the HR feed's, or an
    /// operator's). A suspension stays too, unless the previous file declared it: the file lifts only its own (an
    /// operator's, the HR feed's or a removal's is lifted through the API). Bringing someone back is an explicit admin change.</para>
    /// <para>A stored person the file terminates gets a <c>person.terminate</c> row; the rest of that termination (cards,
    /// templates, visits) is <c>Hr.Termination.ImportSiteFileAsync</c>'s, which runs this import.</para>
    /// </remarks>
    public async Task<AdminResult<ImportSummary>> ImportSiteDefinitionAsync(
        string siteFileName,
        ImmutableArray<AccessLevel> accessLevels,
        ImmutableArray<Person> people,
        ImmutableArray<Credential> credentials,
        CancellationToken cancellationToken = default,
        SiteFileVersion? version = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(siteFileName);
        var actor = SiteFileActor(siteFileName);
        accessLevels = accessLevels.OrEmpty();
        people = people.OrEmpty();
        credentials = credentials.OrEmpty();
        var previous = version?.Previous;
        var previousPeople = previous?.People.ToDictionary(p => p.Id) ?? [];
        var previousCards = previous?.Credentials.ToDictionary(c => c.CardUid) ?? [];
        await gate.WaitAsync(cancellationToken);
        try
        {
            var snapshot = configuration.Current;
            var errors = ValidateDefinition(snapshot, accessLevels, people, credentials);
            if (errors.Count > 0)
            {
                return AdminResult<ImportSummary>.Invalid(errors);
            }

            var summary = new ImportSummary(0, 0, 0, 0);
            if (version?.Previous is not null)
            {
                var removed = await RemoveUndeclaredAsync(actor, siteFileName, version, accessLevels, people, credentials);
                if (!removed.IsOk)
                {
                    return removed;
                }

                summary = removed.Value!;
            }

            // What differs, planned against the cardholders as they are now (after the removals above), then put in force
            // a batch at a time (CommitImportAsync): a row per change, as if each were made on its own.
            var planned = new List<ImportChange>();
            var unchanged = 0;
            var now = clock.GetCurrentInstant(); // each batch's rows get the time it is committed at
            foreach (var level in accessLevels)
            {
                configuration.Cardholders.AccessLevels.TryGetValue(level.Id, out var existing);
                var before = existing is null ? null : AccessLevelView.From(existing);
                var after = AccessLevelView.From(level);
                if (ViewEquality.Same(before, after))
                {
                    unchanged++;
                    continue;
                }

                planned.Add(new ImportChange(AuditRow(now, actor, CardholderActions.AccessLevelUpsert, null, null, before, after), c => c.With(level)) { Level = level });
            }

            foreach (var filePerson in people)
            {
                configuration.Cardholders.People.TryGetValue(filePerson.Id, out var existing);
                previousPeople.TryGetValue(filePerson.Id, out var declared);
                // Levels the previous file did not give them are the API's: kept.
                var kept = existing?.AccessLevels.Except(declared?.AccessLevels ?? []) ?? [];
                var person = Normalize(filePerson with
                {
                    AccessLevels = [.. filePerson.AccessLevels.Concat(kept)],
                    Status = StatusAfterImport(existing?.Status, filePerson.Status, declared?.Status, PersonStatus.Suspended, PersonStatus.Terminated),
                });
                var adopted = existing is not null && version?.AdoptedPeople.Contains(person.Id) == true ? Adoption(siteFileName, version) : null;
                var before = existing is null ? null : PersonView.From(existing);
                var after = PersonView.From(person);
                if (ViewEquality.Same(before, after) && adopted is null)
                {
                    unchanged++;
                    continue;
                }

                // A stored person the file terminates: their row is a termination's, like every other (Hr.Termination then takes the rest away).
                var action = existing is not null && existing.Status != PersonStatus.Terminated && person.Status == PersonStatus.Terminated
                    ? CardholderActions.PersonTerminate
                    : CardholderActions.PersonUpsert;
                planned.Add(new ImportChange(AuditRow(now, actor, action, person.Id, null, before, after, adopted: adopted), c => c.With(person)) { Person = person });
            }

            foreach (var fileCredential in credentials)
            {
                configuration.Cardholders.Credentials.TryGetValue(fileCredential.CardUid, out var existing);
                previousCards.TryGetValue(fileCredential.CardUid, out var declared);
                var credential = fileCredential with
                {
                    Status = StatusAfterImport(existing?.Status, fileCredential.Status, declared?.Status, CredentialStatus.Suspended, CredentialStatus.Revoked),
                };
                var adopted = existing is not null && version?.AdoptedCards.Contains(credential.CardUid) == true ? Adoption(siteFileName, version) : null;
                var before = existing is null ? null : CredentialView.From(existing);
                var after = CredentialView.From(credential);
                if (ViewEquality.Same(before, after) && adopted is null)
                {
                    unchanged++;
                    continue;
                }

                planned.Add(new ImportChange(
                    AuditRow(now, actor, CardholderActions.CredentialUpsert, credential.Person, credential.CardUid, before, after, adopted: adopted), c => c.With(credential))
                {
                    Credential = credential,
                });
            }

            summary = summary with { Unchanged = summary.Unchanged + unchanged };
            foreach (var batch in planned.Chunk(ImportBatchSize))
            {
                var committed = await CommitImportAsync(actor, batch);
                if (!committed.IsOk)
                {
                    return committed.Cast<ImportSummary>();
                }

                summary = summary with
                {
                    AccessLevelsChanged = summary.AccessLevelsChanged + batch.Count(c => c.Level is not null),
                    PeopleChanged = summary.PeopleChanged + batch.Count(c => c.Person is not null),
                    CredentialsChanged = summary.CredentialsChanged + batch.Count(c => c.Credential is not null),
                };
            }

            return AdminResult<ImportSummary>.Ok(summary, summary.Changed > 0);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The actor of the rows of a site file's import (and of the terminations it makes): <c>site-file:NAME</c>.</summary>
    public static string SiteFileActor(string siteFileName) => "site-file:" + siteFileName;

    /// <summary>
    /// What the row of an adoption names (<c>adopted</c>): the file that takes over a person or card no site file declared,
    /// and who loaded it. The row's <c>before</c> is the record as an operator left it.
    /// </summary>
    private static object Adoption(string siteFileName, SiteFileVersion version) =>
        new { file = siteFileName, sha256 = version.Sha256, loadedBy = version.LoadedBy };

    /// <summary>
    /// The status a site file's import leaves: an end (terminated, revoked) stays; a suspension stays unless the
    /// previous file declared it (<paramref name="previouslyDeclared"/>), which makes it the file's own to lift.
    /// </summary>
    private static TStatus StatusAfterImport<TStatus>(TStatus? current, TStatus declared, TStatus? previouslyDeclared, TStatus suspended, TStatus ended)
        where TStatus : struct, Enum =>
        current is { } now && (now.Equals(ended) || (now.Equals(suspended) && !Equals(previouslyDeclared, suspended) && !declared.Equals(ended)))
            ? now
            : declared;

    /// <summary>
    /// Takes away what the site's previous file declared and this one does not, before anything of this file is applied
    /// (access goes first): each card revoked, each person's levels of that file removed and the person suspended, and
    /// each access level deleted once every holder has lost it; one row each with <c>removedFrom</c>. What an operator
    /// changed since is not the file's: a card bound to someone else stays. Already so: nothing written, so an import that
    /// stopped part-way goes on where it stopped.
    /// </summary>
    private async Task<AdminResult<ImportSummary>> RemoveUndeclaredAsync(
        string actor, string siteFileName, SiteFileVersion version, ImmutableArray<AccessLevel> accessLevels, ImmutableArray<Person> people,
        ImmutableArray<Credential> credentials)
    {
        var removedFrom = new { file = siteFileName, sha256 = version.Sha256 };
        var removed = 0;
        var cards = credentials.Select(c => c.CardUid).ToHashSet(StringComparer.Ordinal);
        foreach (var gone in version.Previous!.Credentials.Where(c => !cards.Contains(c.CardUid)))
        {
            if (configuration.Cardholders.Credentials.TryGetValue(gone.CardUid, out var existing) && existing.Person == gone.Person
                && existing.Status != CredentialStatus.Revoked)
            {
                var after = existing with { Status = CredentialStatus.Revoked };
                var result = await ChangeCredentialAsync(actor, CardholderActions.CredentialRevoke, existing, after, async (at, ct) =>
                    Found(await store.SetCredentialStatusAsync(after.CardUid, after.Status, at, actor, ct), "credential", after.CardUid), removedFrom: removedFrom);
                if (!result.IsOk)
                {
                    return result.Cast<ImportSummary>();
                }

                removed++;
            }
        }

        var declared = people.Select(p => p.Id).ToHashSet();
        foreach (var gone in version.Previous.People.Where(p => !declared.Contains(p.Id)))
        {
            if (!configuration.Cardholders.People.TryGetValue(gone.Id, out var existing))
            {
                continue;
            }

            if (existing.Status == PersonStatus.Active)
            {
                var suspended = existing with { Status = PersonStatus.Suspended };
                var result = await ChangePersonAsync(actor, CardholderActions.PersonSuspend, existing, suspended, async (at, ct) =>
                    Found(await store.SetPersonStatusAsync(suspended.Id, suspended.Status, at, actor, ct), "person", suspended.Id.Value), removedFrom: removedFrom);
                if (!result.IsOk)
                {
                    return result.Cast<ImportSummary>();
                }

                removed++;
                existing = suspended;
            }

            var taken = await TakeAccessLevelsAsync(actor, existing, gone.AccessLevels, removedFrom);
            if (!taken.IsOk)
            {
                return taken.Cast<ImportSummary>();
            }

            removed += taken.Changed ? 1 : 0;
        }

        // A level left out (and named by none of this file's people) gives no access any more, to anyone: every holder
        // loses it, those the API granted it to as well, each in a row of their own, then it is deleted. A level that
        // only hides its zones would still be there for an operator to hand out by mistake.
        var kept = accessLevels.Select(l => l.Id).Concat(people.SelectMany(p => p.AccessLevels.OrEmpty())).ToHashSet();
        foreach (var gone in version.Previous.AccessLevels.Where(l => !kept.Contains(l.Id)))
        {
            if (!configuration.Cardholders.AccessLevels.TryGetValue(gone.Id, out var level))
            {
                continue;
            }

            var holders = configuration.Cardholders.People.Values.Where(p => p.AccessLevels.Contains(gone.Id)).OrderBy(p => p.Id.Value, StringComparer.Ordinal).ToList();
            foreach (var holder in holders)
            {
                var taken = await TakeAccessLevelsAsync(actor, holder, [gone.Id], removedFrom);
                if (!taken.IsOk)
                {
                    return taken.Cast<ImportSummary>();
                }

                removed++;
            }

            var deleted = await CommitAsync(
                actor,
                CardholderActions.AccessLevelDelete,
                level,
                person: null,
                card: null,
                AccessLevelView.From(level),
                null,
                async (at, ct) => Found(await store.DeleteAccessLevelAsync(level.Id, ct), "access level", level.Id.Value),
                c => c.WithoutAccessLevel(level.Id),
                removedFrom: removedFrom);
            if (!deleted.IsOk)
            {
                return deleted.Cast<ImportSummary>();
            }

            removed++;
        }

        return AdminResult<ImportSummary>.Ok(new ImportSummary(0, 0, 0, 0, removed), removed > 0);
    }

    /// <summary>Takes <paramref name="levels"/> away from a person (<c>person.access_levels</c>, with <c>removedFrom</c>); nothing when they hold none of them.</summary>
    private Task<AdminResult<Person>> TakeAccessLevelsAsync(string actor, Person existing, IEnumerable<AccessLevelId> levels, object removedFrom)
    {
        var after = existing with { AccessLevels = existing.AccessLevels.Except(levels).ToImmutableArray() };
        return ChangePersonAsync(actor, CardholderActions.PersonAccessLevels, existing, after, async (at, ct) =>
            Found(await store.SetPersonAccessLevelsAsync(after.Id, after.AccessLevels, at, actor, ct), "person", after.Id.Value), removedFrom: removedFrom);
    }

    private static List<FieldError> ValidateDefinition(
        LiveConfiguration.Snapshot snapshot, ImmutableArray<AccessLevel> accessLevels, ImmutableArray<Person> people, ImmutableArray<Credential> credentials)
    {
        var errors = new List<FieldError>();
        var levelIds = new HashSet<AccessLevelId>();
        for (var i = 0; i < accessLevels.Length; i++)
        {
            var level = accessLevels[i];
            var at = $"accessLevels[{i}]";
            if (CheckId(level.Id.Value, at + ".id", errors) is not null && !levelIds.Add(level.Id))
            {
                errors.Add(new FieldError(at + ".id", $"access level '{level.Id}' appears twice"));
            }

            CheckName(level.Name, at + ".name", errors, mustBeTrimmed: true);
            foreach (var zone in level.Zones.OrderBy(z => z.Value, StringComparer.Ordinal))
            {
                if (!snapshot.Topology.Zones.ContainsKey(zone))
                {
                    errors.Add(new FieldError(at + ".zones", $"no zone '{zone}'"));
                }
            }

            CheckSchedule(snapshot.Topology, level.Schedule, level.Zones, at + ".schedule", errors);

            if (level.Escort && level.EscortedOnly)
            {
                errors.Add(new FieldError(at + ".escortedOnly", "a level cannot be both escort and escortedOnly"));
            }
        }

        var personIds = new HashSet<PersonId>();
        for (var i = 0; i < people.Length; i++)
        {
            var person = people[i];
            var at = $"people[{i}]";
            if (CheckId(person.Id.Value, at + ".id", errors) is not null && !personIds.Add(person.Id))
            {
                errors.Add(new FieldError(at + ".id", $"person '{person.Id}' appears twice"));
            }

            CheckName(person.Name, at + ".name", errors, mustBeTrimmed: true);
            if (!Enum.IsDefined(person.Kind))
            {
                errors.Add(OneOf<PersonKind>(at + ".kind", person.Kind.ToString()));
            }

            if (!Enum.IsDefined(person.Status))
            {
                errors.Add(OneOf<PersonStatus>(at + ".status", person.Status.ToString()));
            }

            var held = person.AccessLevels.OrEmpty();
            for (var j = 0; j < held.Length; j++)
            {
                if (!levelIds.Contains(held[j]) && !snapshot.Cardholders.AccessLevels.ContainsKey(held[j]))
                {
                    errors.Add(new FieldError($"{at}.accessLevels[{j}]", $"no access level '{held[j]}'"));
                }
            }
        }

        var cards = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < credentials.Length; i++)
        {
            var credential = credentials[i];
            var at = $"credentials[{i}]";
            if (credential.CardUid is null || CardUid.Normalize(credential.CardUid) != credential.CardUid)
            {
                errors.Add(new FieldError(at + ".cardUid", "must be a normalized card UID (2 to 32 upper-case hexadecimal digits)"));
            }
            else if (!cards.Add(credential.CardUid))
            {
                errors.Add(new FieldError(at + ".cardUid", $"card '{credential.CardUid}' appears twice"));
            }

            if (!CardUid.IsTechnologyToken(credential.Technology))
            {
                errors.Add(new FieldError(at + ".technology", "must be 1 to 32 characters of a-z 0-9 and '-'"));
            }

            if (!personIds.Contains(credential.Person) && !snapshot.Cardholders.People.ContainsKey(credential.Person))
            {
                errors.Add(new FieldError(at + ".person", $"no person '{credential.Person}'"));
            }

            if (!Enum.IsDefined(credential.Status))
            {
                errors.Add(OneOf<CredentialStatus>(at + ".status", credential.Status.ToString()));
            }

            CheckValidity(credential.ValidFrom, credential.ValidUntil, at + ".validUntil", errors);
        }

        return errors;
    }

    // ---- the change itself -------------------------------------------------------------------------

    /// <param name="adopted">The site file that takes this person over (<see cref="Adoption"/>): recorded even when nothing differs.</param>
    private Task<AdminResult<Person>> ChangePersonAsync(
        string actor, string action, Person? existing, Person after, Func<Instant, CancellationToken, Task> write, string? reference = null, object? removedFrom = null,
        object? adopted = null)
    {
        var before = existing is null ? null : PersonView.From(existing);
        var afterView = PersonView.From(after);
        return ViewEquality.Same(before, afterView) && adopted is null
            ? Task.FromResult(AdminResult<Person>.Ok(existing!, changed: false))
            : CommitAsync(actor, action, after, after.Id, null, before, afterView, write, c => c.With(after), reference, removedFrom: removedFrom, adopted: adopted);
    }

    /// <param name="adopted">The site file that takes this card over (<see cref="Adoption"/>): recorded even when nothing differs.</param>
    private Task<AdminResult<Credential>> ChangeCredentialAsync(
        string actor, string action, Credential? existing, Credential after, Func<Instant, CancellationToken, Task> write, string? reference = null,
        PrecedingChange? precededBy = null, object? removedFrom = null, object? adopted = null, string? reason = null)
    {
        var before = existing is null ? null : CredentialView.From(existing);
        var afterView = CredentialView.From(after);
        return ViewEquality.Same(before, afterView) && adopted is null
            ? WithoutChangeAsync(precededBy, AdminResult<Credential>.Ok(existing!, changed: false))
            : CommitAsync(actor, action, after, after.Person, after.CardUid, before, afterView, write, c => c.With(after), reference, precededBy, removedFrom, adopted, reason);
    }

    private Task<AdminResult<AccessLevel>> ChangeAccessLevelAsync(string actor, AccessLevel? existing, AccessLevel after, Func<Instant, CancellationToken, Task> write)
    {
        var before = existing is null ? null : AccessLevelView.From(existing);
        var afterView = AccessLevelView.From(after);
        return ViewEquality.Same(before, afterView)
            ? Task.FromResult(AdminResult<AccessLevel>.Ok(existing!, changed: false))
            : CommitAsync(actor, CardholderActions.AccessLevelUpsert, after, null, null, before, afterView, write, c => c.With(after));
    }

    /// <summary>Audit row, then database, then memory; see the class remarks for why in this order.</summary>
    /// <param name="removedFrom">The site file whose import takes this away (it is no longer declared there); null for other changes.</param>
    /// <param name="adopted">The site file that takes this record over from the admin API (<see cref="Adoption"/>); null for other changes.</param>
    /// <param name="reason">Why a card is re-issued (<c>credential.reissue</c>); null for other changes.</param>
    private async Task<AdminResult<T>> CommitAsync<T>(
        string actor,
        string action,
        T after,
        PersonId? person,
        string? card,
        object? beforeView,
        object? afterView,
        Func<Instant, CancellationToken, Task> write,
        Func<Cardholders, Cardholders> apply,
        string? reference = null,
        PrecedingChange? precededBy = null,
        object? removedFrom = null,
        object? adopted = null,
        string? reason = null)
    {
        var at = clock.GetCurrentInstant();
        var entry = AuditRow(at, actor, action, person, card, beforeView, afterView, reference, removedFrom, adopted, reason);

        // In flight from here (with what a preceding change takes away, from before its row): until it is in force, a
        // swipe is granted only if it is granted both with and without it.
        using var change = await configuration.BeginChangeAsync(precededBy is null ? apply : c => precededBy.Restrict(apply(c)));
        if (precededBy is not null && !await precededBy.RecordAsync())
        {
            return AdminResult<T>.Unavailable("The audit log is unavailable; nothing was changed.");
        }

        LogEntry audited;
        try
        {
            audited = await appendLog(entry, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "The audit row of an admin change ({Action} by {Actor}) could not be written; nothing was changed.", action, actor);
            if (precededBy is not null)
            {
                await precededBy.FailedAsync(ex);
            }

            return AdminResult<T>.Unavailable("The audit log is unavailable; nothing was changed.");
        }

        try
        {
            await write(at, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "An admin change ({Action} by {Actor}) could not be written to the database after its audit row {Seq}; nothing was changed.", action, actor, audited.Seq);
            await RecordFailureAsync(entry, audited.Seq, ex);
            if (precededBy is not null)
            {
                await precededBy.FailedAsync(ex);
            }

            return AdminResult<T>.Unavailable("The cardholder database could not be written; nothing was changed.");
        }

        change.Complete();
        return AdminResult<T>.Ok(after, changed: true);
    }

    /// <summary>The audit row of a change (kind <c>admin</c>).</summary>
    private static LogEntry AuditRow(
        Instant at,
        string actor, string action, PersonId? person, string? card, object? beforeView, object? afterView, string? reference = null, object? removedFrom = null,
        object? adopted = null, string? reason = null) => new()
    {
        At = at,
        Kind = LogKinds.Admin,
        Actor = actor,
        Reason = action,
        PersonId = person?.Value,
        Card = card,
        Detail = AdminJson.Serialize(new { before = beforeView, after = afterView, reference, removedFrom, adopted, reason }),
    };

    /// <summary>
    /// Puts a batch of a site file's import in force as <see cref="CommitAsync{T}"/> does one change: in flight together
    /// (a swipe meanwhile is granted only if it is granted both with and without the whole batch), their rows appended
    /// in one commit, their records stored in one transaction, one snapshot swap. A row per change, as made one by one;
    /// one commit, one transaction and one swap per batch instead of per change, which is what makes a file of
    /// 200,000 people importable at start. If the log or the database fails, none of the batch is in force (earlier
    /// batches are, each with its rows); the site file is then not noted as imported, and the next start imports it again,
    /// going on with what still differs.
    /// </summary>
    private async Task<AdminResult<ImportSummary>> CommitImportAsync(string actor, IReadOnlyList<ImportChange> batch)
    {
        var at = clock.GetCurrentInstant();
        var rows = batch.Select(c => c.Row with { At = at }).ToList();
        using var change = await configuration.BeginChangeAsync(c => batch.Aggregate(c, (all, one) => one.Apply(all)));
        IReadOnlyList<LogEntry> audited;
        try
        {
            audited = await AppendAllAsync(rows);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "The audit rows of {Count} changes of a site file's import ({Actor}) could not be written; none of them was made.", rows.Count, actor);
            return AdminResult<ImportSummary>.Unavailable("The audit log is unavailable; the import stopped and what it had not put in force was not changed.");
        }

        try
        {
            await store.UpsertAllAsync(
                [.. batch.Select(c => c.Level).OfType<AccessLevel>()],
                [.. batch.Select(c => c.Person).OfType<Person>()],
                [.. batch.Select(c => c.Credential).OfType<Credential>()],
                at,
                actor,
                CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "{Count} changes of a site file's import ({Actor}) could not be written to the database after their audit rows (from {Seq}); none of them was made.",
                rows.Count, actor, audited[0].Seq);
            for (var i = 0; i < rows.Count; i++)
            {
                await RecordFailureAsync(rows[i], audited[i].Seq, ex);
            }

            return AdminResult<ImportSummary>.Unavailable("The cardholder database could not be written; the import stopped and what it had not put in force was not changed.");
        }

        change.Complete();
        return AdminResult<ImportSummary>.Ok(new ImportSummary(0, 0, 0, 0), changed: true);
    }

    /// <summary>
    /// Rows in one commit, through <c>appendLogAll</c>; without it one by one, and then a row that failed after others
    /// were durable leaves those recorded as failed (<c>&lt;action&gt;.failed</c>), since their changes are not made.
    /// </summary>
    private async Task<IReadOnlyList<LogEntry>> AppendAllAsync(IReadOnlyList<LogEntry> rows)
    {
        if (appendLogAll is not null)
        {
            return await appendLogAll(rows, CancellationToken.None);
        }

        var audited = new List<LogEntry>(rows.Count);
        try
        {
            foreach (var row in rows)
            {
                audited.Add(await appendLog(row, CancellationToken.None));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            for (var i = 0; i < audited.Count; i++)
            {
                await RecordFailureAsync(rows[i], audited[i].Seq, ex);
            }

            throw;
        }

        return audited;
    }

    /// <summary>One change of a site file's import: its row (stamped again when committed), how it changes the cardholders, and its record.</summary>
    private sealed record ImportChange(LogEntry Row, Func<Cardholders, Cardholders> Apply)
    {
        public AccessLevel? Level { get; init; }

        public Person? Person { get; init; }

        public Credential? Credential { get; init; }
    }

    /// <summary>
    /// Nothing to change (already so, or not found): a preceding change is still made, in flight from before its row, and
    /// <paramref name="result"/> answered once it is in force.
    /// </summary>
    private async Task<AdminResult<T>> WithoutChangeAsync<T>(PrecedingChange? precededBy, AdminResult<T> result)
    {
        if (precededBy is null)
        {
            return result;
        }

        using var change = await configuration.BeginChangeAsync(precededBy.Restrict);
        if (!await precededBy.RecordAsync())
        {
            return AdminResult<T>.Unavailable("The audit log is unavailable; nothing was changed.");
        }

        change.Complete();
        return result;
    }

    private async Task RecordFailureAsync(LogEntry entry, long auditSeq, Exception failure)
    {
        try
        {
            await appendLog(
                entry with
                {
                    At = clock.GetCurrentInstant(),
                    Reason = LogReasons.Failed(entry.Reason!),
                    Detail = AdminJson.Serialize(new { failedSeq = auditSeq, error = failure.GetType().Name }),
                },
                CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogCritical(ex, "Audit row {Seq} records an admin change that was not applied, and the failure could not be recorded.", auditSeq);
        }
    }

    // ---- the site limit ----------------------------------------------------------------------------

    /// <summary>
    /// The refusal of a token limited to one site (<see cref="SiteLimit"/>), or null for an actor of every site.
    /// Cardholders are global (a person's levels may name zones of any site), so such a token changes none of them,
    /// whatever it asks: checked before anything is read, the refusal tells nothing about them. The row is the API's
    /// (<c>cardholders.refused</c>, no site), naming the change asked for and its target.
    /// </summary>
    private async Task<AdminResult<T>?> RefuseSiteLimitedAsync<T>(AdminActor who, string? change, string? target)
    {
        ArgumentNullException.ThrowIfNull(who);
        if (who.Token is not { Site: not null } limited)
        {
            return null;
        }

        var row = SiteLimit.Row(limited, EverySiteActions.Cardholders, clock.GetCurrentInstant(), null, new { change, target });
        await AdminApi.RecordRefusalAsync(appendLog, row, logger);
        return AdminResult<T>.NotForThisSite(SiteLimit.Message(limited));
    }

    /// <summary>
    /// The refusal of a change that would give the operator's own person access (segregation of duties), or null when
    /// <paramref name="person"/> is not the person the token names (or no token asks: the HR feed, a site file, the
    /// visitor desk's per-visit cardholders). The caller decides which changes give access; this records the
    /// <c>security</c> row <see cref="CardholderActions.SelfChange"/> naming the change asked for.
    /// </summary>
    private async Task<AdminResult<T>?> RefuseSelfChangeAsync<T>(AdminActor who, string change, string? person, string? card = null, string? level = null)
    {
        if (who.Token is not { PersonId: { } own } token || !string.Equals(own, person, StringComparison.Ordinal))
        {
            return null;
        }

        logger.LogWarning("{Actor} asked for {Change} of their own person {Person}; refused (segregation of duties, see the {Reason} row).", who.Name, change, own, CardholderActions.SelfChange);
        var row = new LogEntry
        {
            At = clock.GetCurrentInstant(),
            Kind = LogKinds.Security,
            Actor = who.Name,
            Reason = CardholderActions.SelfChange,
            PersonId = own,
            Card = card,
            Detail = AdminJson.Serialize(new { code = SegregationOfDuties, change, level, role = ApiTokens.RoleCode(token.Role), person = own }),
        };
        await AdminApi.RecordRefusalAsync(appendLog, row, logger);
        return AdminResult<T>.SegregationOfDuties(
            $"An operator does not give their own person access ({change} for {own}): another administrator makes this change.");
    }

    private static string PersonStatusAction(PersonStatus status) => status switch
    {
        PersonStatus.Active => CardholderActions.PersonActivate,
        PersonStatus.Suspended => CardholderActions.PersonSuspend,
        _ => CardholderActions.PersonTerminate,
    };

    private static string CredentialStatusAction(CredentialStatus status) => status switch
    {
        CredentialStatus.Active => CardholderActions.CredentialActivate,
        CredentialStatus.Suspended => CardholderActions.CredentialSuspend,
        _ => CardholderActions.CredentialRevoke,
    };

    // ---- validation helpers ------------------------------------------------------------------------

    private static void Found(bool found, string what, string id)
    {
        if (!found)
        {
            // Memory said it exists; the database disagrees. A bug or an outside edit: refuse rather than guess.
            throw new InvalidOperationException($"The {what} '{id}' is in memory but not in the database.");
        }
    }

    /// <summary>Access levels in a stable order without duplicates: what <see cref="CardholderStore.LoadAll"/> gives back.</summary>
    private static Person Normalize(Person person) =>
        person with { AccessLevels = [.. person.AccessLevels.OrEmpty().Distinct().OrderBy(l => l.Value, StringComparer.Ordinal)] };

    /// <summary>
    /// A level's schedule is read at the site of the door being decided, and each site has its own schedules: every
    /// site of the level's zones must have one of that id (or it is <c>always</c>), or the level would never apply there.
    /// </summary>
    private static void CheckSchedule(SiteTopology topology, ScheduleId schedule, IEnumerable<ZoneId> zones, string field, List<FieldError> errors)
    {
        var sites = zones.Where(topology.Zones.ContainsKey).Select(z => topology.Zones[z].Site).Distinct().OrderBy(s => s.Value, StringComparer.Ordinal).ToList();
        if (sites.Count == 0 && schedule != ScheduleId.Always && !topology.Schedules.Keys.Any(k => k.Id == schedule))
        {
            errors.Add(new FieldError(field, $"no schedule '{schedule}'"));
        }

        foreach (var site in sites.Where(s => topology.ScheduleOf(s, schedule) is null))
        {
            errors.Add(new FieldError(field, $"no schedule '{schedule}' at site '{site}'"));
        }
    }

    private static string? CheckId(string? id, string field, List<FieldError> errors)
    {
        if (id is not null && WireFormat.IsValidId(id))
        {
            return id;
        }

        errors.Add(new FieldError(field, id is null ? "is required" : "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -"));
        return null;
    }

    private static string? CheckName(string? name, string field, List<FieldError> errors, bool mustBeTrimmed = false)
    {
        var trimmed = name?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            errors.Add(new FieldError(field, "is required"));
            return null;
        }

        if (trimmed.Length > MaxNameLength || (mustBeTrimmed && trimmed.Length != name!.Length))
        {
            errors.Add(new FieldError(field, $"must be at most {MaxNameLength} characters without surrounding spaces"));
            return null;
        }

        if (ReadableText.Problem(trimmed) is { } problem)
        {
            errors.Add(new FieldError(field, problem));
            return null;
        }

        return trimmed;
    }

    private static string? CheckCard(string? card, string field, List<FieldError> errors)
    {
        var normalized = CardUid.Normalize(card);
        if (normalized is null)
        {
            errors.Add(new FieldError(field, "must be 2 to 32 hexadecimal digits (':', '-' and spaces are ignored)"));
        }

        return normalized;
    }

    private static void CheckValidity(Instant? from, Instant? until, string field, List<FieldError> errors)
    {
        if (from is { } f && until is { } u && f >= u)
        {
            errors.Add(new FieldError(field, "must be after validFrom"));
        }
    }

    private static ImmutableArray<AccessLevelId> CheckLevels(IReadOnlyList<string?> ids, string field, Func<AccessLevelId, bool> exists, List<FieldError> errors)
    {
        var levels = ImmutableArray.CreateBuilder<AccessLevelId>(ids.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            var at = $"{field}[{i}]";
            if (CheckId(ids[i], at, errors) is { } valid)
            {
                var level = new AccessLevelId(valid);
                if (exists(level))
                {
                    levels.Add(level);
                }
                else
                {
                    errors.Add(new FieldError(at, $"no access level '{level}'"));
                }
            }
        }

        return levels.ToImmutable();
    }

    private static FieldError OneOf<T>(string field, string? value)
        where T : struct, Enum =>
        new(field, $"{(value is null ? "is required" : "is not valid")}: one of {string.Join(", ", CardholderCodes.All<T>())}");
}

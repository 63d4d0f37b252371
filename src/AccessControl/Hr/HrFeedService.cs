using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Supervision;
using AccessControl.Visitors;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Hr;

/// <summary>
/// Applies the HR feed: a person who leaves loses access at once (NIST PS-4, PCI DSS 9.2, ISO 27001 A.7.3); a person
/// who moves gets exactly their new access levels (PS-5). Whoever sends the event (the signed HTTP endpoint, the CSV
/// import through it, or the periodic job for a future-dated one), it is applied here.
/// </summary>
/// <remarks>
/// <para>A termination is one audited sequence, each step through the service that owns it and each with its own
/// <c>admin</c> row (actor <c>hr-feed</c>, the HR event id in the detail), in this order: the event itself
/// (<c>hr.event</c>); the steps of <see cref="Termination"/>, the same as an operator's termination: the person terminated
/// (<c>person.terminate</c>), which alone denies every card of theirs at the very next swipe and, in the same database
/// statement, revokes their operator tokens (migration 0020); each credential revoked (<c>credential.revoke</c>); every
/// fingerprint template revoked (<c>fingerprint.revoke</c>); their visits cancelled, or them removed as escort, or them
/// checked out as a visitor (<c>visit.cancel</c>, <c>visit.escort_remove</c>, <c>visit.check_out</c>); then the operator
/// tokens the termination revoked, named
/// (<c>operator_token.revoke</c>); and last <c>hr.applied</c> with the summary. Every step is audit row, then database,
/// then live snapshot, so nothing is live that is not durable and audited, whether or not the broker is up.</para>
/// <para>If a step fails (audit log or database unavailable), the steps done stay done (each is a revocation: the safe
/// direction), the event stays <c>scheduled</c>, and the caller gets <see cref="HrOutcomes.Unavailable"/>; resending it or
/// the next run of <see cref="ApplyDueAsync"/> does the rest (a step already done changes and records nothing). The
/// tokens' row is the one step whose change comes before it (with the status): the event notes when that row is
/// written (<see cref="HrEventStore.OperatorsLoggedSeq"/>), so a retry writes it if missing, and once.</para>
/// <para>Events are idempotent by id: a resend of the same event answers <see cref="HrOutcomes.AlreadyApplied"/> and
/// records nothing; the same id with other content is a <see cref="HrOutcomes.Conflict"/>. Calls are serialized.</para>
/// </remarks>
public sealed class HrFeedService
{
    public const string Actor = "hr-feed";

    /// <summary>The feed changes cardholders of every site, as the HR system's word on who works here.</summary>
    private static readonly AdminActor AdminAs = AdminActor.EverySite(Actor);
    public const int MaxEventsPerBatch = 1000;

    /// <summary>How often due future-dated events are looked for.</summary>
    public static readonly TimeSpan DueCheckInterval = TimeSpan.FromMinutes(1);

    private readonly HrEventStore store;
    private readonly AdminService admin;
    private readonly Termination termination;
    private readonly LiveConfiguration configuration;
    private readonly Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog;
    private readonly EntryLogQuery log;
    private readonly Func<IReadOnlyList<Alarm>, CancellationToken, Task> raise;
    private readonly IClock clock;
    private readonly ILogger<HrFeedService> logger;
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <param name="appendLog">Appends a row to the entry log and completes when it is durable (<c>EventPipeline.AppendAsync</c>).</param>
    /// <param name="log">Read for the grants a back-dated termination came too late to refuse (<see cref="GrantsAfter"/>).</param>
    /// <param name="raise">Raises alarms: logged durably, then published (<c>EventPipeline.RaiseAsync</c>).</param>
    public HrFeedService(
        HrEventStore store,
        AdminService admin,
        Termination termination,
        LiveConfiguration configuration,
        Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog,
        EntryLogQuery log,
        Func<IReadOnlyList<Alarm>, CancellationToken, Task> raise,
        IClock clock,
        ILogger<HrFeedService> logger)
    {
        this.log = log;
        this.raise = raise;
        this.store = store;
        this.admin = admin;
        this.termination = termination;
        this.configuration = configuration;
        this.appendLog = appendLog;
        this.clock = clock;
        this.logger = logger;
    }

    /// <summary>Receives a batch of events and applies each that is due, in order; one result per event.</summary>
    public async Task<IReadOnlyList<HrEventResult>> SubmitAsync(IReadOnlyList<HrEventInput?> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var results = new List<HrEventResult>(events.Count);
            foreach (var input in events)
            {
                results.Add(await SubmitOneAsync(input));
            }

            return results;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Applies every scheduled event whose time has come (future-dated terminations and transfers, and events a failure
    /// left half done). The service runs it every <see cref="DueCheckInterval"/>.
    /// </summary>
    public async Task<IReadOnlyList<HrEventResult>> ApplyDueAsync(CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            var results = new List<HrEventResult>();
            foreach (var due in store.Due(clock.GetCurrentInstant()))
            {
                results.Add(await ApplyAsync(due));
            }

            return results;
        }
        finally
        {
            gate.Release();
        }
    }

    // ---- receiving ---------------------------------------------------------------------------------

    private async Task<HrEventResult> SubmitOneAsync(HrEventInput? input)
    {
        var now = clock.GetCurrentInstant();
        var (record, errors) = Validate(input, now);
        if (record is null)
        {
            return await RejectAsync(input?.EventId, input?.PersonId, HrOutcomes.Invalid, "The event is invalid.", errors);
        }

        if (store.Get(record.EventId) is { } existing)
        {
            if (existing.ContentSha256 != record.ContentSha256)
            {
                return await RejectAsync(record.EventId, record.PersonId, HrOutcomes.Conflict,
                    $"Event id '{record.EventId}' was used before for another event (received {existing.ReceivedAt}); the first one stands.", null);
            }

            return existing.Status switch
            {
                HrEventStore.AppliedStatus => Result(existing, HrOutcomes.AlreadyApplied, $"Applied at {existing.AppliedAt}; nothing was changed."),
                HrEventStore.FailedStatus => Result(existing, HrOutcomes.Failed, existing.Result),
                _ when existing.EffectiveAt > now => Result(existing, HrOutcomes.Scheduled, $"Will be applied at {existing.EffectiveAt}."),
                _ => await ApplyAsync(existing),
            };
        }

        if (!configuration.Cardholders.People.TryGetValue(new PersonId(record.PersonId), out var person))
        {
            return await RejectAsync(record.EventId, record.PersonId, HrOutcomes.UnknownPerson, $"No person '{record.PersonId}'; nothing was recorded.", null);
        }

        if (record.Type == HrEventTypes.Transfer && person.Status == PersonStatus.Terminated)
        {
            return await RejectAsync(record.EventId, record.PersonId, HrOutcomes.Invalid, "The event is invalid.",
                [new FieldError("personId", "is terminated: a transfer does not give access back (reactivate them through the admin API first)")]);
        }

        var audited = await AuditAsync(HrActions.Event, record.PersonId, new
        {
            eventId = record.EventId,
            type = record.Type,
            effectiveAt = record.EffectiveAt,
            accessLevels = record.AccessLevels,
            scheduled = record.EffectiveAt > now,
        });
        if (audited is null)
        {
            return Result(record, HrOutcomes.Unavailable, "The audit log is unavailable; nothing was changed. Send the event again.");
        }

        try
        {
            if (!store.Insert(record))
            {
                throw new InvalidOperationException($"HR event {record.EventId} was recorded meanwhile.");
            }
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            logger.LogError(ex, "HR event {EventId} could not be recorded after its audit row {Seq}.", record.EventId, audited.Seq);
            await FailedRowAsync(audited, ex);
            return Result(record, HrOutcomes.Unavailable, "The HR event could not be recorded; nothing was changed. Send the event again.");
        }

        // In force from its instant, to the swipe: whenever (and however often) applying it is tried.
        RefreshScheduled(record);
        return record.EffectiveAt > now
            ? Result(record, HrOutcomes.Scheduled, $"Will be applied at {record.EffectiveAt}.")
            : await ApplyAsync(record);
    }

    private (HrEventRecord? Record, List<FieldError> Errors) Validate(HrEventInput? input, Instant now)
    {
        var errors = new List<FieldError>();
        if (input is null)
        {
            errors.Add(new FieldError("event", "is required"));
            return (null, errors);
        }

        var eventId = CheckId(input.EventId, "eventId", errors);
        var personId = CheckId(input.PersonId, "personId", errors);
        if (input.Type is not (HrEventTypes.Termination or HrEventTypes.Transfer))
        {
            errors.Add(new FieldError("type", $"{(input.Type is null ? "is required" : "is not valid")}: one of {HrEventTypes.Termination}, {HrEventTypes.Transfer}"));
        }

        Instant? effectiveAt = now;
        if (!string.IsNullOrEmpty(input.EffectiveAt))
        {
            effectiveAt = ParseInstant(input.EffectiveAt);
            if (effectiveAt is null)
            {
                errors.Add(new FieldError("effectiveAt", "must be an RFC 3339 date and time with an offset, such as 2026-12-31T17:00:00+01:00"));
            }
        }

        // Kept in whole milliseconds, as the store keeps it (cut, so never later than asked): the first answer, the
        // rows and every later answer for the event then give the HR system the same instant.
        effectiveAt = Credential.StoredPrecision(effectiveAt);

        ImmutableArray<string>? levels = null;
        if (input.Type == HrEventTypes.Termination && input.AccessLevels is { Count: > 0 })
        {
            errors.Add(new FieldError("accessLevels", "is only for a transfer (a termination removes all access)"));
        }
        else if (input.Type == HrEventTypes.Transfer)
        {
            if (input.AccessLevels is null)
            {
                errors.Add(new FieldError("accessLevels", "is required for a transfer: the new set of access levels (may be empty)"));
            }
            else
            {
                var known = configuration.Cardholders.AccessLevels;
                var builder = ImmutableArray.CreateBuilder<string>();
                for (var i = 0; i < input.AccessLevels.Count; i++)
                {
                    if (CheckId(input.AccessLevels[i], $"accessLevels[{i}]", errors) is { } level)
                    {
                        if (!known.ContainsKey(new AccessLevelId(level)))
                        {
                            errors.Add(new FieldError($"accessLevels[{i}]", $"no access level '{level}'"));
                        }

                        builder.Add(level);
                    }
                }

                levels = [.. builder.Distinct().Order(StringComparer.Ordinal)];
            }
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        // The content as sent (an omitted time stays omitted), so a resend hashes the same at any later time.
        var canonical = string.Join("\n", input.Type, personId, string.IsNullOrEmpty(input.EffectiveAt) ? "" : InstantPattern.ExtendedIso.Format(effectiveAt!.Value),
            levels is { } l ? string.Join(",", l) : "-");
        var sha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
        return (new HrEventRecord(eventId!, input.Type!, personId!, effectiveAt!.Value, levels, sha, now, HrEventStore.Scheduled, null, null), errors);
    }

    /// <summary>RFC 3339 (an offset or Z is required: an HR time without one would be read in some zone by guess).</summary>
    public static Instant? ParseInstant(string text)
    {
        var parsed = OffsetDateTimePattern.Rfc3339.Parse(text);
        return parsed.Success ? parsed.Value.ToInstant() : null;
    }

    // ---- applying ----------------------------------------------------------------------------------

    /// <summary>Applies the event, then sets what is still scheduled for the person (<see cref="RefreshScheduled"/>).</summary>
    private async Task<HrEventResult> ApplyAsync(HrEventRecord record)
    {
        var result = await ApplyOnceAsync(record);
        RefreshScheduled(record);
        return result;
    }

    /// <summary>
    /// Puts what is still scheduled for the person into the live cardholders, or takes it out when nothing is: their
    /// earliest termination (<see cref="Cardholders.Departures"/>: the doors refuse them from its instant) or transfer
    /// (<see cref="Cardholders.Transfers"/>: decided with its levels from its instant), whether or not a job has applied
    /// it yet (it may be a minute away, or failing for want of the audit log).
    /// </summary>
    private void RefreshScheduled(HrEventRecord record)
    {
        var person = new PersonId(record.PersonId);
        if (record.Type == HrEventTypes.Termination)
        {
            var leaves = store.ScheduledTerminationOf(person.Value);
            configuration.UpdateCardholders(c => c.WithDeparture(person, leaves));
        }
        else
        {
            var transfer = store.ScheduledTransferOf(person.Value) is { } t ? TransferOf(t) : null;
            configuration.UpdateCardholders(c => c.WithTransfer(person, transfer));
        }
    }

    private static ScheduledTransfer TransferOf((Instant At, IReadOnlyList<string> Levels) scheduled) =>
        new(scheduled.At, [.. scheduled.Levels.Select(l => new AccessLevelId(l))]);

    /// <summary>
    /// At start-up, before any door is decided: every termination and transfer still scheduled into the live
    /// cardholders (<see cref="Cardholders.Departures"/>, <see cref="Cardholders.Transfers"/>).
    /// </summary>
    public void RestoreScheduled()
    {
        var departures = store.ScheduledTerminations().ToImmutableDictionary(d => new PersonId(d.Key), d => d.Value);
        var transfers = store.ScheduledTransfers().ToImmutableDictionary(d => new PersonId(d.Key), d => TransferOf(d.Value));
        configuration.UpdateCardholders(c => c.WithDepartures(departures).WithTransfers(transfers));
    }

    private async Task<HrEventResult> ApplyOnceAsync(HrEventRecord record)
    {
        var person = new PersonId(record.PersonId);
        if (!configuration.Cardholders.People.TryGetValue(person, out var existing))
        {
            return await FinishFailedAsync(record, $"No person '{record.PersonId}' any more.");
        }

        (HrChanges? Changes, string? Unavailable) applied;
        if (record.Type == HrEventTypes.Termination)
        {
            applied = await TerminateAsync(record.EventId, person);
        }
        else
        {
            if (existing.Status == PersonStatus.Terminated)
            {
                return await FinishFailedAsync(record, $"Person '{record.PersonId}' was terminated before this transfer became due.");
            }

            var levels = await admin.SetPersonAccessLevelsAsync(AdminAs, record.PersonId, [.. record.AccessLevels ?? []], CancellationToken.None, record.EventId);
            if (levels.Outcome is AdminOutcome.Invalid or AdminOutcome.NotFound)
            {
                return await FinishFailedAsync(record, $"{levels.Message} {string.Join("; ", levels.Errors.Select(e => $"{e.Field}: {e.Message}"))}".Trim());
            }

            applied = levels.IsOk ? (Changes(levels.Value!, [], 0, [], null), null) : (null, levels.Message);
        }

        if (applied.Changes is not { } changes)
        {
            return Result(record, HrOutcomes.Unavailable, applied.Unavailable + " What was done stays done; send the event again (or wait for the periodic job) to finish it.");
        }

        var late = record.Type == HrEventTypes.Termination ? GrantsAfter(record) : [];
        changes = changes with { GrantsAfterEffective = late.Sum(a => a.Grants) };

        var audited = await AuditAsync(HrActions.Applied, record.PersonId, new { eventId = record.EventId, type = record.Type, changes });
        if (audited is null)
        {
            return Result(record, HrOutcomes.Unavailable, "The audit log is unavailable. What was done stays done; send the event again to finish it.");
        }

        try
        {
            store.Finish(record.EventId, HrEventStore.AppliedStatus, clock.GetCurrentInstant(), AdminJson.Serialize(changes));
        }
        catch (SqliteException ex)
        {
            logger.LogError(ex, "HR event {EventId} was applied but could not be marked so; it will be applied again (changing nothing).", record.EventId);
            await FailedRowAsync(audited, ex);
            return Result(record, HrOutcomes.Unavailable, "Applied, but not recorded as applied; sending it again changes nothing more.");
        }

        // Raised once the event is recorded as applied: a retry after a failure above raises them, not a second time.
        await RaiseAsync(record, [.. late.Select(a => a.Alarm)]);
        return Result(record, HrOutcomes.Applied, null) with { Changes = changes };
    }

    /// <summary>
    /// A termination that took effect before it reached the service (HR sends on Monday that she left on Friday at 17:00)
    /// came too late to refuse what the person did meanwhile: their grants from its effective time on (by when they
    /// happened: a buffered swipe by its device time) are counted, and each site where there were some raises
    /// <c>access_after_termination</c> naming the person, how many, the first and last, and the command that lists them.
    /// Security learns of it at once, the auditor finds it in the log. A future-dated termination is refused from its
    /// instant (<see cref="Cardholders.Departures"/>), so it finds none. Returns each site's alarm with its count, to be
    /// raised once the event is recorded as applied (<see cref="RaiseAsync"/>).
    /// </summary>
    private List<(Alarm Alarm, int Grants)> GrantsAfter(HrEventRecord record)
    {
        var from = record.EffectiveAt;
        if (from >= record.ReceivedAt)
        {
            return [];
        }

        IReadOnlyList<LogEntry> grants;
        try
        {
            grants = log.Find(new LogFilter
            {
                Kind = LogKinds.Access,
                PersonId = record.PersonId,
                Decision = "grant",
                From = from,
                Time = LogTime.Happened,
                Limit = EntryLogQuery.MaxLimit,
            });
        }
        catch (SqliteException ex)
        {
            logger.LogError(ex, "The grants of {Person} after the termination {EventId} took effect could not be read.", record.PersonId, record.EventId);
            return [];
        }

        var since = InstantPattern.ExtendedIso.Format(from);
        return [.. grants.GroupBy(g => g.SiteId).Select(site =>
        {
            var (first, last, count) = (site.First(), site.Last(), site.Count());
            return (new Alarm(AlarmTypes.AccessAfterTermination, site.Key, first.DoorId, null,
                $"{record.PersonId} was granted {count} time(s) at this site after their termination took effect at {since} (HR event {record.EventId}, " +
                $"received {InstantPattern.ExtendedIso.Format(record.ReceivedAt)}): first at {first.DoorId ?? first.ReaderId} (seq {first.Seq}), last at {last.DoorId ?? last.ReaderId} (seq {last.Seq}); " +
                $"list them: accesscontrol log --person {record.PersonId} --decision grant --from {since} --time happened"), count);
        })];
    }

    private async Task RaiseAsync(HrEventRecord record, IReadOnlyList<Alarm> alarms)
    {
        if (alarms.Count == 0)
        {
            return;
        }

        logger.LogWarning("{Person} was granted after their termination {EventId} took effect: {Alarms} site(s) alarmed.", record.PersonId, record.EventId, alarms.Count);
        try
        {
            await raise(alarms, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "The access_after_termination alarm of {Person} could not be raised.", record.PersonId);
        }
    }

    /// <summary>The termination sequence (see the class remarks). Returns what changed, or why it stopped.</summary>
    private async Task<(HrChanges? Changes, string? Unavailable)> TerminateAsync(string eventId, PersonId person)
    {
        var steps = await termination.TakeAwayAsync(AdminAs, person, eventId, $"HR termination {eventId}");
        if (!steps.Status.IsOk || steps.Unavailable is not null)
        {
            return (null, steps.Unavailable ?? steps.Status.Message);
        }

        var operators = steps.Operators;
        var named = false;
        // On a retry the tokens are revoked already (with the status, above): the row names those this termination
        // revoked, unless an earlier attempt (or a start's sweep, Termination.TokensRevokedWith) wrote it. Only this
        // event's (the termination in force is the feed's, with this event as its reference): a leaver terminated again
        // under another id finds the first termination's tokens, named already.
        if (operators.Count == 0 && termination.TokensRevokedWith(person) is { } earlier && earlier.TerminatedBy == Actor && earlier.Reference == eventId)
        {
            (operators, named) = (earlier.Operators, earlier.Named);
        }

        if (operators.Count > 0 && !named && store.OperatorsLoggedSeq(eventId) is null)
        {
            var audited = await termination.NameRevokedTokensAsync(Actor, person.Value, operators, eventId);
            if (audited is null)
            {
                return (null, "The audit log is unavailable; the operator tokens are revoked (with the termination), but the row naming them was not written.");
            }

            try
            {
                store.OperatorsLogged(eventId, audited.Seq);
            }
            catch (SqliteException ex)
            {
                // The row is true and the termination goes on; only if a later step fails too does a retry write it again.
                logger.LogError(ex, "HR event {EventId}: row {Seq} names the operator tokens revoked, but could not be noted as written.", eventId, audited.Seq);
            }
        }

        var after = configuration.Cardholders.People[person];
        return (Changes(after, steps.CredentialsRevoked, steps.TemplatesRevoked, operators, steps.Visits), null);
    }

    private static HrChanges Changes(Person person, IReadOnlyList<string> credentials, int templates, IReadOnlyList<string> operators, VisitsEnded? visits) => new(
        person.Status.ToCode(),
        [.. person.AccessLevels.Select(l => l.Value)],
        credentials,
        templates,
        operators,
        visits?.Cancelled ?? [],
        visits?.EscortRemoved ?? [],
        visits?.CheckedOut ?? [],
        visits?.InProgress ?? []);

    private async Task<HrEventResult> FinishFailedAsync(HrEventRecord record, string why)
    {
        var audited = await AuditAsync(HrActions.Failed, record.PersonId, new { eventId = record.EventId, type = record.Type, why });
        if (audited is null)
        {
            return Result(record, HrOutcomes.Unavailable, "The audit log is unavailable; nothing was changed.");
        }

        try
        {
            store.Finish(record.EventId, HrEventStore.FailedStatus, clock.GetCurrentInstant(), why);
        }
        catch (SqliteException ex)
        {
            logger.LogError(ex, "HR event {EventId} failed and could not be marked so.", record.EventId);
            await FailedRowAsync(audited, ex);
            return Result(record, HrOutcomes.Unavailable, "The HR event could not be recorded as failed.");
        }

        return Result(record, HrOutcomes.Failed, why);
    }

    // ---- audit -------------------------------------------------------------------------------------

    /// <summary>An event refused before anything was recorded: an <c>hr.rejected</c> row, so HR problems show in the log.</summary>
    private async Task<HrEventResult> RejectAsync(string? eventId, string? personId, string outcome, string message, IReadOnlyList<FieldError>? errors)
    {
        var cleanId = eventId is not null && WireFormat.IsValidId(eventId) ? eventId : null;
        var cleanPerson = personId is not null && WireFormat.IsValidId(personId) ? personId : null;
        await AuditAsync(HrActions.Rejected, cleanPerson, new { eventId = cleanId, outcome, errors = errors?.Select(e => e.Field + ": " + e.Message) });
        return new HrEventResult(cleanId, outcome, cleanPerson, null, message, errors is { Count: > 0 } ? errors : null);
    }

    private static HrEventResult Result(HrEventRecord record, string outcome, string? message) =>
        new(record.EventId, outcome, record.PersonId, record.EffectiveAt, message);

    private async Task<LogEntry?> AuditAsync(string action, string? personId, object detail)
    {
        var entry = new LogEntry
        {
            At = clock.GetCurrentInstant(),
            Kind = LogKinds.Admin,
            Actor = Actor,
            Reason = action,
            PersonId = personId,
            Detail = AdminJson.Serialize(detail),
        };
        try
        {
            return await appendLog(entry, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "The audit row {Action} of the HR feed could not be written.", action);
            return null;
        }
    }

    private async Task FailedRowAsync(LogEntry audited, Exception failure)
    {
        try
        {
            await appendLog(audited with
            {
                Seq = 0,
                At = clock.GetCurrentInstant(),
                Reason = LogReasons.Failed(audited.Reason!),
                Detail = AdminJson.Serialize(new { failedSeq = audited.Seq, error = failure.GetType().Name }),
            }, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogCritical(ex, "Audit row {Seq} records an HR change that was not applied, and the failure could not be recorded.", audited.Seq);
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
}

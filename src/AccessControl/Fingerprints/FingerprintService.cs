using System.Collections.Immutable;
using System.Security.Cryptography;
using AccessControl.Admin;
using AccessControl.Display;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.Fingerprints;

/// <summary>
/// The one place fingerprint templates are enrolled, revoked and re-encrypted (ISO/IEC 24745 renewability and
/// revocability; NIST PE-2 enrollment records), whoever asks (the HTTP API, the CLI through it, HR termination).
/// </summary>
/// <remarks>
/// <para>Same order as <see cref="AdminService"/>: (1) the <c>admin</c> row (<c>fingerprint.enroll</c>,
/// <c>fingerprint.revoke</c>, <c>fingerprint.rekey</c>: actor, time, person, finger, station, template id; never
/// template bytes) is appended to the entry log, (2) the store is written in one transaction, (3) the in-memory
/// encrypted templates and <see cref="Cardholders.FingerprintEnrolled"/> are swapped, so the next card at a two-factor
/// door sees the change. If the audit append fails nothing is written; if the write fails after the row,
/// a <c>&lt;action&gt;.failed</c> row says so and nothing becomes visible. Calls are serialized.</para>
/// <para>A revocation (also the old template of an enrollment with replace) is in flight from before (1) until (3), as
/// an admin change is: its templates are <see cref="FingerprintTemplates.Withhold">withheld</see> meanwhile (not sent
/// to readers, and a finger matched on one opens nothing), so it takes effect no later than its audit row; if it is not
/// recorded (either failure above) they are given back. A new template is live only at (3), no earlier than its row.</para>
/// <para>Plaintext templates exist only in memory: in the request, while being encrypted, and (decrypted on demand)
/// in <see cref="FingerprintTemplates.ActiveTemplates"/>.</para>
/// </remarks>
public sealed class FingerprintService
{
    public const int MaxReasonLength = 200;

    private readonly FingerprintStore store;
    private readonly FingerprintTemplates templates;
    private readonly LiveConfiguration configuration;
    private readonly Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog;
    private readonly FingerprintOptions options;
    private readonly Func<FingerprintKeyring>? reloadKeys;
    private readonly IClock clock;
    private readonly ILogger logger;
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <param name="appendLog">Appends a row to the entry log and completes when it is durable (in the service: <c>EventPipeline.AppendAsync</c>).</param>
    /// <param name="reloadKeys">Reads the key file again (for <see cref="RekeyAsync"/>); null keeps the keyring the templates were loaded with.</param>
    public FingerprintService(
        FingerprintStore store,
        FingerprintTemplates templates,
        LiveConfiguration configuration,
        Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog,
        FingerprintOptions options,
        Func<FingerprintKeyring>? reloadKeys,
        IClock clock,
        ILogger<FingerprintService> logger)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid fingerprint settings: " + string.Join(" ", errors), nameof(options));
        }

        this.store = store;
        this.templates = templates;
        this.configuration = configuration;
        this.appendLog = appendLog;
        this.options = options;
        this.reloadKeys = reloadKeys;
        this.clock = clock;
        this.logger = logger;
    }

    /// <summary>What the event pipeline reads templates from.</summary>
    public FingerprintTemplates Templates => templates;

    /// <summary>Loads the active templates and publishes who is enrolled into the live cardholders (start-up).</summary>
    public void Load()
    {
        var enrolled = templates.Load();
        configuration.UpdateCardholders(c => c.WithFingerprintEnrolled(enrolled));
    }

    /// <summary>
    /// Enrolls one finger of a person (action <c>fingerprint.enroll</c>). With <paramref name="replace"/>, an active
    /// template of the same finger is revoked in the same change; without it, that is a conflict.
    /// </summary>
    /// <param name="actor">The enrolling operator; when it names a person, that person may not be <paramref name="personId"/>.</param>
    /// <param name="station">The enrollment station the template was captured at.</param>
    /// <param name="format">The template format token (<c>iso-19794-2</c>, <c>ansi-378</c>, <c>ac-sim-v1</c>).</param>
    /// <param name="template">The template bytes (1 to <see cref="FingerprintTemplate.MaxBytes"/>); not kept by this call.</param>
    public async Task<FingerprintResult<FingerprintRecord>> EnrollAsync(
        OperatorIdentity actor,
        string personId,
        string finger,
        string station,
        string format,
        ReadOnlyMemory<byte> template,
        bool replace = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actor);
        var errors = new List<FieldError>();
        if (!WireFormat.IsValidId(personId ?? ""))
        {
            errors.Add(new FieldError("personId", "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -"));
        }

        if (!Fingers.IsValid(finger))
        {
            errors.Add(new FieldError("finger", "must be one of " + string.Join(", ", Fingers.All)));
        }

        if (!WireFormat.IsValidId(station ?? ""))
        {
            errors.Add(new FieldError("station", "must be the enrollment station's id: 1 to 64 characters of A-Z a-z 0-9 . _ : -"));
        }

        if (!CardUid.IsTechnologyToken(format))
        {
            errors.Add(new FieldError("format", "must be 1 to 32 characters of a-z 0-9 and '-', such as iso-19794-2"));
        }

        if (template.Length is 0 or > FingerprintTemplate.MaxBytes)
        {
            errors.Add(new FieldError("template", $"must be 1 to {FingerprintTemplate.MaxBytes} bytes"));
        }

        if (errors.Count > 0)
        {
            return FingerprintResult<FingerprintRecord>.Invalid(errors);
        }

        var person = new PersonId(personId!);
        if (actor.PersonId is not null && string.Equals(actor.PersonId, person.Value, StringComparison.Ordinal))
        {
            await RecordSelfEnrollmentAsync(actor, person, finger!);
            return FingerprintResult<FingerprintRecord>.Forbidden(FingerprintRefusals.SelfEnrollment, "An operator may not enroll their own fingerprints.");
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            if (!configuration.Cardholders.People.TryGetValue(person, out var found))
            {
                return FingerprintResult<FingerprintRecord>.NotFound($"No person '{person}'.");
            }

            if (found.Status == PersonStatus.Terminated || configuration.Cardholders.HasLeftBy(person, clock.GetCurrentInstant()))
            {
                return FingerprintResult<FingerprintRecord>.Refused(FingerprintRefusals.PersonTerminated, $"'{person}' is terminated.");
            }

            var active = templates.Of(person);
            var sameFinger = active.FirstOrDefault(t => t.Record.Finger == finger);
            if (sameFinger is not null && !replace)
            {
                return FingerprintResult<FingerprintRecord>.Conflict(FingerprintRefusals.FingerEnrolled,
                    $"'{person}' already has an active template for {finger} ({sameFinger.Record.TemplateId}): revoke it first, or enroll with replace.");
            }

            if (sameFinger is null && active.Length >= options.MaxTemplatesPerPerson)
            {
                return FingerprintResult<FingerprintRecord>.Refused(FingerprintRefusals.TooManyTemplates,
                    $"'{person}' already has {active.Length} active templates (at most {options.MaxTemplatesPerPerson}).");
            }

            var at = clock.GetCurrentInstant();
            var keyring = templates.Keyring;
            var record = new FingerprintRecord(NewTemplateId(), person, finger, format, keyring.Current.Id, at, actor.Operator, station!);
            var encrypted = new EncryptedTemplate(record, keyring.Seal(record.Binding, template.Span));
            var replaced = sameFinger?.Record;
            var entry = Audit(at, actor.Operator, FingerprintActions.Enroll, person, new
            {
                templateId = record.TemplateId,
                finger,
                format,
                station,
                keyId = record.KeyId,
                replaces = replaced?.TemplateId,
            });
            using var withheld = replaced is null ? null : templates.Withhold([replaced.TemplateId]);
            var failure = await CommitAsync(entry, ct => store.InsertAsync(encrypted, replaced, "replaced by " + record.TemplateId, ct));
            if (failure is not null)
            {
                return FingerprintResult<FingerprintRecord>.Unavailable(failure);
            }

            Publish(person, active.Where(t => t != sameFinger).Append(encrypted));
            return FingerprintResult<FingerprintRecord>.Ok(record);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Revokes one template (action <c>fingerprint.revoke</c>): its ciphertext is erased, its record kept. Revoking a revoked template changes nothing.</summary>
    public async Task<FingerprintResult<FingerprintRecord>> RevokeAsync(string actor, string templateId, string? reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        var errors = new List<FieldError>();
        if (!WireFormat.IsValidId(templateId ?? ""))
        {
            errors.Add(new FieldError("templateId", "must be a template id such as fpt-..."));
        }

        var why = CheckReason(reason, errors);
        if (errors.Count > 0)
        {
            return FingerprintResult<FingerprintRecord>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var record = store.Find(templateId!);
            if (record is null)
            {
                return FingerprintResult<FingerprintRecord>.NotFound($"No fingerprint template '{templateId}'.");
            }

            if (!record.Active)
            {
                return FingerprintResult<FingerprintRecord>.Ok(record, changed: false);
            }

            var revoked = await RevokeTemplatesAsync(actor, record.Person, [record], why!);
            return revoked.IsOk ? FingerprintResult<FingerprintRecord>.Ok(revoked.Value![0]) : FingerprintResult<FingerprintRecord>.Unavailable(revoked.Message!);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Revokes every active template of a person (one <c>fingerprint.revoke</c> row naming them all), e.g. when they
    /// leave. Returns the revoked records; none when there were none.
    /// </summary>
    public async Task<FingerprintResult<IReadOnlyList<FingerprintRecord>>> RevokeAllAsync(string actor, PersonId person, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        var errors = new List<FieldError>();
        var why = CheckReason(reason, errors);
        if (errors.Count > 0)
        {
            return FingerprintResult<IReadOnlyList<FingerprintRecord>>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var active = templates.Of(person);
            return active.IsEmpty
                ? FingerprintResult<IReadOnlyList<FingerprintRecord>>.Ok([], changed: false)
                : await RevokeTemplatesAsync(actor, person, [.. active.Select(t => t.Record)], why!);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Every template of a person, active and revoked, in enrollment order: metadata only.</summary>
    public FingerprintResult<IReadOnlyList<FingerprintRecord>> List(string personId)
    {
        if (!WireFormat.IsValidId(personId ?? ""))
        {
            return FingerprintResult<IReadOnlyList<FingerprintRecord>>.Invalid([new FieldError("personId", "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -")]);
        }

        var person = new PersonId(personId!);
        var records = store.List(person);
        return records.Count == 0 && !configuration.Cardholders.People.ContainsKey(person)
            ? FingerprintResult<IReadOnlyList<FingerprintRecord>>.NotFound($"No person '{person}'.")
            : FingerprintResult<IReadOnlyList<FingerprintRecord>>.Ok(records, changed: false);
    }

    /// <summary>
    /// Reads the keys again and re-encrypts every active template not yet under the current key (action
    /// <c>fingerprint.rekey</c>, recorded whenever the keys the service holds change: a template re-encrypted, a new
    /// current key, a key retired from the file; a rekey that changes nothing writes no row). Refused, changing nothing, when a
    /// template's key is no longer in the key file (removed too early) or a template does not decrypt. It re-encrypts
    /// every site's templates at once: refused to a token limited to one site (<see cref="SiteLimit"/>, a
    /// <c>fingerprint.rekey.refused</c> row) here, before the keys are read, whoever passes its request on.
    /// </summary>
    /// <param name="who">An admin's token (<see cref="AdminActor.Of"/>).</param>
    public async Task<FingerprintResult<RekeySummary>> RekeyAsync(AdminActor who, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(who);
        if (who.Token is { Site: not null } limited)
        {
            await AdminApi.RecordRefusalAsync(appendLog, SiteLimit.Row(limited, FingerprintActions.Rekey, clock.GetCurrentInstant(), null), logger);
            return FingerprintResult<RekeySummary>.Forbidden(SiteLimit.Code, SiteLimit.Message(limited));
        }

        var actor = who.Name;
        await gate.WaitAsync(cancellationToken);
        try
        {
            FingerprintKeyring keyring;
            try
            {
                keyring = reloadKeys?.Invoke() ?? templates.Keyring;
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                logger.LogError("The fingerprint keys could not be read again for a rekey: {Error}", ex.Message);
                return FingerprintResult<RekeySummary>.Unavailable("The fingerprint key file could not be read: " + ex.Message);
            }

            var all = templates.All().ToList();
            var missing = all.Where(t => !keyring.Contains(t.Sealed.KeyId)).Select(t => $"{t.Record.TemplateId} ({t.Sealed.KeyId})").ToList();
            if (missing.Count > 0)
            {
                return FingerprintResult<RekeySummary>.Conflict(FingerprintRefusals.KeyMissing,
                    $"{missing.Count} template(s) are under keys no longer in the key file: {string.Join(", ", missing.Take(10))}. Put those keys back, then rekey.");
            }

            var current = keyring.Current.Id;
            var stale = all.Where(t => t.Sealed.KeyId != current).ToList();
            var updated = new List<EncryptedTemplate>(all.Count);
            var changes = new List<(string TemplateId, SealedTemplate Sealed)>(stale.Count);
            foreach (var template in all)
            {
                if (template.Sealed.KeyId == current)
                {
                    updated.Add(template);
                    continue;
                }

                var plaintext = keyring.TryOpen(template.Record.Binding, template.Sealed);
                if (plaintext is null)
                {
                    logger.LogError("Fingerprint template {TemplateId} (key {KeyId}) does not decrypt; the rekey is refused.", template.Record.TemplateId, template.Sealed.KeyId);
                    return FingerprintResult<RekeySummary>.Conflict(FingerprintRefusals.KeyMissing,
                        $"Template {template.Record.TemplateId} does not decrypt under key {template.Sealed.KeyId}: the key file holds another key under that id, or the row was changed. Nothing was re-encrypted.");
                }

                var resealed = keyring.Seal(template.Record.Binding, plaintext);
                CryptographicOperations.ZeroMemory(plaintext);
                changes.Add((template.Record.TemplateId, resealed));
                updated.Add(new EncryptedTemplate(template.Record with { KeyId = current }, resealed));
            }

            var previous = stale.Select(t => t.Sealed.KeyId).Distinct().Order(StringComparer.Ordinal).ToList();
            var summary = new RekeySummary(current, changes.Count, previous, all.Count);

            // Retiring a key (rotation step 3) or making a new one current re-encrypts nothing, yet changes the keys the
            // service holds: it is recorded like any rekey. Only a rekey that changes nothing at all writes no row.
            var held = templates.Keyring;
            var retired = held.KeyIds.Where(id => !keyring.Contains(id)).Order(StringComparer.Ordinal).ToList();
            if (changes.Count == 0 && retired.Count == 0 && held.Current.Id == current && held.KeyIds.Length == keyring.KeyIds.Length)
            {
                templates.Replace(keyring, updated);
                return FingerprintResult<RekeySummary>.Ok(summary, changed: false);
            }

            var entry = Audit(clock.GetCurrentInstant(), actor, FingerprintActions.Rekey, null,
                new { keyId = current, templates = changes.Count, previousKeys = previous, retiredKeys = retired });
            var failure = await CommitAsync(entry, async ct =>
            {
                if (changes.Count > 0)
                {
                    await store.ReplaceCiphertextsAsync(changes, ct);
                }
            });
            if (failure is not null)
            {
                return FingerprintResult<RekeySummary>.Unavailable(failure);
            }

            templates.Replace(keyring, updated);
            return FingerprintResult<RekeySummary>.Ok(summary);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The reconciliation with the card system for the monthly review: orphaned templates, people who can reach a
    /// two-factor zone without a template, and templates unused for <see cref="FingerprintOptions.UnusedAfter"/>.
    /// </summary>
    public FingerprintReconciliation Reconcile()
    {
        var now = clock.GetCurrentInstant();
        var unusedSince = now - Duration.FromTimeSpan(options.UnusedAfter);
        var snapshot = configuration.Current;
        var cardholders = snapshot.Cardholders;
        var active = store.ListActive();

        var withCredential = cardholders.Credentials.Values
            .Where(c => c.Status == CredentialStatus.Active && (c.ValidFrom is not { } from || from <= now) && (c.ValidUntil is not { } until || now < until))
            .Select(c => c.Person)
            .ToHashSet();
        var orphans = new List<OrphanTemplate>();
        foreach (var record in active)
        {
            var reason = !cardholders.People.TryGetValue(record.Person, out var person) ? OrphanTemplate.PersonUnknown
                : person.Status == PersonStatus.Terminated ? OrphanTemplate.PersonTerminated
                : !withCredential.Contains(record.Person) ? OrphanTemplate.NoActiveCredential
                : null;
            if (reason is not null)
            {
                orphans.Add(new OrphanTemplate(FingerprintView.From(record), reason));
            }
        }

        var twoFactor = snapshot.Topology.Zones.Values.Where(z => z.TwoFactor).Select(z => z.Id).ToHashSet();
        var enrolled = active.Select(r => r.Person).ToHashSet();
        var notEnrolled = new List<NotEnrolledPerson>();
        foreach (var person in cardholders.People.Values.OrderBy(p => p.Id.Value, StringComparer.Ordinal))
        {
            if (person.Status != PersonStatus.Active || person.Kind is not (PersonKind.Employee or PersonKind.Contractor) || enrolled.Contains(person.Id))
            {
                continue;
            }

            var zones = person.AccessLevels
                .Select(id => cardholders.AccessLevels.TryGetValue(id, out var level) ? level.Zones : [])
                .SelectMany(z => z)
                .Where(twoFactor.Contains)
                .Select(z => z.Value)
                .Distinct()
                .Order(StringComparer.Ordinal)
                .ToList();
            if (zones.Count > 0)
            {
                notEnrolled.Add(new NotEnrolledPerson(person.Id.Value, person.Name, person.Kind, zones));
            }
        }

        var unused = active
            .Select(r => (Record: r, LastUsed: r.LastMatchedAt ?? r.EnrolledAt))
            .Where(u => u.LastUsed < unusedSince)
            .OrderBy(u => u.LastUsed)
            .ThenBy(u => u.Record.TemplateId, StringComparer.Ordinal)
            .Select(u => new UnusedTemplate(FingerprintView.From(u.Record), u.LastUsed, u.Record.LastMatchedAt is null))
            .ToList();
        return new FingerprintReconciliation(now, unusedSince, orphans, notEnrolled, unused);
    }

    // ---- the change itself -------------------------------------------------------------------------

    private async Task<FingerprintResult<IReadOnlyList<FingerprintRecord>>> RevokeTemplatesAsync(string actor, PersonId person, IReadOnlyList<FingerprintRecord> records, string reason)
    {
        var at = clock.GetCurrentInstant();
        var ids = records.Select(r => r.TemplateId).ToList();
        var entry = Audit(at, actor, FingerprintActions.Revoke, person, new
        {
            templateIds = ids,
            fingers = records.Select(r => r.Finger).ToList(),
            reason,
        });

        // In flight from here: until it is in force or withdrawn, a finger matched on these templates opens nothing.
        using var withheld = templates.Withhold(ids);
        var failure = await CommitAsync(entry, ct => store.RevokeAsync(ids, at, actor, reason, ct));
        if (failure is not null)
        {
            return FingerprintResult<IReadOnlyList<FingerprintRecord>>.Unavailable(failure);
        }

        var gone = ids.ToHashSet(StringComparer.Ordinal);
        Publish(person, templates.Of(person).Where(t => !gone.Contains(t.Record.TemplateId)));
        return FingerprintResult<IReadOnlyList<FingerprintRecord>>.Ok([.. records.Select(r => r with { RevokedAt = at, RevokedBy = actor, RevokeReason = reason })]);
    }

    /// <summary>The new active templates of a person, then whether they are enrolled at all: memory after the database.</summary>
    private void Publish(PersonId person, IEnumerable<EncryptedTemplate> active)
    {
        templates.Set(person, active);
        var enrolled = !templates.Of(person).IsEmpty;
        configuration.UpdateCardholders(c => c.WithFingerprintEnrollment(person, enrolled));
    }

    private static LogEntry Audit(Instant at, string actor, string action, PersonId? person, object detail) => new()
    {
        At = at,
        Kind = LogKinds.Admin,
        Actor = actor,
        Reason = action,
        PersonId = person?.Value,
        Detail = AdminJson.Serialize(detail),
    };

    /// <summary>Audit row, then the store. Returns null when both succeeded, else what to tell the caller.</summary>
    private async Task<string?> CommitAsync(LogEntry entry, Func<CancellationToken, Task> write)
    {
        LogEntry audited;
        try
        {
            audited = await appendLog(entry, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "The audit row of a fingerprint change ({Action} by {Actor}) could not be written; nothing was changed.", entry.Reason, entry.Actor);
            return "The audit log is unavailable; nothing was changed.";
        }

        try
        {
            await write(CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "A fingerprint change ({Action} by {Actor}) could not be written after its audit row {Seq}; nothing was changed.", entry.Reason, entry.Actor, audited.Seq);
            try
            {
                await appendLog(entry with
                {
                    At = clock.GetCurrentInstant(),
                    Reason = LogReasons.Failed(entry.Reason!),
                    Detail = AdminJson.Serialize(new { failedSeq = audited.Seq, error = ex.GetType().Name }),
                }, CancellationToken.None);
            }
            catch (Exception again) when (again is not OutOfMemoryException)
            {
                logger.LogCritical(again, "Audit row {Seq} records a fingerprint change that was not applied, and the failure could not be recorded.", audited.Seq);
            }

            return "The fingerprint store could not be written; nothing was changed.";
        }

        return null;
    }

    /// <summary>An attempt to enroll oneself is a <c>security</c> row: the refusal alone would leave no trace for the review.</summary>
    private async Task RecordSelfEnrollmentAsync(OperatorIdentity actor, PersonId person, string finger)
    {
        try
        {
            await appendLog(new LogEntry
            {
                At = clock.GetCurrentInstant(),
                Kind = LogKinds.Security,
                Actor = actor.Operator,
                Reason = FingerprintActions.SelfEnrollment,
                PersonId = person.Value,
                Detail = AdminJson.Serialize(new { finger }),
            }, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "A refused self-enrollment by {Actor} could not be recorded in the entry log.", actor.Operator);
        }
    }

    private static string? CheckReason(string? reason, List<FieldError> errors)
    {
        var trimmed = reason?.Trim();
        if (string.IsNullOrEmpty(trimmed) || trimmed.Length > MaxReasonLength)
        {
            errors.Add(new FieldError("reason", $"is required: 1 to {MaxReasonLength} characters"));
            return null;
        }

        if (ReadableText.Problem(trimmed) is { } problem)
        {
            errors.Add(new FieldError("reason", problem));
            return null;
        }

        return trimmed;
    }

    private static string NewTemplateId() => "fpt-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}

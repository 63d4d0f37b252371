using System.Collections.Immutable;
using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.Display;
using AccessControl.EntryLog;
using AccessControl.People;
using AccessControl.Protocol;
using AccessControl.Sites;
using AccessControl.Supervision;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Visitors;

/// <summary>
/// The visitor lifecycle: a host requests a visit, an approver approves it before it starts, the front desk checks
/// each visitor in against an identity document and hands out a pooled badge valid only for the approved zones until
/// the window ends, and takes it back at check-out, when the badge stops opening doors at once.
/// </summary>
/// <remarks>
/// <para>Every change follows the <see cref="AdminService"/> order: validate, append the audit row (kind <c>admin</c>,
/// action <c>visit.request</c>, <c>visit.approve</c>, <c>visit.reject</c>, <c>visit.withdraw</c>, <c>visit.check_in</c>,
/// <c>visit.check_out</c>, <c>visit.purge</c>, <c>watchlist.add</c>, <c>watchlist.remove</c>, <c>badge_pool.add</c>,
/// <c>badge_pool.remove</c>), then write. A failed audit append changes nothing; a failed write after it is recorded
/// as <c>&lt;action&gt;.failed</c>. A change that takes access away at the doors is in flight from before its audit
/// row (<see cref="LiveConfiguration.BeginChangeAsync"/>: a swipe meanwhile is granted only if granted with it too), so it
/// takes effect no later than its row: <c>watchlist.add</c> (visitors on site who match are refused),
/// <c>visit.escort_remove</c> (the visitors on site can no longer follow that escort) and <c>visit.check_out</c> (the
/// badge's <c>credential.revoke</c>, written after it by <see cref="AdminService"/>, is in flight from before it with the
/// visitor's designated escorts cleared: <see cref="PrecedingChange"/>). What gives access is live only after its row: a
/// check-in, <c>watchlist.remove</c>. Neither kind is <c>badge_pool.*</c>, which only tells an unbound pool card's deny
/// reason (<c>visit_not_checked_in</c> rather than <c>unknown_credential</c>). Refusals that matter to security (watch
/// list, segregation of duties, a check-in refused) are <c>security</c> rows with their code.</para>
/// <para>The badge itself is an ordinary credential: at check-in,
/// <see cref="AdminService"/> creates (audited, and live for the very next swipe) a per-visit access level with exactly
/// the approved zones, a per-visit person of kind visitor holding it, and the badge's credential valid from the
/// check-in instant to the window's end. Check-out revokes the credential. What else the doors must know (pooled
/// badges, watch-listed visitors on site, designated escorts) is kept in the live cardholder snapshot by
/// <see cref="RefreshDoorRules"/> and <see cref="RestoreDesignatedEscorts"/>.</para>
/// <para>Identity document numbers are reduced to an HMAC and the last four characters before anything is stored or
/// logged; the number is not in the entry log, not in ILogger output, and not in any API answer.</para>
/// <para>Calls are serialized (one at a time), like admin changes: they are rare, and it keeps badge allocation simple.</para>
/// </remarks>
public sealed class VisitorService
{
    /// <summary>The actor of the daily retention purge's rows.</summary>
    public const string RetentionJob = "retention-job";

    public const int MaxPurposeLength = 500;
    public const int MaxNoteLength = 500;

    private readonly VisitorStore store;
    private readonly AdminService admin;
    private readonly LiveConfiguration configuration;
    private readonly EntryLogQuery log;
    private readonly DocumentNumberHasher hasher;
    private readonly VisitorOptions options;
    private readonly Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog;
    private readonly IClock clock;
    private readonly ILogger<VisitorService> logger;
    private readonly Func<AdminActor, PersonId, string, Task<string?>> terminatePurged;
    private readonly SemaphoreSlim gate = new(1, 1);

    /// <param name="appendLog">Appends a row to the entry log and completes when it is durable (<c>EventPipeline.AppendAsync</c>).</param>
    /// <param name="terminatePurged">
    /// A termination's steps for a visitor the retention purge strips (<c>Hr.Termination.OfPurgedVisitorAsync</c>: by whom,
    /// whom, the purge's reference; null when done, else why not). A function, since a termination ends visits through this service.
    /// </param>
    public VisitorService(
        VisitorStore store,
        AdminService admin,
        LiveConfiguration configuration,
        EntryLogQuery log,
        DocumentNumberHasher hasher,
        VisitorOptions options,
        Func<LogEntry, CancellationToken, Task<LogEntry>> appendLog,
        IClock clock,
        ILogger<VisitorService> logger,
        Func<AdminActor, PersonId, string, Task<string?>> terminatePurged)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        this.store = store;
        this.admin = admin;
        this.configuration = configuration;
        this.log = log;
        this.hasher = hasher;
        this.options = options;
        this.appendLog = appendLog;
        this.clock = clock;
        this.logger = logger;
        this.terminatePurged = terminatePurged;
    }

    public VisitorOptions Options => options;

    // ---- requests and decisions --------------------------------------------------------------------

    /// <summary>
    /// A host requests a visit (action <c>visit.request</c>). The host is <see cref="VisitRequestInput.Host"/> or, when
    /// omitted, the person behind the requesting token. Visitors on the watch list are refused (<c>watchlisted</c>).
    /// </summary>
    public async Task<VisitResult<VisitView>> RequestAsync(OperatorIdentity requester, VisitRequestInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requester);
        ArgumentNullException.ThrowIfNull(input);
        if (requester.PersonId is null)
        {
            return VisitResult<VisitView>.Forbidden(VisitRefusals.SegregationOfDuties, "A visit can only be requested by a token that names its person.");
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var snapshot = configuration.Current;
            var now = clock.GetCurrentInstant();
            var errors = new List<FieldError>();
            Site? site = null;
            var siteText = CheckId(input.Site, "site", errors);

            // The site limit first: a token of another site learns nothing about this one from what its body names.
            if (siteText is not null && !requester.ActsFor(siteText))
            {
                // A refused request is never stored; the row names its host when that is a known person.
                var named = input.Host ?? requester.PersonId;
                return await NotForThisSiteAsync<VisitView>(requester, VisitActions.Request, siteText, new { visit = (long?)null, visitor = (int?)null },
                    snapshot.Cardholders.People.ContainsKey(new PersonId(named)) ? named : null);
            }

            if (siteText is not null && !snapshot.Topology.Sites.TryGetValue(new SiteId(siteText), out site))
            {
                errors.Add(new FieldError("site", $"no site '{siteText}'"));
            }

            var host = CheckEmployee(input.Host ?? requester.PersonId, input.Host is null ? "host (the person behind your token)" : "host", snapshot.Cardholders, now, errors);
            var purpose = CheckText(input.Purpose, "purpose", MaxPurposeLength, errors);
            var window = CheckWindow(input.Date, input.Start, input.End, errors);
            var zones = CheckZones(input.Zones, site, requester.Site, snapshot.Topology, errors);
            var escorts = ImmutableArray.CreateBuilder<PersonId>();
            var escortInput = input.Escorts ?? [];
            for (var i = 0; i < escortInput.Count; i++)
            {
                if (CheckEmployee(escortInput[i], $"escorts[{i}]", snapshot.Cardholders, now, errors) is { } escort && !escorts.Contains(escort))
                {
                    escorts.Add(escort);
                }
            }

            var visitors = ImmutableArray.CreateBuilder<VisitVisitor>();
            var visitorInput = input.Visitors ?? [];
            if (visitorInput.Count == 0 || visitorInput.Count > options.MaxVisitorsPerVisit)
            {
                errors.Add(new FieldError("visitors", $"must name 1 to {options.MaxVisitorsPerVisit} visitors"));
            }

            for (var i = 0; i < visitorInput.Count; i++)
            {
                var name = CheckText(visitorInput[i]?.Name, $"visitors[{i}].name", AdminService.MaxNameLength, errors);
                var organization = CheckText(visitorInput[i]?.Organization, $"visitors[{i}].organization", AdminService.MaxNameLength, errors);
                if (name is not null && organization is not null)
                {
                    visitors.Add(new VisitVisitor(i + 1, name, organization, VisitorStatus.Expected, null, null, null, null, null, null, null, null));
                }
            }

            Interval interval = default;
            var skipped = site is not null && window is not null ? window.ProblemsIn(site.TimeZone) : [];
            errors.AddRange(skipped.Select(p => new FieldError(p.Field, p.Message)));
            if (site is not null && window is not null && skipped.Count == 0)
            {
                interval = window.ToInterval(site.TimeZone);
                if (interval.Start <= now)
                {
                    errors.Add(new FieldError("start", "must be in the future: a visit is approved before it starts"));
                }
                else if (interval.Start - now > Duration.FromTimeSpan(options.MaxLeadTime))
                {
                    errors.Add(new FieldError("date", string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"must be at most {options.MaxLeadTime.TotalDays:0.##} days ahead (AccessControl:Visitors:MaxLeadTime)")));
                }
            }

            if (errors.Count > 0)
            {
                return VisitResult<VisitView>.Invalid(errors);
            }

            var visit = new Visit(store.NextVisitId(), site!.Id, host!.Value, requester.Operator, requester.PersonId, now, purpose!, window!, interval, zones, escorts.ToImmutable(),
                VisitStatus.Requested, null, null, null, null, visitors.ToImmutable());
            foreach (var visitor in visit.Visitors)
            {
                if (Watchlisted(visitor.Name, visitor.Organization) is { } entry)
                {
                    await SecurityAsync(requester, LogReasons.Refused(VisitActions.Request), visit, visitor.Number, VisitRefusals.Watchlisted, entry.Id);
                    return VisitResult<VisitView>.Refused(VisitRefusals.Watchlisted, $"Visitor {visitor.Number} is on the watch list; ask security.");
                }
            }

            return await ChangeAsync(requester.Operator, VisitActions.Request, visit.Site, visit.Host.Value, null, new { after = VisitSnapshot.From(visit, site.TimeZone) }, () =>
            {
                store.InsertVisit(visit);
                return View(store.Get(visit.Id)!) with
                {
                    // Said to the host at once, not first to the approver: they know whom else to ask.
                    Warnings = EscortWarnings(visit, snapshot, now, "Ask an approver to reject the request, and request the visit again with another escort."),
                };
            });
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Approves a request before its window starts (action <c>visit.approve</c>), recording who, when and a snapshot of
    /// exactly what was approved. Segregation of duties: the approver must be neither the requester, nor the host, nor an escort.
    /// </summary>
    public Task<VisitResult<VisitView>> ApproveAsync(OperatorIdentity approver, long id, DecisionInput? input, CancellationToken cancellationToken = default) =>
        DecideAsync(approver, id, input, VisitStatus.Approved, cancellationToken);

    /// <summary>Rejects a request (action <c>visit.reject</c>); the same segregation of duties as approval.</summary>
    public Task<VisitResult<VisitView>> RejectAsync(OperatorIdentity approver, long id, DecisionInput? input, CancellationToken cancellationToken = default) =>
        DecideAsync(approver, id, input, VisitStatus.Rejected, cancellationToken);

    /// <summary>
    /// Whether <paramref name="approver"/> may decide on <paramref name="visit"/>: nobody decides on a request they made,
    /// a visit they host or a visit they escort (the escort answers for the visitor in the escort-required zones:
    /// approving the visit would be approving their own duty). Identities are compared by account and by person, so a
    /// second account of the same person does not get around it, and an approver without a person is refused. Host
    /// and escorts are people, so they are compared with the token's person.
    /// </summary>
    public static bool MayDecide(OperatorIdentity approver, Visit visit)
    {
        ArgumentNullException.ThrowIfNull(approver);
        ArgumentNullException.ThrowIfNull(visit);
        return approver.PersonId is { } person
            && !string.Equals(approver.Operator, visit.RequestedBy, StringComparison.Ordinal)
            && !string.Equals(person, visit.RequestedByPerson, StringComparison.Ordinal)
            && !string.Equals(person, visit.Host.Value, StringComparison.Ordinal)
            && !visit.Escorts.Any(e => string.Equals(person, e.Value, StringComparison.Ordinal));
    }

    /// <summary>
    /// Whether <paramref name="desk"/> may check a visitor of <paramref name="visit"/> in: the front desk's check of the
    /// identity document is the independent check of who comes in, so the people who vouch for the visitor (who
    /// requested the visit, its host, its escorts) do not make it, through whatever account; compared as in
    /// <see cref="MayDecide"/>. A check-out only takes access away and is not asked this.
    /// </summary>
    public static bool MayCheckIn(OperatorIdentity desk, Visit visit) => MayDecide(desk, visit);

    private async Task<VisitResult<VisitView>> DecideAsync(OperatorIdentity approver, long id, DecisionInput? input, VisitStatus decision, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(approver);
        var action = decision == VisitStatus.Approved ? VisitActions.Approve : VisitActions.Reject;
        var errors = new List<FieldError>();
        var note = input?.Note is null ? null : CheckText(input.Note, "note", MaxNoteLength, errors);
        if (errors.Count > 0)
        {
            return VisitResult<VisitView>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var visit = store.Get(id);
            if (visit is null)
            {
                return VisitResult<VisitView>.NotFound($"No visit {id}.");
            }

            if (!approver.ActsFor(visit.Site.Value))
            {
                return await NotForThisSiteAsync(approver, action, visit, null);
            }

            if (!MayDecide(approver, visit))
            {
                await SecurityAsync(approver, LogReasons.Refused(action), visit, null, VisitRefusals.SegregationOfDuties, null);
                return VisitResult<VisitView>.Forbidden(VisitRefusals.SegregationOfDuties, "Nobody approves or rejects a visit they requested, host or escort.");
            }

            if (visit.Status != VisitStatus.Requested)
            {
                return VisitResult<VisitView>.Conflict($"Visit {id} is already {VisitCodes.Code(visit.Status)}.");
            }

            if (decision == VisitStatus.Approved && InactiveHost(visit, configuration.Cardholders, clock.GetCurrentInstant()) is { } inactive)
            {
                await SecurityAsync(approver, LogReasons.Refused(action), visit, null, VisitRefusals.HostNotActive, null);
                return VisitResult<VisitView>.Refused(VisitRefusals.HostNotActive, $"{inactive} Reject this request; another host requests the visit again.");
            }

            var now = clock.GetCurrentInstant();
            if (decision == VisitStatus.Approved && now >= visit.Interval.Start)
            {
                await SecurityAsync(approver, LogReasons.Refused(action), visit, null, VisitRefusals.WindowStarted, null);
                return VisitResult<VisitView>.Refused(VisitRefusals.WindowStarted, "The visit has started: it can no longer be approved. Request it again.");
            }

            var made = new VisitDecision(approver.Operator, approver.PersonId, now, note);
            var approved = decision == VisitStatus.Approved ? VisitSnapshot.From(visit, ZoneOf(visit.Site)) : null;
            var snapshotJson = approved is null ? null : AdminJson.Serialize(approved);
            return await ChangeAsync(approver.Operator, action, visit.Site, visit.Host.Value, null,
                new { visit = id, decision = VisitCodes.Code(decision), by = approver.Operator, byPerson = approver.PersonId, note, approved },
                () => store.Decide(id, decision, made, snapshotJson)
                    ? View(store.Get(id)!) with
                    {
                        Warnings = approved is null ? null : EscortWarnings(visit, configuration.Current, now,
                            $"Unless they can escort by the visit, withdraw visit {id} (visit withdraw {id}); the host requests it again with another escort."),
                    }
                    : throw new InvalidOperationException($"Visit {id} changed while it was being decided."));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Withdraws an approval while nobody has checked in (action <c>visit.withdraw</c>); the visit can no longer be checked in.
    /// Only an approver for the visit's site withdraws. Segregation of duties (<see cref="MayDecide"/>) is not asked:
    /// a withdrawal only takes access away, so an approver who hosts or requested the visit may call it off.
    /// </summary>
    public async Task<VisitResult<VisitView>> WithdrawAsync(OperatorIdentity approver, long id, DecisionInput? input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(approver);
        var errors = new List<FieldError>();
        var note = input?.Note is null ? null : CheckText(input.Note, "note", MaxNoteLength, errors);
        if (errors.Count > 0)
        {
            return VisitResult<VisitView>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var visit = store.Get(id);
            if (visit is null)
            {
                return VisitResult<VisitView>.NotFound($"No visit {id}.");
            }

            if (!approver.ActsFor(visit.Site.Value))
            {
                return await NotForThisSiteAsync(approver, VisitActions.Withdraw, visit, null);
            }

            if (visit.Status != VisitStatus.Approved)
            {
                return VisitResult<VisitView>.Conflict($"Visit {id} is {VisitCodes.Code(visit.Status)}: only an approval can be withdrawn.");
            }

            if (visit.Visitors.Any(v => v.Status != VisitorStatus.Expected))
            {
                return VisitResult<VisitView>.Conflict($"A visitor of visit {id} has checked in: the approval can no longer be withdrawn (check them out).");
            }

            var now = clock.GetCurrentInstant();
            return await ChangeAsync(approver.Operator, VisitActions.Withdraw, visit.Site, visit.Host.Value, null,
                new { visit = id, by = approver.Operator, byPerson = approver.PersonId, note },
                () => store.Withdraw(id, approver.Operator, now)
                    ? View(store.Get(id)!)
                    : throw new InvalidOperationException($"Visit {id} changed while its approval was being withdrawn."));
        }
        finally
        {
            gate.Release();
        }
    }

    public VisitView? Get(long id) => store.Get(id) is { } visit ? View(visit) : null;

    /// <summary>A visit as <paramref name="reader"/> may see it; null when there is none or it is not theirs to read (<see cref="Visit.IsReadableBy"/>).</summary>
    public VisitView? Get(long id, OperatorIdentity reader) => store.Get(id) is { } visit && visit.IsReadableBy(reader) ? View(visit, reader) : null;

    /// <summary>
    /// The visits running on a local date of their site (the site's zone), in start order, optionally of one site and
    /// status: those whose window starts on it, and those that started on an earlier day and end after its start of
    /// day (<see cref="VisitWindow.StartOfDay"/>, not 24 hours on: a DST day lasts 23 or 25 hours). So a
    /// 22:00-06:00 night visit is on both days' lists, where the clerk checking the crew out at 06:00 looks for it;
    /// one 22:00-00:00 is on the first only, a window being half-open. Such a visit keeps its own <c>window.date</c>.
    /// Without a date, each visit's own site says what today is: a desk in Berlin just after midnight sees the day that
    /// has begun there, though UTC is still on the day before.
    /// </summary>
    public IReadOnlyList<VisitView> List(LocalDate? date, string? site, string? status, OperatorIdentity reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        Instant from, to;
        var now = clock.GetCurrentInstant();
        if (date is { } day)
        {
            // A day in any zone lies within [date 00:00 UTC - 14 h, date + 1 00:00 UTC + 14 h): read the visits running
            // at some time in that, then keep each one by its own site's day.
            from = day.AtStartOfDayInZone(DateTimeZone.Utc).ToInstant() - Duration.FromHours(14);
            to = day.PlusDays(1).AtStartOfDayInZone(DateTimeZone.Utc).ToInstant() + Duration.FromHours(14);
        }
        else
        {
            // Today, wherever a site is, starts and ends within a day of now.
            (from, to) = (now - Duration.FromDays(2), now + Duration.FromDays(2));
        }

        var sites = configuration.Topology.Sites;
        bool RunsOn(Visit visit)
        {
            var zone = sites.TryGetValue(visit.Site, out var s) ? s.TimeZone : DateTimeZone.Utc;
            var day = date ?? now.InZone(zone).Date;

            // The stored end, at which the badge issued at check-in stops opening doors.
            return visit.Window.Date == day || (visit.Window.Date < day && visit.Interval.End > VisitWindow.StartOfDay(zone, day));
        }

        return [.. store.List(from, to, site, status, 10_000).Where(v => RunsOn(v) && v.IsReadableBy(reader)).Select(v => View(v, reader))];
    }

    /// <summary>A visit as the API shows it, its window also on its site's wall clock.</summary>
    private VisitView View(Visit visit) => VisitView.From(visit, ZoneOf(visit.Site));

    /// <summary>
    /// A visit as <paramref name="reader"/> may see it: the visitors' identity documents (type, issuing country, last
    /// characters of the number, expiry) only for the roles whose work needs them (<see cref="SeesDocuments"/>). A host
    /// or an approver reads who comes and when, never their passport (GDPR art. 5(1)(c), data minimisation).
    /// </summary>
    private VisitView View(Visit visit, OperatorIdentity reader) =>
        SeesDocuments(reader.Role) ? View(visit) : View(visit).WithoutDocuments();

    /// <summary>The roles shown a visitor's identity document: the desk that checked it, security, auditors.</summary>
    public static bool SeesDocuments(OperatorRole role) => role is OperatorRole.Frontdesk or OperatorRole.Security or OperatorRole.Auditor;

    /// <summary>The time zone of a loaded site; null for a site no longer loaded (its visits are then shown in UTC only).</summary>
    private DateTimeZone? ZoneOf(SiteId site) => configuration.Topology.Sites.TryGetValue(site, out var s) ? s.TimeZone : null;

    // ---- check-in and check-out --------------------------------------------------------------------

    /// <summary>
    /// Checks a visitor in (action <c>visit.check_in</c>). Checks, in order: the visit is approved
    /// (<c>visit_not_approved</c>), inside its check-in period (<c>visit_outside_window</c>), the document is well formed
    /// (400) and not expired (<c>document_expired</c>), its name matches the approved visitor (<c>name_mismatch</c>),
    /// the visitor is not on the watch list (<c>watchlisted</c>), a badge is free (<c>no_badge_available</c>).
    /// Then binds the badge (see the class remarks).
    /// </summary>
    public async Task<VisitResult<VisitView>> CheckInAsync(OperatorIdentity desk, long id, CheckInInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(desk);
        ArgumentNullException.ThrowIfNull(input);
        if (input.Visitor is not { } number)
        {
            return VisitResult<VisitView>.Invalid("visitor", "is required (the visitor's number in the visit: 1, 2, ...)");
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var visit = store.Get(id);
            var visitor = visit?.Visitors.FirstOrDefault(v => v.Number == number);
            if (visit is null || visitor is null)
            {
                return VisitResult<VisitView>.NotFound(visit is null ? $"No visit {id}." : $"Visit {id} has no visitor {number}.");
            }

            if (!desk.ActsFor(visit.Site.Value))
            {
                return await NotForThisSiteAsync(desk, VisitActions.CheckIn, visit, number);
            }

            if (!MayCheckIn(desk, visit))
            {
                await SecurityAsync(desk, LogReasons.Refused(VisitActions.CheckIn), visit, number, VisitRefusals.SegregationOfDuties, null);
                return VisitResult<VisitView>.Forbidden(VisitRefusals.SegregationOfDuties,
                    "Nobody checks in a visitor of a visit they requested, host or escort: the front desk's check of the document is the independent one. Another front-desk operator checks them in.");
            }

            if (visitor.Status != VisitorStatus.Expected)
            {
                return VisitResult<VisitView>.Conflict(CheckedInAlready(visit, visitor));
            }

            var snapshot = configuration.Current;
            if (!snapshot.Topology.Sites.TryGetValue(visit.Site, out var site))
            {
                return VisitResult<VisitView>.Conflict($"The site '{visit.Site}' of visit {id} is no longer loaded.");
            }

            var now = clock.GetCurrentInstant();
            if (visit.Status != VisitStatus.Approved)
            {
                return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.NotApproved, $"Visit {id} is {VisitCodes.Code(visit.Status)}, not approved.");
            }

            if (InactiveHost(visit, snapshot.Cardholders, now) is { } inactive)
            {
                return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.HostNotActive,
                    $"{inactive} Ask an approver to withdraw visit {id}; another host requests it again.");
            }

            var lead = Duration.FromTimeSpan(options.CheckInLead);
            // The stored instants, which the approver approved and the badge will expire at, not the window resolved again.
            switch (VisitWindow.CheckInAt(visit.Interval, now, lead))
            {
                case CheckInTiming.TooEarly:
                    return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.OutsideWindow,
                        $"Check-in opens at {WindowView.Describe(visit.Interval.Start - lead, site.TimeZone)}; the visit starts at {WindowView.Describe(visit.Interval.Start, site.TimeZone)}.");
                case CheckInTiming.Ended:
                    return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.OutsideWindow,
                        $"The visit's window ended at {WindowView.Describe(visit.Interval.End, site.TimeZone)}.");
            }

            var errors = new List<FieldError>();
            if (string.IsNullOrWhiteSpace(input.Name))
            {
                errors.Add(new FieldError("name", "is required (the name as printed on the document)"));
            }

            DocumentCheck? check = null;
            if (input.Document is not { } presented)
            {
                errors.Add(new FieldError("document", "is required (type, country, number, expiry)"));
            }
            else
            {
                check = DocumentRules.Check(presented.Type, presented.Country, presented.Number, presented.Expiry, now.InZone(site.TimeZone).Date);
                errors.AddRange(check.Errors.Select(e => new FieldError("document." + e.Field, e.Message)));
            }

            if (errors.Count > 0)
            {
                return VisitResult<VisitView>.Invalid(errors);
            }

            if (check!.Expired)
            {
                return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.DocumentExpired, "The identity document has expired.");
            }

            var match = VisitorNames.Compare(input.Name, visitor.Name);
            if (match == NameMatch.Different)
            {
                return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.NameMismatch,
                    $"The name on the document does not match the approved visitor {number} of visit {id}.");
            }

            if ((Watchlisted(visitor.Name, visitor.Organization) ?? Watchlisted(input.Name!, visitor.Organization)) is { } entry)
            {
                return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.Watchlisted, "The visitor is on the watch list; call security.", entry.Id);
            }

            // One person, one badge out: the same document (same issuer, same number however typed) is not checked in
            // again, at this site or another, until the badge it holds is back.
            var document = check.Document!;
            var numberHmac = hasher.Hash(document.IssuingCountry, document.Number);
            if (store.OnSiteWithDocument(numberHmac) is { } holder)
            {
                var where = desk.ActsFor(holder.Site) ? $"visit {holder.Visit} (visitor {holder.Visitor}) at site '{holder.Site}'" : "a visit of another site";
                return await RefuseCheckInAsync(desk, visit, number, VisitRefusals.AlreadyOnSite,
                    $"This document is already checked in on {where}, and that badge is still out: check the visitor out there first (return the badge).");
            }

            var (badge, badgeProblem) = PickBadge(visit.Site, input.Badge, snapshot.Cardholders);
            if (badge is null)
            {
                return badgeProblem!.Outcome == VisitOutcome.Refused
                    ? await RefuseCheckInAsync(desk, visit, number, VisitRefusals.NoBadgeAvailable, badgeProblem.Message!)
                    : badgeProblem;
            }

            var record = new DocumentRecord(document.Type, document.IssuingCountry, numberHmac, document.LastFour, document.Expiry);
            var personId = VisitCodes.PersonOf(id, number);
            var detail = new
            {
                visit = id,
                visitor = number,
                name = visitor.Name,
                organization = visitor.Organization,
                badge = badge.Card,
                person = personId,
                nameMatch = match == NameMatch.Same ? "same" : "reordered",
                document = DocumentView.From(record),
                validUntil = visit.Interval.End,
            };
            var audited = await AuditAsync(desk.Operator, VisitActions.CheckIn, visit.Site, personId, badge.Card, detail);
            if (audited is null)
            {
                return VisitResult<VisitView>.Unavailable("The audit log is unavailable; nothing was changed.");
            }

            try
            {
                if (!store.CheckIn(id, number, personId, badge.Card, record, now, desk.Operator))
                {
                    throw new InvalidOperationException($"Visitor {number} of visit {id} changed while being checked in.");
                }
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
            {
                logger.LogError(ex, "Check-in of visitor {Visitor} of visit {Visit} could not be stored after audit row {Seq}.", number, id, audited.Seq);
                await FailedAsync(audited, ex);
                return VisitResult<VisitView>.Unavailable("The visit could not be written; nothing was changed.");
            }

            var granted = await GrantBadgeAsync(PerVisit(desk), visit, visitor, personId, badge, now);
            if (granted is not null)
            {
                store.UndoCheckIn(id, number);
                logger.LogError("Check-in of visitor {Visitor} of visit {Visit}: the badge could not be bound ({Problem}); the check-in was undone.", number, id, granted);
                await FailedAsync(audited, new InvalidOperationException(granted));
                return VisitResult<VisitView>.Unavailable("The badge could not be activated; the check-in was undone. Try again.");
            }

            return VisitResult<VisitView>.Ok(View(store.Get(id)!) with
            {
                Warnings = EscortWarnings(visit, snapshot, now, $"Ask an approver to withdraw visit {id}; the host requests it again with another escort."),
            });
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// What the desk (at check-in) or the approver (at approval) must know about the visit's designated escorts, in words
    /// they can act on: those who cannot escort now (suspended, terminated, or past a termination in force), and those
    /// who can never bring the visitor into one of the visit's zones that need an escort (no escort level for it, or no
    /// card valid during the visit that the zone's readers accept). With none of them left for a zone, the visitor is
    /// refused at its doors (<c>escort_required</c>) whoever walks in front: better said before than found at the server
    /// room's door (<paramref name="whatToDo"/> then says what to do). Null when there is nothing to say (a visit that
    /// names no escort may be brought in by any authorized escort). A suspension may end before the visit, and a level or
    /// a card may be given meanwhile: at approval it is said, not refused.
    /// </summary>
    private static IReadOnlyList<string>? EscortWarnings(Visit visit, LiveConfiguration.Snapshot snapshot, Instant now, string whatToDo)
    {
        var escortZones = visit.Zones.Select(z => snapshot.Topology.Zones.GetValueOrDefault(z)).OfType<Zone>().Where(z => z.EscortRequired).ToList();
        if (escortZones.Count == 0 || visit.Escorts.IsEmpty)
        {
            return null;
        }

        var unable = visit.Escorts
            .Select(e => (Id: e.Value, Why: !snapshot.Cardholders.People.TryGetValue(e, out var p) ? "no longer a person here"
                : p.Status != PersonStatus.Active ? p.Status.ToCode()
                : snapshot.Cardholders.HasLeftBy(e, now) ? "terminated" : null))
            .Where(e => e.Why is not null)
            .ToList();
        var able = visit.Escorts.Select(e => e.Value).Except(unable.Select(e => e.Id)).ToList();

        // Per zone: who cannot bring the visitor in (now, or ever: the engine opens an escort window only for a holder of
        // an escort level for the zone, once their own card is granted there) and who can. Zones alike are said once.
        // Each escort's cards valid during the visit, read once (a walk of every credential), not once per zone.
        var cards = able.ToDictionary(e => e, e => snapshot.Cardholders.CredentialsOf(new PersonId(e)).Where(c => c.Status == CredentialStatus.Active
            && (c.ValidFrom is not { } from || from < visit.Interval.End) && (c.ValidUntil is not { } until || until > visit.Interval.Start)).ToList());
        var perZone = escortZones.Select(zone =>
        {
            var lacking = able.Select(e => (Id: e, Why: WhyNoEscortInto(new PersonId(e), cards[e], zone, visit.Interval.Start, snapshot.Cardholders))).Where(e => e.Why is not null).ToList();
            var reasons = string.Join(", ", unable.Concat(lacking).Select(e => $"{e.Id} ({e.Why})"));
            var behind = string.Join(", ", able.Except(lacking.Select(e => e.Id)));
            return (Zone: zone.Id.Value, Reasons: reasons, Behind: behind, OnlyNow: lacking.Count == 0);
        });
        var warnings = new List<string>();
        foreach (var alike in perZone.Where(z => z.Reasons.Length > 0).GroupBy(z => (z.Reasons, z.Behind, z.OnlyNow)))
        {
            var (reasons, behind, onlyNow) = alike.Key;
            var zones = string.Join(", ", alike.Select(z => z.Zone));
            var what = onlyNow ? "now" : $"into {zones}";
            warnings.Add(behind.Length == 0
                ? $"None of the visit's escorts can escort {what}: {reasons}. The visitor will be refused at {zones} (escort_required) whoever goes in front. {whatToDo}"
                : $"{reasons} cannot escort {what}: the visitor enters {zones} only behind {behind}.");
        }

        return warnings.Count == 0 ? null : warnings;
    }

    /// <summary>
    /// Why <paramref name="escort"/> can never bring a visitor into <paramref name="zone"/>, or null when they can: an
    /// escort level for the zone (not escorted-only) when the visit starts, and among <paramref name="cards"/> (theirs,
    /// active and valid at some time of the visit) one of a technology the zone accepts.
    /// </summary>
    private static string? WhyNoEscortInto(PersonId escort, IReadOnlyList<Credential> cards, Zone zone, Instant visitStart, Cardholders cardholders)
    {
        var person = cardholders.InForceAt(cardholders.People[escort], visitStart);
        var level = person.AccessLevels.Any(id => cardholders.AccessLevels.TryGetValue(id, out var l) && l.Escort && !l.EscortedOnly && l.Zones.Contains(zone.Id));
        if (!level)
        {
            return "no escort level there";
        }

        return cards.Any(c => zone.AllowsTechnology(c.Technology)) ? null : "no active card accepted there during the visit";
    }

    /// <summary>
    /// Checks a visitor out (action <c>visit.check_out</c>): the badge's credential is revoked, from before the check-out's
    /// row on (a swipe decided meanwhile is denied), the badge is free again, and the visitor's out-time is recorded.
    /// </summary>
    public async Task<VisitResult<VisitView>> CheckOutAsync(OperatorIdentity desk, long id, int? number, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(desk);
        if (number is not { } n)
        {
            return VisitResult<VisitView>.Invalid("visitor", "is required (the visitor's number in the visit: 1, 2, ...)");
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            return await CheckOutLockedAsync(desk, id, n);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Checks out whoever holds a returned badge (the desk has the badge in hand).</summary>
    public async Task<VisitResult<VisitView>> ReturnBadgeAsync(OperatorIdentity desk, string card, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(desk);
        var uid = CardUid.Normalize(card);
        if (uid is null)
        {
            return VisitResult<VisitView>.Invalid("card", "must be 2 to 32 hexadecimal digits");
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            return store.BadgesOut().TryGetValue(uid, out var holder)
                ? await CheckOutLockedAsync(desk, holder.Visit, holder.Visitor)
                : VisitResult<VisitView>.NotFound($"Badge {uid} is not out.");
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<VisitResult<VisitView>> CheckOutLockedAsync(OperatorIdentity desk, long id, int number, string? reference = null)
    {
        var visit = store.Get(id);
        var visitor = visit?.Visitors.FirstOrDefault(v => v.Number == number);
        if (visit is null || visitor is null)
        {
            return VisitResult<VisitView>.NotFound(visit is null ? $"No visit {id}." : $"Visit {id} has no visitor {number}.");
        }

        if (!desk.ActsFor(visit.Site.Value))
        {
            return await NotForThisSiteAsync(desk, VisitActions.CheckOut, visit, number);
        }

        if (visitor.Status != VisitorStatus.OnSite || visitor.Badge is null)
        {
            return VisitResult<VisitView>.Conflict($"Visitor {number} of visit {id} is {VisitCodes.Code(visitor.Status)}, not on site.");
        }

        var now = clock.GetCurrentInstant();
        LogEntry? audited = null;

        // The check-out's row, then the badge's revocation, both in flight from before that row (the badge and, once it
        // is dead, the visitor's designated escorts): a swipe decided once the row is durable is refused, and if the
        // revocation is not recorded the badge works again, with a visit.check_out.failed row.
        var checkOut = new PrecedingChange(
            c => visitor.PersonId is { } visitorPerson ? c.WithDesignatedEscorts(new PersonId(visitorPerson), null) : c,
            async () => (audited = await AuditAsync(desk.Operator, VisitActions.CheckOut, visit.Site, visitor.PersonId, visitor.Badge, new
            {
                visit = id,
                visitor = number,
                badge = visitor.Badge,
                checkedInAt = visitor.CheckedInAt,
                late = now >= visit.Interval.End,
                reference,
            })) is not null,
            failure => FailedAsync(audited!, failure));
        var revoked = await admin.SetCredentialStatusAsync(PerVisit(desk), visitor.Badge, CredentialStatus.Revoked.ToCode(), CancellationToken.None, precededBy: checkOut);
        if (audited is null)
        {
            return VisitResult<VisitView>.Unavailable(revoked.Message ?? "The audit log is unavailable; nothing was changed.");
        }

        if (!revoked.IsOk && revoked.Outcome != AdminOutcome.NotFound)
        {
            return VisitResult<VisitView>.Unavailable("The badge could not be deactivated; the visitor is still checked in. Try again.");
        }

        try
        {
            if (!store.CheckOut(id, number, now, desk.Operator))
            {
                throw new InvalidOperationException($"Visitor {number} of visit {id} changed while being checked out.");
            }
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            // The badge is already dead (fail closed); the visitor stays "on site" until a retry records the out-time.
            logger.LogError(ex, "Check-out of visitor {Visitor} of visit {Visit}: badge revoked, but the out-time could not be stored.", number, id);
            await FailedAsync(audited, ex);
            return VisitResult<VisitView>.Unavailable("The badge is deactivated, but the check-out could not be recorded. Try again.");
        }

        return VisitResult<VisitView>.Ok(View(store.Get(id)!));
    }

    /// <summary>
    /// Ends a person's part in visits when they leave (a termination, by the HR feed or an operator; NIST PS-4): each requested or approved visit not yet
    /// ended that they host, or of which they are the only designated escort, is cancelled while nobody has checked in
    /// (action <c>visit.cancel</c>, status <c>withdrawn</c>), and so is each approved visit not yet ended that they approved
    /// and nobody has checked in to (<c>approver_left</c>: another approver approves it again), and each request still awaiting a
    /// decision that they made for another host (<c>requester_left</c>: the host requests it again); a visit they co-escort loses them as escort
    /// (<c>visit.escort_remove</c>); a visit where they are a visitor on site is checked out (<c>visit.check_out</c>,
    /// badge revoked). A visit already in progress that they host or solely escort is left to the front desk and reported
    /// in <see cref="VisitsEnded.InProgress"/>: its visitors are on site, and only the desk can hand them to someone else
    /// (nothing is widened meanwhile: a terminated escort can no longer badge anyone in, and the escort windows they
    /// opened before admit nobody from their <c>person.terminate</c> row on, as the engine admits only behind an active person).
    /// </summary>
    /// <param name="by">The HR feed (<see cref="AdminActor.EverySite"/>) or the operator who terminates the person
    /// (<c>Hr.Termination</c>): a person's visits may be at any site, so a token limited to one site is refused (<c>visit.cancel.refused</c>) before anything is read, whoever passes its request on.</param>
    /// <param name="reference">Put in each audit row's detail (the HR event id).</param>
    public async Task<VisitResult<VisitsEnded>> EndInvolvementAsync(AdminActor by, PersonId person, string? reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(by);
        if (by.Token is { Site: not null } limited)
        {
            return await NotForThisSiteAsync<VisitsEnded>(limited, VisitActions.Cancel, null, new { person = person.Value });
        }

        var actor = by.Name;
        var who = new OperatorIdentity(actor, OperatorRole.Frontdesk);
        await gate.WaitAsync(cancellationToken);
        try
        {
            var now = clock.GetCurrentInstant();
            var cancelled = new List<long>();
            var escortRemoved = new List<long>();
            var checkedOut = new List<string>();
            var inProgress = new List<long>();
            foreach (var visit in store.Involving(person.Value, now))
            {
                foreach (var visitor in visit.Visitors.Where(v => v.PersonId == person.Value && v.Status == VisitorStatus.OnSite))
                {
                    var checkOut = await CheckOutLockedAsync(who, visit.Id, visitor.Number, reference);
                    if (!checkOut.IsOk)
                    {
                        return checkOut.Cast<VisitsEnded>();
                    }

                    checkedOut.Add($"{visit.Id}/{visitor.Number}");
                }

                var hosts = visit.Host == person;
                var escorts = visit.Escorts.Contains(person);
                // An approval, and before it a request, vouches for the visitors: one by a leaver that nobody has used yet is
                // vouched for no more (an insider's last approval, or last request, for an accomplice's visit after they leave).
                var approves = visit.Status == VisitStatus.Approved && visit.Decision?.ByPerson == person.Value;
                var requests = visit.Status == VisitStatus.Requested && visit.RequestedByPerson == person.Value;
                if ((!hosts && !escorts && !approves && !requests) || visit.Status is not (VisitStatus.Requested or VisitStatus.Approved) || visit.Interval.End <= now)
                {
                    continue;
                }

                var remaining = visit.Escorts.Remove(person);
                var coEscort = escorts && !hosts && !remaining.IsEmpty; // the visit can go on with its other escorts
                string? cancelWhy;
                if (visit.Visitors.Any(v => v.Status != VisitorStatus.Expected))
                {
                    // Under way: its visitors are on site. Only the desk can hand them to someone else.
                    if (!coEscort && (hosts || escorts))
                    {
                        inProgress.Add(visit.Id);
                    }

                    cancelWhy = null;
                }
                else
                {
                    cancelWhy = hosts ? "host_left" : approves ? "approver_left" : requests ? "requester_left" : coEscort ? null : "escort_left";
                }

                if (cancelWhy is null && coEscort)
                {
                    // Its visitors on site can no longer follow this escort from before the row on (the escort windows they
                    // opened before are already closed by their termination; this keeps the visit's escorts in step).
                    var onSite = visit.Visitors.Where(v => v.Status == VisitorStatus.OnSite && v.PersonId is not null).Select(v => new PersonId(v.PersonId!)).ToList();
                    var removed = await ChangeAsync(actor, VisitActions.EscortRemove, visit.Site, person.Value, null,
                        new { visit = visit.Id, escort = person.Value, remaining = remaining.Select(e => e.Value), reference },
                        () => store.SetEscorts(visit.Id, remaining) ? visit.Id : throw new InvalidOperationException($"Visit {visit.Id} disappeared."),
                        c => onSite.Aggregate(c, (next, visitor) => next.WithDesignatedEscorts(visitor, [.. remaining])));
                    if (!removed.IsOk)
                    {
                        return removed.Cast<VisitsEnded>();
                    }

                    escortRemoved.Add(visit.Id);
                }
                else if (cancelWhy is not null)
                {
                    var done = await ChangeAsync(actor, VisitActions.Cancel, visit.Site, visit.Host.Value, null,
                        new { visit = visit.Id, was = VisitCodes.Code(visit.Status), why = cancelWhy, person = person.Value, reference },
                        () => store.Cancel(visit.Id, actor, now) ? visit.Id : throw new InvalidOperationException($"Visit {visit.Id} changed while being cancelled."));
                    if (!done.IsOk)
                    {
                        return done.Cast<VisitsEnded>();
                    }

                    cancelled.Add(visit.Id);
                }
            }

            return VisitResult<VisitsEnded>.Ok(new VisitsEnded(cancelled, escortRemoved, checkedOut, inProgress));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Recomputes what the doors must know from the front desk: every pooled badge card (unbound ones answer
    /// visit_not_checked_in) and every visitor on site who matches the watch list (refused at every door).
    /// Called after each change of the pool, the watch list or who is on site, and at start-up.
    /// </summary>
    public VisitorRules RefreshDoorRules()
    {
        var pooled = store.Badges(null).Select(b => b.Card).ToImmutableHashSet(StringComparer.Ordinal);
        var rules = new VisitorRules(pooled, OnSiteMatching(x => Watchlisted(x.Name, x.Organization) is not null));
        configuration.UpdateCardholders(c => c.With(rules));
        return rules;
    }

    /// <summary>The people of the visitors on site who match.</summary>
    private ImmutableHashSet<PersonId> OnSiteMatching(Func<VisitVisitor, bool> match) =>
        store.WithVisitorsOnSite()
            .SelectMany(v => v.Visitors.Where(x => x.Status == VisitorStatus.OnSite && x.PersonId is not null && match(x)))
            .Select(x => new PersonId(x.PersonId!))
            .ToImmutableHashSet();

    /// <summary>
    /// Puts the designated escorts of every visitor still checked in back into the live configuration; called once at
    /// start-up, because that map lives in memory (the visit records are its source).
    /// </summary>
    public int RestoreDesignatedEscorts()
    {
        var restored = 0;
        foreach (var (visit, visitor) in store.CheckedInBetween(Instant.MinValue, Instant.MaxValue, null, null, int.MaxValue))
        {
            if (visitor.CheckedOutAt is null && visitor.PersonId is { } person && !visit.Escorts.IsEmpty)
            {
                configuration.UpdateCardholders(c => c.WithDesignatedEscorts(new PersonId(person), [.. visit.Escorts]));
                restored++;
            }
        }

        return restored;
    }

    /// <summary>
    /// Who changes a visit's own cardholders (its access level, visitors and badges) in <see cref="AdminService"/>: the
    /// desk, for every site. A token limited to one site changes no cardholders of its own accord, but this service has
    /// checked the visit's site against the desk's token (<see cref="OperatorIdentity.ActsFor"/>) and makes them for that
    /// visit alone: a level of the visit's zones, its visitors, badges of the site's pool.
    /// </summary>
    private static AdminActor PerVisit(OperatorIdentity desk) => AdminActor.EverySite(desk.Operator);

    /// <summary>Creates the per-visit access level, person and credential through <see cref="AdminService"/>. Null on success, else why not.</summary>
    private async Task<string?> GrantBadgeAsync(AdminActor actor, Visit visit, VisitVisitor visitor, string personId, PooledBadge badge, Instant now)
    {
        var level = await admin.UpsertAccessLevelAsync(actor, visit.AccessLevel.Value,
            new AccessLevelInput($"Visit {visit.Id} ({visit.Site})", [.. visit.Zones.Select(z => z.Value)], ScheduleId.Always.Value));
        if (!level.IsOk)
        {
            return $"access level: {level.Message} {string.Join("; ", level.Errors)}";
        }

        var person = await admin.UpsertPersonAsync(actor, personId, new PersonInput(visitor.Name, "visitor", "active", [visit.AccessLevel.Value]));
        if (!person.IsOk)
        {
            return $"person: {person.Message} {string.Join("; ", person.Errors)}";
        }

        // A visit that names its escorts: only they can bring this visitor into escort-required zones.
        configuration.UpdateCardholders(c => c.WithDesignatedEscorts(new PersonId(personId), visit.Escorts.IsEmpty ? null : [.. visit.Escorts]));
        // A re-issue: the badge's previous check-out revoked it, and only a re-issue binds a revoked card again.
        var credential = await admin.ReissueCredentialAsync(
            actor, badge.Card, new CredentialInput(badge.Technology, personId, now, visit.Interval.End, "active"), $"check-in of visitor {visitor.Number} of visit {visit.Id}");
        return credential.IsOk ? null : $"credential: {credential.Message} {string.Join("; ", credential.Errors)}";
    }

    /// <summary>
    /// Why the visit's host can no longer be responsible for its visitors (suspended, terminated or gone since the
    /// request: an administrator's change does not cancel visits, only the HR feed's termination does), or null.
    /// </summary>
    private static string? InactiveHost(Visit visit, Cardholders cardholders, Instant now) =>
        cardholders.People.TryGetValue(visit.Host, out var host) && host.Kind == PersonKind.Employee && cardholders.IsActiveAt(host, now)
            ? null
            : $"The host {visit.Host} of visit {visit.Id} is no longer an active employee.";

    /// <summary>
    /// Why a visitor who is not expected cannot be checked in, in words the desk can act on: one on site holds a badge
    /// already; one checked out came and went (a visitor is checked in once a visit, so one back after lunch needs a new
    /// visit, requested and approved before it starts, like any other).
    /// </summary>
    private string CheckedInAlready(Visit visit, VisitVisitor visitor)
    {
        var zone = ZoneOf(visit.Site);
        string When(string words, Instant? at) => at is { } instant ? words + WindowView.Describe(instant, zone) : "";
        return visitor.Status == VisitorStatus.OnSite
            ? $"Visitor {visitor.Number} of visit {visit.Id} is already checked in, with badge {visitor.Badge}{When(", since ", visitor.CheckedInAt)}."
            : $"Visitor {visitor.Number} of visit {visit.Id} was checked out{When(" at ", visitor.CheckedOutAt)}; a visitor is checked in once a visit. "
                + "To come in again (back after lunch, say), the host requests a new visit and an approver approves it before it starts.";
    }

    private (PooledBadge? Badge, VisitResult<VisitView>? Problem) PickBadge(SiteId site, string? wanted, Cardholders cardholders)
    {
        var busy = store.BadgesOut();

        // A pool card that is now someone else's credential (an employee's) is never handed out as a visitor badge.
        bool Usable(PooledBadge b) =>
            !busy.ContainsKey(b.Card)
            && (!cardholders.Credentials.TryGetValue(b.Card, out var credential)
                || (cardholders.People.TryGetValue(credential.Person, out var holder) && holder.Kind == PersonKind.Visitor));

        var pool = store.Badges(site.Value);
        if (wanted is not null)
        {
            var uid = CardUid.Normalize(wanted);
            if (uid is null)
            {
                return (null, VisitResult<VisitView>.Invalid("badge", "must be 2 to 32 hexadecimal digits"));
            }

            // Say why, so that the desk knows what to do with the badge in hand: one still out was handed to someone
            // who has not given it back (or is the wrong badge), and is returned first.
            var chosen = pool.FirstOrDefault(b => b.Card == uid);
            var why = chosen is null
                ? $"Badge {uid} is not in the badge pool of site '{site}': hand out another one (an admin adds it to the pool)."
                : busy.TryGetValue(uid, out var holder)
                    ? $"Badge {uid} is still out, with visitor {holder.Visitor} of visit {holder.Visit}: hand out another one, or check that visitor out first (visit return {uid}) if the badge is back."
                    : !Usable(chosen)
                        ? $"Badge {uid} is a credential of someone who is not a visitor, so it is not handed out: hand out another one (an admin takes it out of the pool)."
                        : null;
            return why is null
                ? (chosen, null)
                : (null, VisitResult<VisitView>.Refused(VisitRefusals.NoBadgeAvailable, why));
        }

        var free = pool.FirstOrDefault(Usable);
        return free is not null
            ? (free, null)
            : (null, VisitResult<VisitView>.Refused(VisitRefusals.NoBadgeAvailable, $"No free visitor badge in the pool of site '{site}'."));
    }

    /// <summary>
    /// An action on a visit of a site the token does not act for (<c>--site</c> limits a token to one site): a
    /// <c>security</c> row <c>&lt;action&gt;.refused</c> and 403 <c>not_approver_for_site</c>, whatever the role.
    /// </summary>
    private Task<VisitResult<VisitView>> NotForThisSiteAsync(OperatorIdentity who, string action, Visit visit, int? visitor) =>
        NotForThisSiteAsync<VisitView>(who, action, visit.Site.Value,
            new { visit = visit.Id, visitor }, visit.Host.Value);

    /// <summary>The refusal of a token limited to another site (<see cref="SiteLimit"/>), on anything this service keeps per site.</summary>
    /// <param name="site">The site aimed at; null for what spans every site (the watch list).</param>
    private async Task<VisitResult<T>> NotForThisSiteAsync<T>(OperatorIdentity who, string action, string? site, object named, string? person = null)
    {
        await AdminApi.RecordRefusalAsync(appendLog, SiteLimit.Row(who, action, clock.GetCurrentInstant(), site, named) with { PersonId = person }, logger);
        return VisitResult<T>.Forbidden(SiteLimit.Code, SiteLimit.Message(who));
    }

    private async Task<VisitResult<VisitView>> RefuseCheckInAsync(OperatorIdentity desk, Visit visit, int number, string code, string message, long? watchlistEntry = null)
    {
        await SecurityAsync(desk, LogReasons.Refused(VisitActions.CheckIn), visit, number, code, watchlistEntry);
        return VisitResult<VisitView>.Refused(code, message);
    }

    // ---- who is here, overdue badges, the visitor log ----------------------------------------------

    /// <summary>
    /// Visitors on site now, with their host, badge, escorts and where they were last let through, the times also on
    /// their site's clock.
    /// </summary>
    public IReadOnlyList<OnSiteView> OnSite(string? site = null)
    {
        var rows = new List<OnSiteView>();
        foreach (var visit in store.WithVisitorsOnSite().Where(v => site is null || v.Site.Value == site))
        {
            var zone = ZoneOf(visit.Site);
            foreach (var visitor in visit.Visitors.Where(v => v.Status == VisitorStatus.OnSite))
            {
                rows.Add(new OnSiteView(visit.Id, visitor.Number, visitor.Name, visitor.Organization, visit.Host.Value, visitor.Badge, visitor.CheckedInAt!.Value,
                    visit.Interval.End, [.. visit.Zones.Select(z => z.Value)], [.. visit.Escorts.Select(e => e.Value)], visit.Escorts.IsEmpty,
                    LastSeen(visitor, zone))
                {
                    TimeZone = zone?.Id,
                    CheckedInLocal = WindowView.Local(visitor.CheckedInAt, zone),
                    WindowEndsLocal = WindowView.Local(visit.Interval.End, zone),
                });
            }
        }

        return rows;
    }

    private LastSeenView? LastSeen(VisitVisitor visitor, DateTimeZone? zone)
    {
        if (visitor.PersonId is null || visitor.CheckedInAt is not { } since)
        {
            return null;
        }

        var grants = log.Find(new LogFilter { PersonId = visitor.PersonId, Kind = LogKinds.Access, Decision = "grant", From = since, Limit = EntryLogQuery.MaxLimit });
        if (grants.Count == 0)
        {
            return null;
        }

        var last = grants[^1];
        return new LastSeenView(last.At, last.DoorId, last.ZoneId, last.ReaderId, EscortOf(last.Detail)) { AtLocal = WindowView.Local(last.At, zone) };
    }

    /// <summary>
    /// The escort named in an access row's detail (the pipeline links escorted entries to their escort); none for a
    /// detail the service did not write (a changed database: the on-site list, the desk's roll call, still answers).
    /// </summary>
    private static string? EscortOf(string? detail)
    {
        using var json = StoredDetail.Object(detail);
        return json is not null && json.RootElement.TryGetProperty("escort", out var escort) && escort.ValueKind == System.Text.Json.JsonValueKind.String
            ? escort.GetString() : null;
    }

    /// <summary>
    /// Badges still out after their visit's window ended (their credentials have expired; the badges are missing), the
    /// times also on their site's clock.
    /// </summary>
    public IReadOnlyList<OverdueBadgeView> OverdueBadges(string? site = null)
    {
        var now = clock.GetCurrentInstant();
        var rows = new List<OverdueBadgeView>();
        foreach (var visit in store.WithVisitorsOnSite().Where(v => v.Interval.End <= now && (site is null || v.Site.Value == site)))
        {
            var zone = ZoneOf(visit.Site);
            foreach (var visitor in visit.Visitors.Where(x => x.Status == VisitorStatus.OnSite))
            {
                rows.Add(new OverdueBadgeView(visitor.Badge!, visit.Id, visitor.Number, visitor.Name, visitor.Organization, visit.Host.Value, visit.Interval.End, visitor.OverdueAlarmAt)
                {
                    TimeZone = zone?.Id,
                    WindowEndedLocal = WindowView.Local(visit.Interval.End, zone),
                    AlarmRaisedLocal = WindowView.Local(visitor.OverdueAlarmAt, zone),
                });
            }
        }

        return rows;
    }

    /// <summary>
    /// For the supervision tick: one <c>visitor_badge_not_returned</c> alarm per badge whose visit window has ended,
    /// raised once per badge (the badge is marked when the alarm is returned). The caller logs and publishes the alarms
    /// (<c>EventPipeline</c>'s alarm path). The detail names the visit, badge and host, not the visitor.
    /// </summary>
    public async Task<IReadOnlyList<Alarm>> CheckOverdueBadgesAsync(CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            var now = clock.GetCurrentInstant();
            var alarms = new List<Alarm>();
            foreach (var visit in store.WithVisitorsOnSite().Where(v => v.Interval.End <= now))
            {
                foreach (var visitor in visit.Visitors.Where(x => x.Status == VisitorStatus.OnSite && x.OverdueAlarmAt is null))
                {
                    store.MarkOverdueAlarm(visit.Id, visitor.Number, now);
                    alarms.Add(new Alarm(VisitorAlarms.BadgeNotReturned, visit.Site.Value, null, null,
                        $"visitor badge {visitor.Badge} (visit {visit.Id}, visitor {visitor.Number}, host {visit.Host}) not returned; the window ended at {WindowView.Describe(visit.Interval.End, ZoneOf(visit.Site))}"));
                }
            }

            return alarms;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// The visitor log (PCI DSS 9.3.4): visitors checked in within [from, to), in check-in order, after <paramref name="after"/>.
    /// A page holds at most <paramref name="limit"/> rows; its <c>next</c> is the cursor of the rows left, null when none is.
    /// </summary>
    public Page<VisitorLogRow> VisitorLog(Instant from, Instant to, string? site = null, int limit = 1000, VisitorLogCursor? after = null)
    {
        var people = configuration.Cardholders.People;
        var found = store.CheckedInBetween(from, to, site, after, limit + 1);
        var page = found.Take(limit).ToList();
        var next = found.Count > limit ? VisitorLogCursor.Of(page[^1].Visitor.CheckedInAt!.Value, page[^1].Visit.Id, page[^1].Visitor.Number).ToString() : null;
        return new Page<VisitorLogRow>([.. page.Select(p => new VisitorLogRow(
            p.Visit.Id,
            p.Visitor.Number,
            p.Visit.Site.Value,
            p.Visitor.Name,
            p.Visitor.Organization,
            p.Visit.Host.Value,
            people.TryGetValue(p.Visit.Host, out var host) ? host.Name : null,
            p.Visit.Purpose,
            p.Visit.Decision?.By,
            p.Visit.Decision?.ByPerson,
            p.Visitor.Badge,
            p.Visitor.CheckedInAt,
            p.Visitor.CheckedInBy,
            p.Visitor.CheckedOutAt,
            p.Visitor.CheckedOutBy,
            VisitCodes.Code(p.Visitor.Status)))], next);
    }

    // ---- retention ---------------------------------------------------------------------------------

    /// <summary>
    /// Deletes the visit records (visits, visitors, document hashes) of visits that ended more than the retention period
    /// ago and have nobody on site (action <c>visit.purge</c>, listing the visits purged). Every run writes its row, one
    /// that finds nothing to purge too (no visits, no visitors): who ran it, when, and the cut-off are on record each time.
    /// The per-visit cardholders are terminated as anyone is (a termination's steps: each card revoked, each fingerprint
    /// template revoked, every row naming the purge's), then stripped of their name and access (through
    /// <see cref="AdminService"/>), and their access levels deleted. The entry log is append-only and keeps its rows. The purge spans every site: refused to a token limited to one site
    /// (<see cref="SiteLimit"/>) here, before anything is read, whoever passes its request on.
    /// </summary>
    /// <param name="who">An admin's token (<see cref="AdminActor.Of"/>), or the daily retention job (<see cref="AdminActor.EverySite"/>).</param>
    public async Task<VisitResult<PurgeSummary>> PurgeAsync(AdminActor who, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(who);
        if (who.Token is { Site: not null } limited)
        {
            return await NotForThisSiteAsync<PurgeSummary>(limited, VisitActions.Purge, null, new { });
        }

        var actor = who.Name;
        await gate.WaitAsync(cancellationToken);
        try
        {
            var cutoff = clock.GetCurrentInstant() - Duration.FromTimeSpan(options.Retention);
            var visits = store.EndedBefore(cutoff);
            var summary = new PurgeSummary(cutoff, [.. visits.Select(v => v.Id)], visits.Sum(v => v.Visitors.Length));
            var audited = await AuditAsync(actor, VisitActions.Purge, null, null, null, new { cutoff, retentionDays = options.Retention.TotalDays, visits = summary.Visits, visitors = summary.Visitors });
            if (audited is null)
            {
                return VisitResult<PurgeSummary>.Unavailable("The audit log is unavailable; nothing was purged.");
            }

            if (visits.Count == 0)
            {
                return VisitResult<PurgeSummary>.Ok(summary);
            }

            foreach (var visit in visits)
            {
                foreach (var visitor in visit.Visitors.Where(v => v.PersonId is not null))
                {
                    var person = new PersonId(visitor.PersonId!);
                    if (configuration.Cardholders.People.ContainsKey(person))
                    {
                        var why = await terminatePurged(who, person, $"visit.purge row {audited.Seq}");
                        var stripped = why is null
                            ? await admin.UpsertPersonAsync(who, person.Value, new PersonInput("purged visitor", "visitor", "terminated", []), cancellationToken)
                            : AdminResult<Person>.Unavailable(why);
                        if (!stripped.IsOk)
                        {
                            await FailedAsync(audited, new InvalidOperationException(stripped.Message));
                            return VisitResult<PurgeSummary>.Unavailable($"Visitor {visitor.PersonId} could not be purged; the purge stopped.");
                        }
                    }
                }

                if (configuration.Cardholders.AccessLevels.ContainsKey(visit.AccessLevel))
                {
                    var deleted = await admin.DeleteAccessLevelAsync(who, visit.AccessLevel.Value, cancellationToken);
                    if (!deleted.IsOk)
                    {
                        await FailedAsync(audited, new InvalidOperationException(deleted.Message));
                        return VisitResult<PurgeSummary>.Unavailable($"Access level {visit.AccessLevel} could not be deleted; the purge stopped.");
                    }
                }
            }

            store.DeleteVisits(summary.Visits.ToList());
            logger.LogInformation("Visitor retention purge: {Visits} visits with {Visitors} visitors ended before {Cutoff} deleted.", summary.Visits.Count, summary.Visitors, cutoff);
            return VisitResult<PurgeSummary>.Ok(summary);
        }
        finally
        {
            gate.Release();
        }
    }

    // ---- watch list --------------------------------------------------------------------------------

    public IReadOnlyList<WatchlistView> Watchlist() => [.. store.Watchlist().Select(WatchlistView.From)];

    /// <summary>
    /// Adds a person or an organization to the watch list (action <c>watchlist.add</c>). Refused to a token limited to
    /// one site (<see cref="SiteLimit"/>): the list is checked at every site's front desk.
    /// </summary>
    public async Task<VisitResult<WatchlistView>> AddToWatchlistAsync(OperatorIdentity security, WatchlistInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(security);
        ArgumentNullException.ThrowIfNull(input);
        if (security.Site is not null)
        {
            return await NotForThisSiteAsync<WatchlistView>(security, VisitActions.WatchlistAdd, null, new { kind = input.Kind });
        }
        var errors = new List<FieldError>();
        if (!VisitCodes.TryParseWatchlistKind(input.Kind, out var kind))
        {
            errors.Add(new FieldError("kind", "must be person or organization"));
        }

        var value = CheckText(input.Value, "value", AdminService.MaxNameLength, errors);
        var note = input.Note is null ? null : CheckText(input.Note, "note", MaxNoteLength, errors);
        if (errors.Count > 0)
        {
            return VisitResult<WatchlistView>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var normalized = VisitorNames.Normalize(value);
            var now = clock.GetCurrentInstant();
            // Someone already on site who now matches is refused at every door from before the row on.
            var onSite = OnSiteMatching(x => Matches(kind, value!, x.Name, x.Organization));
            var added = await ChangeAsync(security.Operator, VisitActions.WatchlistAdd, null, null, null, new { kind = VisitCodes.Code(kind), value, normalized, note }, () =>
            {
                var id = store.AddToWatchlist(kind, value!, normalized, note, now, security.Operator);
                return WatchlistView.From(store.Watchlist().Single(e => e.Id == id));
            }, onSite.IsEmpty ? null : c => c.With(c.Visitors with { Watchlisted = c.Visitors.Watchlisted.Union(onSite) }));
            RefreshDoorRules();
            return added;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Removes a watch-list entry (action <c>watchlist.remove</c>). Refused to a site-limited token, like <see cref="AddToWatchlistAsync"/>.</summary>
    public async Task<VisitResult<WatchlistView>> RemoveFromWatchlistAsync(OperatorIdentity security, long id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(security);
        if (security.Site is not null)
        {
            return await NotForThisSiteAsync<WatchlistView>(security, VisitActions.WatchlistRemove, null, new { id });
        }
        await gate.WaitAsync(cancellationToken);
        try
        {
            var entry = store.Watchlist().FirstOrDefault(e => e.Id == id);
            if (entry is null)
            {
                return VisitResult<WatchlistView>.NotFound($"No watch-list entry {id}.");
            }

            var removed = await ChangeAsync(security.Operator, VisitActions.WatchlistRemove, null, null, null, new { before = WatchlistView.From(entry) }, () =>
            {
                store.RemoveFromWatchlist(id);
                return WatchlistView.From(entry);
            });
            RefreshDoorRules();
            return removed;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The first watch-list entry matching a visitor's name (as a person's name) or organization.</summary>
    private WatchlistEntry? Watchlisted(string name, string organization) =>
        store.Watchlist().FirstOrDefault(e => Matches(e.Kind, e.Value, name, organization));

    /// <summary>Whether a visitor matches a watch-list entry: by their name as a person's name, or by organization.</summary>
    private static bool Matches(WatchlistKind kind, string value, string name, string organization) =>
        kind == WatchlistKind.Person ? VisitorNames.Matches(name, value) : VisitorNames.SameOrganization(organization, value);

    // ---- badge pool --------------------------------------------------------------------------------

    public IReadOnlyList<PooledBadgeView> Badges(string? site = null)
    {
        var busy = store.BadgesOut();
        return [.. store.Badges(site).Select(b => new PooledBadgeView(b.Card, b.Site.Value, b.Technology, b.AddedAt, b.AddedBy,
            busy.TryGetValue(b.Card, out var h) ? h.Visit : null, busy.TryGetValue(b.Card, out var h2) ? h2.Visitor : null))];
    }

    /// <summary>
    /// Adds a card to a site's badge pool, or moves or changes it (action <c>badge_pool.add</c>, with <c>before</c>, the
    /// badge as it was, when it was in the pool already). A card that is an employee's
    /// credential is refused. A site-limited token adds only to its site and moves only its site's badges.
    /// </summary>
    public async Task<VisitResult<PooledBadgeView>> AddBadgeAsync(OperatorIdentity admin, string card, PooledBadgeInput input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(admin);
        var actor = admin.Operator;
        ArgumentNullException.ThrowIfNull(input);
        var snapshot = configuration.Current;
        var errors = new List<FieldError>();
        var uid = CardUid.Normalize(card);
        if (uid is null)
        {
            errors.Add(new FieldError("card", "must be 2 to 32 hexadecimal digits (':', '-' and spaces are ignored)"));
        }
        else if (snapshot.Cardholders.Credentials.TryGetValue(uid, out var credential)
                 && (!snapshot.Cardholders.People.TryGetValue(credential.Person, out var holder) || holder.Kind != PersonKind.Visitor))
        {
            errors.Add(new FieldError("card", $"is the credential of {credential.Person}, not a visitor badge"));
        }

        if (CheckId(input.Site, "site", errors) is { } siteText && !snapshot.Topology.Sites.ContainsKey(new SiteId(siteText)))
        {
            errors.Add(new FieldError("site", $"no site '{siteText}'"));
        }

        if (!CardUid.IsTechnologyToken(input.Technology))
        {
            errors.Add(new FieldError("technology", "must be 1 to 32 characters of a-z 0-9 and '-', such as desfire-ev3"));
        }

        if (errors.Count > 0)
        {
            return VisitResult<PooledBadgeView>.Invalid(errors);
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var previous = store.Badge(uid!);
            if (previous is { } moved && !admin.ActsFor(moved.Site.Value))
            {
                return await NotForThisSiteAsync<PooledBadgeView>(admin, VisitActions.BadgePoolAdd, moved.Site.Value, new { card = uid, site = input.Site });
            }

            if (!admin.ActsFor(input.Site!))
            {
                return await NotForThisSiteAsync<PooledBadgeView>(admin, VisitActions.BadgePoolAdd, input.Site!, new { card = uid });
            }

            if (store.BadgesOut().ContainsKey(uid!))
            {
                return VisitResult<PooledBadgeView>.Conflict($"Badge {uid} is out with a visitor; change it after it is returned.");
            }

            var badge = new PooledBadge(uid!, new SiteId(input.Site!), input.Technology!, clock.GetCurrentInstant(), actor);
            // A badge moved or changed: the pool keeps it only as it is now (its adder and time replaced), so its row says what it was.
            var before = previous is null ? null : new PooledBadgeView(previous.Card, previous.Site.Value, previous.Technology, previous.AddedAt, previous.AddedBy);
            var added = await ChangeAsync(actor, VisitActions.BadgePoolAdd, badge.Site, null, uid, new { card = uid, site = input.Site, technology = input.Technology, before }, () =>
            {
                store.UpsertBadge(badge);
                return new PooledBadgeView(badge.Card, badge.Site.Value, badge.Technology, badge.AddedAt, badge.AddedBy);
            });
            RefreshDoorRules();
            return added;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Takes a card out of the pool (action <c>badge_pool.remove</c>); not while it is out with a visitor. A site-limited
    /// token removes only its site's badges.
    /// </summary>
    public async Task<VisitResult<PooledBadgeView>> RemoveBadgeAsync(OperatorIdentity admin, string card, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(admin);
        var actor = admin.Operator;
        var uid = CardUid.Normalize(card);
        if (uid is null)
        {
            return VisitResult<PooledBadgeView>.Invalid("card", "must be 2 to 32 hexadecimal digits");
        }

        await gate.WaitAsync(cancellationToken);
        try
        {
            var badge = store.Badge(uid);
            if (badge is null)
            {
                return VisitResult<PooledBadgeView>.NotFound($"Badge {uid} is not in a pool.");
            }

            if (!admin.ActsFor(badge.Site.Value))
            {
                return await NotForThisSiteAsync<PooledBadgeView>(admin, VisitActions.BadgePoolRemove, badge.Site.Value, new { card = uid });
            }

            if (store.BadgesOut().ContainsKey(uid))
            {
                return VisitResult<PooledBadgeView>.Conflict($"Badge {uid} is out with a visitor; check them out first.");
            }

            var view = new PooledBadgeView(badge.Card, badge.Site.Value, badge.Technology, badge.AddedAt, badge.AddedBy);
            var removed = await ChangeAsync(actor, VisitActions.BadgePoolRemove, badge.Site, null, uid, new { before = view }, () =>
            {
                store.DeleteBadge(uid);
                return view;
            });
            RefreshDoorRules();
            return removed;
        }
        finally
        {
            gate.Release();
        }
    }

    // ---- audit -------------------------------------------------------------------------------------

    /// <summary>Audit row, then the write; see the class remarks.</summary>
    /// <param name="restrict">
    /// What the change takes away at the doors, when it does: in flight from before the audit row (a decision meanwhile
    /// is granted only if granted with it too), in force once written, withdrawn if it could not be recorded.
    /// </param>
    private async Task<VisitResult<T>> ChangeAsync<T>(string actor, string action, SiteId? site, string? person, string? card, object detail, Func<T> write,
        Func<Cardholders, Cardholders>? restrict = null)
    {
        using var change = restrict is null ? null : await configuration.BeginChangeAsync(restrict);
        var audited = await AuditAsync(actor, action, site, person, card, detail);
        if (audited is null)
        {
            return VisitResult<T>.Unavailable("The audit log is unavailable; nothing was changed.");
        }

        try
        {
            var written = write();
            change?.Complete();
            return VisitResult<T>.Ok(written);
        }
        catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
        {
            logger.LogError(ex, "A visitor change ({Action} by {Actor}) could not be written after its audit row {Seq}; nothing was changed.", action, actor, audited.Seq);
            await FailedAsync(audited, ex);
            return VisitResult<T>.Unavailable("The visitor database could not be written; nothing was changed.");
        }
    }

    private async Task<LogEntry?> AuditAsync(string actor, string action, SiteId? site, string? person, string? card, object detail)
    {
        var entry = new LogEntry
        {
            At = clock.GetCurrentInstant(),
            Kind = LogKinds.Admin,
            Actor = actor,
            Reason = action,
            SiteId = site?.Value,
            PersonId = person,
            Card = card,
            Detail = AdminJson.Serialize(detail),
        };
        try
        {
            return await appendLog(entry, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogError(ex, "The audit row of a visitor change ({Action} by {Actor}) could not be written; nothing was changed.", action, actor);
            return null;
        }
    }

    private async Task FailedAsync(LogEntry audited, Exception failure)
    {
        try
        {
            await appendLog(
                audited with
                {
                    Seq = 0,
                    At = clock.GetCurrentInstant(),
                    Reason = LogReasons.Failed(audited.Reason!),
                    Detail = AdminJson.Serialize(new { failedSeq = audited.Seq, error = failure.GetType().Name }),
                },
                CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogCritical(ex, "Audit row {Seq} records a visitor change that was not applied, and the failure could not be recorded.", audited.Seq);
        }
    }

    /// <summary>A refusal worth a security review: a <c>security</c> row with the code (never a document number).</summary>
    private async Task SecurityAsync(OperatorIdentity who, string action, Visit visit, int? visitor, string code, long? watchlistEntry)
    {
        var entry = new LogEntry
        {
            At = clock.GetCurrentInstant(),
            Kind = LogKinds.Security,
            Actor = who.Operator,
            Reason = action,
            SiteId = visit.Site.Value,
            PersonId = visit.Host.Value,
            Detail = AdminJson.Serialize(new
            {
                visit = action.StartsWith(VisitActions.Request, StringComparison.Ordinal) ? (long?)null : visit.Id, // a refused request is never stored
                visitor,
                code,
                role = ApiTokens.RoleCode(who.Role),
                person = who.PersonId,
                watchlistEntry,
            }),
        };
        await AdminApi.RecordRefusalAsync(appendLog, entry, logger);
    }

    // ---- validation --------------------------------------------------------------------------------

    private static string? CheckId(string? id, string field, List<FieldError> errors)
    {
        if (id is not null && WireFormat.IsValidId(id))
        {
            return id;
        }

        errors.Add(new FieldError(field, id is null ? "is required" : "must be 1 to 64 characters of A-Z a-z 0-9 . _ : -"));
        return null;
    }

    private static string? CheckText(string? text, string field, int maxLength, List<FieldError> errors)
    {
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            errors.Add(new FieldError(field, "is required"));
            return null;
        }

        if (trimmed.Length > maxLength)
        {
            errors.Add(new FieldError(field, $"must be at most {maxLength} characters"));
            return null;
        }

        if (ReadableText.Problem(trimmed) is { } problem)
        {
            errors.Add(new FieldError(field, problem));
            return null;
        }

        return trimmed;
    }

    /// <summary>An active employee (hosts and escorts are employees: not visitors, not contractors).</summary>
    private static PersonId? CheckEmployee(string? id, string field, Cardholders cardholders, Instant now, List<FieldError> errors)
    {
        if (CheckId(id, field, errors) is not { } valid)
        {
            return null;
        }

        if (!cardholders.People.TryGetValue(new PersonId(valid), out var person))
        {
            errors.Add(new FieldError(field, $"no person '{valid}'"));
            return null;
        }

        if (person.Kind != PersonKind.Employee || !cardholders.IsActiveAt(person, now))
        {
            errors.Add(new FieldError(field, $"'{valid}' is not an active employee"));
            return null;
        }

        return person.Id;
    }

    private static VisitWindow? CheckWindow(string? date, string? start, string? end, List<FieldError> errors)
    {
        var d = date is null ? null : LocalDatePattern.Iso.Parse(date);
        var s = start is null ? null : WindowView.Time.Parse(start);
        var e = end is null ? null : WindowView.Time.Parse(end);
        if (d is not { Success: true })
        {
            errors.Add(new FieldError("date", date is null ? "is required (yyyy-MM-dd, in the site's time zone)" : "must be a date yyyy-MM-dd"));
        }
        else if (!VisitWindow.IsVisitDay(d.Value))
        {
            errors.Add(new FieldError("date", "must be a day before 9999-12-31"));
            d = null;
        }

        if (s is not { Success: true })
        {
            errors.Add(new FieldError("start", start is null ? "is required (HH:mm)" : "must be a time HH:mm"));
        }

        if (e is not { Success: true })
        {
            errors.Add(new FieldError("end", end is null ? "is required (HH:mm; not after the start: the next day)" : "must be a time HH:mm"));
        }

        if (d is not { Success: true } || s is not { Success: true } || e is not { Success: true })
        {
            return null;
        }

        var window = new VisitWindow(d.Value, s.Value, e.Value);
        if (!window.IsValid)
        {
            errors.Add(new FieldError("end", "must differ from start"));
            return null;
        }

        return window;
    }

    /// <param name="tokenSite">The site a site-limited token acts for: another site's zone reads as no zone to it.</param>
    private static ImmutableArray<ZoneId> CheckZones(IReadOnlyList<string?>? zones, Site? site, string? tokenSite, SiteTopology topology, List<FieldError> errors)
    {
        if (zones is null || zones.Count == 0)
        {
            errors.Add(new FieldError("zones", "must name at least one zone"));
            return [];
        }

        var result = ImmutableArray.CreateBuilder<ZoneId>();
        for (var i = 0; i < zones.Count; i++)
        {
            var field = $"zones[{i}]";
            if (CheckId(zones[i], field, errors) is not { } id)
            {
                continue;
            }

            var zone = new ZoneId(id);
            if (!topology.Zones.TryGetValue(zone, out var found) || (tokenSite is not null && found.Site.Value != tokenSite))
            {
                errors.Add(new FieldError(field, $"no zone '{id}'"));
            }
            else if (site is not null && found.Site != site.Id)
            {
                errors.Add(new FieldError(field, $"zone '{id}' is not in site '{site.Id}'"));
            }
            else if (!result.Contains(zone))
            {
                result.Add(zone);
            }
        }

        return result.ToImmutable();
    }
}

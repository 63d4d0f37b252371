using AccessControl.Admin;
using AccessControl.Cardholding;
using AccessControl.People;
using AccessControl.Sites;
using AccessControl.Storage;
using Dapper;
using Microsoft.Extensions.Logging;
using NodaTime;
using NodaTime.Text;

namespace AccessControl.Hr;

/// <summary>
/// At every start, finishes the terminations a crash or a failed step left half done: a person terminated (every card
/// of theirs denied from the status on) who still holds what <see cref="Termination"/> takes away, a card not revoked,
/// an active fingerprint template, or a visit they host or escort (or are on site in) that the termination would end,
/// which a later <c>active</c> (a rehire, or a mistake) would bring back. An operator's termination answered 503, or cut
/// short by the process ending, is otherwise finished only by someone terminating the person again (a site file's is
/// finished by the start that imports the file again, the HR feed's by its periodic job).
/// </summary>
/// <remarks>
/// <para>Each such person gets the steps left (<see cref="Termination.TakeAwayAsync"/>: those done change and record
/// nothing), each row by <see cref="Actor"/> with the reference <c>start &lt;time&gt;</c>, and the row naming the operator
/// tokens its status change revoked if none does yet (<see cref="Termination.TokensRevokedWith"/>), also for someone
/// whose every other step was done. A second start finds nobody and writes nothing. The candidates come from one query
/// over the stored tables, and the few terminated people who were operators, not from a walk over every person.</para>
/// <para>A step that cannot be written (the audit log or the database unavailable) does not refuse the start: the
/// person is terminated, so every card, template and escort window of theirs is denied already, and refusing the
/// start would shut every door of the site for what only a later reactivation could make matter. It is logged as an
/// error naming the people left, and the next start tries again.</para>
/// </remarks>
public sealed class LeaverSweep(Database database, Termination termination, ApiTokens tokens, LiveConfiguration configuration, IClock clock, ILogger<LeaverSweep> logger)
{
    /// <summary>Who the sweep's rows name, as the visitor desk's daily purge is <c>retention-job</c>.</summary>
    public const string Actor = "termination-sweep";

    private static readonly AdminActor Who = AdminActor.EverySite(Actor);

    /// <summary>
    /// Terminated people who hold a card not revoked, an active template, or a visit the termination's visits step
    /// would change (<see cref="Visitors.VisitorService.EndInvolvementAsync"/>: one they host, solely escort or approved
    /// that nobody has checked in to, one they co-escort, one they are on site in; a visit in progress that they host or
    /// solely escort is left to the front desk, so it is no reason to come back to them at every start).
    /// </summary>
    private const string UnfinishedSql = """
        SELECT c.person_id FROM credentials c JOIN people p ON p.id = c.person_id
        WHERE p.status = 'terminated' AND c.status <> 'revoked'
        UNION
        SELECT t.person_id FROM fingerprint_templates t JOIN people p ON p.id = t.person_id
        WHERE p.status = 'terminated' AND t.revoked_at IS NULL
        UNION
        SELECT v.host_person FROM visits v JOIN people p ON p.id = v.host_person
        WHERE p.status = 'terminated' AND v.status IN ('requested', 'approved') AND v.ends_at > @now
          AND NOT EXISTS (SELECT 1 FROM visit_visitors s WHERE s.visit_id = v.id AND s.status <> 'expected')
        UNION
        SELECT v.decided_by_person FROM visits v JOIN people p ON p.id = v.decided_by_person
        WHERE p.status = 'terminated' AND v.status = 'approved' AND v.ends_at > @now
          AND NOT EXISTS (SELECT 1 FROM visit_visitors s WHERE s.visit_id = v.id AND s.status <> 'expected')
        UNION
        SELECT e.value FROM visits v, json_each(v.escorts) e JOIN people p ON p.id = e.value
        WHERE p.status = 'terminated' AND v.status IN ('requested', 'approved') AND v.ends_at > @now AND e.value <> v.host_person
          AND (json_array_length(v.escorts) > 1 OR NOT EXISTS (SELECT 1 FROM visit_visitors s WHERE s.visit_id = v.id AND s.status <> 'expected'))
        UNION
        SELECT s.person_id FROM visit_visitors s JOIN people p ON p.id = s.person_id
        WHERE p.status = 'terminated' AND s.status = 'on_site'
        ORDER BY 1
        """;

    /// <summary>The terminated people whose termination is not finished, by id.</summary>
    public IReadOnlyList<PersonId> Unfinished()
    {
        using var connection = database.Open();
        return [.. connection.Query<string>(UnfinishedSql, new { now = clock.GetCurrentInstant().ToUnixTimeMilliseconds() }).Select(id => new PersonId(id))];
    }

    /// <summary>Finishes each unfinished termination (see the class remarks); what was finished and what could not be.</summary>
    public async Task<LeaverSweepResult> RunAsync()
    {
        var reference = "start " + InstantPattern.ExtendedIso.Format(clock.GetCurrentInstant());
        var finished = new List<PersonId>();
        var left = new List<(PersonId Person, string Why)>();
        var unfinished = Unfinished();
        foreach (var person in unfinished)
        {
            // Read once more from the live state: only a terminated person is ever given a termination's steps.
            if (!configuration.Cardholders.People.TryGetValue(person, out var stored) || stored.Status != PersonStatus.Terminated)
            {
                continue;
            }

            if (await termination.FinishAsync(Who, person, reference) is { } why)
            {
                left.Add((person, why));
            }
            else
            {
                finished.Add(person);
            }
        }

        // Every step done but the row naming the operator tokens the status change revoked (Termination.TokensRevokedWith):
        // the row, and nothing else (a person whose tokens are named already is not reported).
        foreach (var person in tokens.TerminatedWithRevokedTokens().Select(id => new PersonId(id)).Except(unfinished))
        {
            switch (await termination.NameTokensLeftAsync(Who, person, reference))
            {
                case (true, _):
                    finished.Add(person);
                    break;
                case (_, { } why):
                    left.Add((person, why));
                    break;
            }
        }

        if (finished.Count > 0)
        {
            logger.LogWarning("Terminations left unfinished by an earlier run (a crash, or a step that could not be written) were finished at start for {People}: their rows are by {Actor}, reference '{Reference}'.",
                string.Join(", ", finished), Actor, reference);
        }

        if (left.Count > 0)
        {
            logger.LogError("Terminations left unfinished could not be finished at start for {People}; they are terminated (every card denied), but hold what a reactivation would bring back. The next start tries again; or terminate them again.",
                string.Join("; ", left.Select(l => $"{l.Person}: {l.Why}")));
        }

        return new LeaverSweepResult(finished, left.Select(l => l.Person).ToList());
    }
}

/// <summary>What a <see cref="LeaverSweep"/> did: the people whose termination it finished, and those it could not.</summary>
public sealed record LeaverSweepResult(IReadOnlyList<PersonId> Finished, IReadOnlyList<PersonId> Left);

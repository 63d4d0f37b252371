using System.Collections.Immutable;
using System.Text.Json;
using AccessControl.EntryLog;
using AccessControl.Protocol;
using AccessControl.Storage;
using Microsoft.Extensions.Logging;
using NodaTime;

namespace AccessControl.LifeSafety;

/// <summary>Reason codes of the entry-log rows about fire releases (kind <see cref="LogKinds.Safety"/>).</summary>
public static class FireReasons
{
    /// <summary>The fail-safe doors of a site were released by a fire alarm; detail lists the panel and the doors.</summary>
    public const string Release = "fire_release";

    /// <summary>A fire panel reported its alarm cleared. Nothing relocks.</summary>
    public const string Clear = "fire_clear";

    /// <summary>An operator reset the release: the doors are relocked. Actor is the operator; detail says whether it was forced.</summary>
    public const string Reset = "fire_reset";
}

/// <summary>
/// One site's fire release: since when, which panel raised it, the doors released, and the panels whose alarm has
/// not cleared since (an operator reset is refused while any is left, unless forced).
/// </summary>
public sealed record FireRelease(string SiteId, string Panel, Instant Since, ImmutableArray<string> Doors, ImmutableSortedSet<string> PanelsInAlarm)
{
    public bool Cleared => PanelsInAlarm.IsEmpty;
}

/// <summary>
/// The fire release state of every site, immutable. It lives only in the entry log: the pipeline folds each fire row
/// into it as it commits, and <see cref="Load"/> folds the same rows at start-up, so a restart (or a crash in the
/// middle of a release) comes back released and never relocks on its own.
/// </summary>
public sealed record FireState(ImmutableDictionary<string, FireRelease> Sites, ImmutableDictionary<string, ImmutableSortedSet<string>> PanelsInAlarm)
{
    public static FireState Empty { get; } = new(
        ImmutableDictionary<string, FireRelease>.Empty.WithComparers(StringComparer.Ordinal),
        ImmutableDictionary<string, ImmutableSortedSet<string>>.Empty.WithComparers(StringComparer.Ordinal));

    /// <summary>Every door held released now, over all sites.</summary>
    public IEnumerable<string> ReleasedDoors => Sites.Values.SelectMany(s => s.Doors).Distinct(StringComparer.Ordinal);

    /// <summary>Whether any site is released.</summary>
    public bool IsReleased => !Sites.IsEmpty;

    /// <summary>A panel of <paramref name="site"/> reports an alarm (remembered as not cleared, released or not).</summary>
    public FireState Alarm(string site, string panel)
    {
        var panels = PanelsInAlarm.GetValueOrDefault(site, ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal)).Add(panel);
        var sites = Sites.TryGetValue(site, out var release) ? Sites.SetItem(site, release with { PanelsInAlarm = panels }) : Sites;
        return new FireState(sites, PanelsInAlarm.SetItem(site, panels));
    }

    /// <summary>The site's fail-safe doors are released (the <see cref="FireReasons.Release"/> row).</summary>
    public FireState Release(string site, string panel, Instant since, ImmutableArray<string> doors) =>
        this with
        {
            Sites = Sites.SetItem(site, new FireRelease(site, panel, since, doors,
                PanelsInAlarm.GetValueOrDefault(site, ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal)))),
        };

    /// <summary>A panel's alarm cleared; the release, if any, stays.</summary>
    public FireState Clear(string site, string panel)
    {
        var panels = PanelsInAlarm.GetValueOrDefault(site, ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal)).Remove(panel);
        var sites = Sites.TryGetValue(site, out var release) ? Sites.SetItem(site, release with { PanelsInAlarm = panels }) : Sites;
        return new FireState(sites, panels.IsEmpty ? PanelsInAlarm.Remove(site) : PanelsInAlarm.SetItem(site, panels));
    }

    /// <summary>The state of one site only (what a token limited to that site sees and resets); the whole state for null.</summary>
    public FireState Scope(string? site) => site is null
        ? this
        : new FireState(Sites.Where(s => s.Key == site).ToImmutableDictionary(StringComparer.Ordinal),
            PanelsInAlarm.Where(p => p.Key == site).ToImmutableDictionary(StringComparer.Ordinal));

    /// <summary>An operator reset the site's release (a forced reset also forgets the panels not cleared).</summary>
    public FireState Reset(string site) => new(Sites.Remove(site), PanelsInAlarm.Remove(site));

    /// <summary>Folds one committed row in; rows that are not about fire leave the state as it is.</summary>
    public FireState Apply(LogEntry row)
    {
        if (row.SiteId is not { } site)
        {
            return this;
        }

        if (row.Kind == LogKinds.Alarm && row.Reason == AlarmTypes.FireAlarm && row.Source is { } source && source.StartsWith(FireSourcePrefix, StringComparison.Ordinal))
        {
            return Alarm(site, source[FireSourcePrefix.Length..]);
        }

        if (row.Kind != LogKinds.Safety)
        {
            return this;
        }

        return row.Reason switch
        {
            FireReasons.Release => Release(site, ReadDetail(row.Detail, "panel") ?? "", row.At,
                [.. (ReadDetail(row.Detail, "doors") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)]),
            FireReasons.Clear when row.Source is { } s && s.StartsWith(FireSourcePrefix, StringComparison.Ordinal) => Clear(site, s[FireSourcePrefix.Length..]),
            FireReasons.Reset => Reset(site),
            _ => this,
        };
    }

    /// <summary>The <c>source</c> of rows about a fire panel's events: <c>fire/{panelId}</c>.</summary>
    public const string FireSourcePrefix = "fire/";

    // The WHERE clause is exactly that of the partial index ix_entry_log_fire (Migrations/0013_fire_rows_index.sql),
    // $fire being AlarmTypes.FireAlarm: SQLite matches a bound value against the index's literal.
    private const string LoadSql =
        $"SELECT {EntryLogQuery.Columns} FROM entry_log WHERE kind = 'safety' OR (kind = 'alarm' AND reason = $fire) ORDER BY seq";

    /// <summary>
    /// Rebuilds the state from the entry log (at start-up, before the pipeline runs). A release row whose detail the
    /// service did not write (a changed database) is left out, with an error naming it on <paramref name="logger"/>:
    /// its doors stay locked, as they would for a reset, rather than a start refused that keeps every door shut.
    /// </summary>
    public static FireState Load(Database database, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(logger);
        using var connection = database.OpenReadOnly();
        using var command = connection.CreateCommand();
        command.CommandText = LoadSql;
        command.Parameters.AddWithValue("$fire", AlarmTypes.FireAlarm);
        using var reader = command.ExecuteReader();
        var state = Empty;
        while (reader.Read())
        {
            var row = EntryLogQuery.Read(reader);
            if (row.Kind == LogKinds.Safety && row.Reason == FireReasons.Release && row.Detail is { } detail)
            {
                using var readable = StoredDetail.ParseObject(row.Seq, detail, logger, "the fire release it records is not rebuilt, its doors stay locked");
                if (readable is null)
                {
                    continue;
                }
            }

            state = state.Apply(row);
        }

        return state;
    }

    private static string? ReadDetail(string? detail, string name)
    {
        if (detail is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(detail);
        return document.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }
}

/// <summary>What an operator's reset did.</summary>
public enum FireResetOutcome
{
    /// <summary>The released doors were relocked (a <see cref="FireReasons.Reset"/> row per site).</summary>
    Reset,

    /// <summary>Nothing is released: nothing to do, nothing logged.</summary>
    NotReleased,

    /// <summary>A panel has not sent <c>clear</c> since its last alarm, and the reset was not forced: nothing changed.</summary>
    NotCleared,

    /// <summary>The operator acts for one site, and only other sites are released: nothing changed (refused, 403).</summary>
    OtherSitesOnly,
}

/// <summary>
/// The answer to a reset: the outcome, the doors relocked (empty unless reset), the panels in alarm (of the operator's
/// site, for a site-limited operator) and the sites: those reset, for <see cref="FireResetOutcome.OtherSitesOnly"/>
/// those released, for <see cref="FireResetOutcome.NotCleared"/> those whose panels have not cleared.
/// </summary>
public sealed record FireResetResult(FireResetOutcome Outcome, ImmutableArray<string> Relocked, ImmutableArray<string> PanelsInAlarm, ImmutableArray<string> Sites);

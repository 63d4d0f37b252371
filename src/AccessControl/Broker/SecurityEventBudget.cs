using NodaTime;

namespace AccessControl.Broker;

/// <summary>
/// How many of the broker's refusals get an entry-log row of their own. Every refusal is accounted for, but a flood
/// is written as a count: in each window (a minute by default) the first <see cref="SecurityEventLimits.PerSource"/>
/// refusals of one kind from one source (the username presented, or for a packet refused before any login, the
/// remote address) get their own row, and at most <see cref="SecurityEventLimits.PerWindow"/> in all; the rest are
/// counted, and when the window has passed <see cref="Close"/> hands over one <see cref="SuppressedSecurityEvents"/> per
/// kind and source, written as one row.
/// </summary>
/// <remarks>
/// Without it, anyone who can reach the broker's port (no login needed: a wrong password is enough) wrote one chained,
/// durable row per attempt: thousands a second, competing with the swipes for the log's commits, into a log that may
/// not be purged for a year. The disk fills, the log fails, and every door fails closed. No clock of its own: the caller
/// gives the instants (the events' own, and the clock's for a window that passes in silence). Thread-safe: the recorder,
/// the periodic job that closes a silent window and the queue that drops a refusal call it from their own threads.
/// </remarks>
public sealed class SecurityEventBudget
{
    /// <summary>Sources counted apart per window; refusals from further sources are counted under <see cref="OtherSources"/>.</summary>
    public const int MaxSourcesPerWindow = 256;

    /// <summary>The source of refusals beyond <see cref="MaxSourcesPerWindow"/> distinct ones in a window (random usernames).</summary>
    public const string OtherSources = "(other sources)";

    private readonly SecurityEventLimits limits;
    private readonly Lock gate = new();
    private readonly Dictionary<(string What, string Source), int> admitted = [];
    private readonly Dictionary<(string What, string Source), SuppressedSecurityEvents> suppressed = [];
    private Instant? windowStart;
    private int admittedInWindow;

    public SecurityEventBudget(SecurityEventLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        this.limits = limits;
    }

    /// <summary>Whether <paramref name="e"/> gets a row of its own; when not, it is counted for <see cref="Close"/>.</summary>
    public bool Admit(SecurityEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        lock (gate)
        {
            windowStart ??= e.At;
            var key = (e.What, SourceOf(e));
            var bySource = admitted.GetValueOrDefault(key);
            if (bySource < limits.PerSource && admittedInWindow < limits.PerWindow)
            {
                admitted[key] = bySource + 1;
                admittedInWindow++;
                return true;
            }

            Count(key, e.At, dropped: false);
            return false;
        }
    }

    /// <summary>Counts a refusal that never reached the recorder (its queue was full).</summary>
    public void Dropped(SecurityEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        lock (gate)
        {
            windowStart ??= e.At;
            Count((e.What, SourceOf(e)), e.At, dropped: true);
        }
    }

    /// <summary>
    /// When the window has passed by <paramref name="now"/>: what it counted without a row (empty when nothing), and a
    /// new window begins with the next refusal. Before that: empty, and the window goes on.
    /// </summary>
    public IReadOnlyList<SuppressedSecurityEvents> Close(Instant now)
    {
        lock (gate)
        {
            if (windowStart is not { } start || now < start + Duration.FromTimeSpan(limits.Window))
            {
                return [];
            }

            var closed = suppressed.Values.OrderBy(s => s.First).ThenBy(s => s.What, StringComparer.Ordinal).ThenBy(s => s.Source, StringComparer.Ordinal).ToList();
            admitted.Clear();
            suppressed.Clear();
            admittedInWindow = 0;
            windowStart = null;
            return closed;
        }
    }

    /// <summary>Who a refusal counts against: the username presented, else the remote address (a packet refused before any login).</summary>
    private static string SourceOf(SecurityEvent e) =>
        e.Username.Length > 0 ? e.Username
        : e.From is { } from ? from
        : e.ClientId;

    private void Count((string What, string Source) key, Instant at, bool dropped)
    {
        if (!suppressed.TryGetValue(key, out var so) && suppressed.Count >= MaxSourcesPerWindow)
        {
            key = (key.What, OtherSources);
            suppressed.TryGetValue(key, out so);
        }

        suppressed[key] = so is null
            ? new SuppressedSecurityEvents(key.What, key.Source, 1, dropped ? 1 : 0, at, at)
            : so with { Count = so.Count + 1, Dropped = so.Dropped + (dropped ? 1 : 0), First = Instant.Min(so.First, at), Last = Instant.Max(so.Last, at) };
    }
}

/// <summary>
/// Refusals of one kind from one source in one window that got no row of their own: how many, how many of them never
/// reached the recorder (<see cref="Dropped"/>, its queue full), the first and the last.
/// </summary>
public sealed record SuppressedSecurityEvents(string What, string Source, int Count, int Dropped, Instant First, Instant Last);

/// <summary>The limits of <see cref="SecurityEventBudget"/>, section <c>Broker:SecurityEvents</c>.</summary>
public sealed record SecurityEventLimits
{
    /// <summary>The window the limits count in.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Rows of their own per kind and source in a window: a device retrying with a stale password every few seconds stays row by row.</summary>
    public int PerSource { get; init; } = 20;

    /// <summary>Rows of their own in a window, whatever the kind and source.</summary>
    public int PerWindow { get; init; } = 200;

    /// <summary>Every problem with these limits, empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Window <= TimeSpan.Zero || Window > TimeSpan.FromHours(1))
        {
            errors.Add($"Broker:SecurityEvents:Window {Window} must be positive and at most an hour.");
        }

        if (PerSource < 1 || PerWindow < PerSource)
        {
            errors.Add($"Broker:SecurityEvents: PerSource ({PerSource}) must be at least 1 and PerWindow ({PerWindow}) at least PerSource.");
        }

        return errors;
    }
}

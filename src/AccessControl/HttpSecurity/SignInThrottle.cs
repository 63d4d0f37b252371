using NodaTime;

namespace AccessControl.HttpSecurity;

/// <summary>
/// Counts failed sign-ins per key (today a client address presenting bad bearer tokens; the operator terminals' TOTP
/// sign-in will key it by address and account) and locks a key out after too many within a window. Time comes from
/// the service clock, so a lockout is exact and testable. Thread-safe; small (one entry per key that failed recently).
/// </summary>
public sealed class SignInThrottle(HttpSecurityOptions options)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, Entry> entries = new(StringComparer.Ordinal);

    /// <summary>Whether the key is locked out at <paramref name="now"/>, and until when.</summary>
    public bool IsLockedOut(string key, Instant now, out Instant until)
    {
        lock (gate)
        {
            if (entries.TryGetValue(key, out var entry) && entry.LockedUntil is { } locked && now < locked)
            {
                until = locked;
                return true;
            }

            until = default;
            return false;
        }
    }

    /// <summary>Records a failure; returns the end of the lockout when this failure starts one, else null.</summary>
    public Instant? RecordFailure(string key, Instant now)
    {
        lock (gate)
        {
            Prune(now);
            if (!entries.TryGetValue(key, out var entry))
            {
                entry = new Entry();
                entries[key] = entry;
            }

            entry.Failures.Enqueue(now);
            while (entry.Failures.Count > 0 && entry.Failures.Peek() <= now - Duration.FromTimeSpan(options.FailureWindow))
            {
                entry.Failures.Dequeue();
            }

            if (entry.Failures.Count < options.FailuresBeforeLockout || entry.LockedUntil > now)
            {
                return null;
            }

            entry.Failures.Clear();
            entry.LockedUntil = now + Duration.FromTimeSpan(options.LockoutFor);
            return entry.LockedUntil;
        }
    }

    /// <summary>A successful sign-in clears the key's count (not a running lockout).</summary>
    public void RecordSuccess(string key)
    {
        lock (gate)
        {
            if (entries.TryGetValue(key, out var entry) && entry.LockedUntil is null)
            {
                entries.Remove(key);
            }
        }
    }

    private void Prune(Instant now)
    {
        if (entries.Count < 1024)
        {
            return;
        }

        foreach (var key in entries.Where(e => (e.Value.LockedUntil is null || e.Value.LockedUntil <= now)
            && (e.Value.Failures.Count == 0 || e.Value.Failures.Last() <= now - Duration.FromTimeSpan(options.FailureWindow))).Select(e => e.Key).ToList())
        {
            entries.Remove(key);
        }
    }

    private sealed class Entry
    {
        public Queue<Instant> Failures { get; } = new();

        public Instant? LockedUntil { get; set; }
    }
}

using NodaTime;

namespace AccessControl.Events;

/// <summary>
/// At most one alarm of a kind per device per interval: a device that keeps misbehaving (replays, garbage) is alarmed
/// once, not once per message, so it cannot flood <c>ac/v1/alarms</c>. Every message is still logged by its caller.
/// </summary>
/// <remarks>Owned by the pipeline's single loop: not thread-safe. Forgotten at a restart: the first offence after one alarms again.</remarks>
internal sealed class AlarmThrottle(Duration interval)
{
    private readonly Dictionary<string, Instant> last = new(StringComparer.Ordinal);

    /// <summary>The interval between two alarms of one device.</summary>
    public Duration Interval { get; } = interval;

    /// <summary>Whether an alarm for <paramref name="device"/> may be raised now; notes it if so. A clock stepped back since the last one allows it.</summary>
    public bool ShouldAlarm(string device, Instant now)
    {
        if (last.TryGetValue(device, out var previous) && now >= previous && now - previous < Interval)
        {
            return false;
        }

        last[device] = now;
        return true;
    }

    /// <summary>Lets the next offence of <paramref name="device"/> alarm at once.</summary>
    public void Forget(string device) => last.Remove(device);
}

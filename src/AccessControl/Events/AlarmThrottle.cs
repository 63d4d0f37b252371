using NodaTime;

namespace AccessControl.Events;

/// <summary>
/// At most one alarm of a kind per device per interval: a device that keeps misbehaving (replays, garbage) is alarmed
/// once, not once per message, so it cannot flood <c>ac/v1/alarms</c>. Every message is still logged by its caller.
/// It counts what it held back, so that the next alarm, or one at the end of the storm (<see cref="Quieted"/>), can say
/// how many it stands for.
/// </summary>
/// <remarks>Owned by the pipeline's single loop: not thread-safe. Forgotten at a restart: the first offence after one alarms again.</remarks>
internal sealed class AlarmThrottle(Duration interval)
{
    // When each device was last alarmed, and how many offences were held back since.
    private readonly Dictionary<string, (Instant At, int HeldBack)> last = new(StringComparer.Ordinal);

    /// <summary>The interval between two alarms of one device.</summary>
    public Duration Interval { get; } = interval;

    /// <summary>Whether an alarm for <paramref name="device"/> may be raised now; notes it if so. A clock stepped back since the last one allows it.</summary>
    public bool ShouldAlarm(string device, Instant now) => Take(device, now) is not null;

    /// <summary>
    /// As <see cref="ShouldAlarm"/>, counting the offences held back: null when no alarm may be raised now, else how many
    /// were held back since the last one (an alarm at the end of a storm says it stands for them).
    /// </summary>
    public int? Take(string device, Instant now)
    {
        if (last.TryGetValue(device, out var previous) && now >= previous.At && now - previous.At < Interval)
        {
            last[device] = previous with { HeldBack = previous.HeldBack + 1 };
            return null;
        }

        last[device] = (now, 0);
        return previous.HeldBack;
    }

    /// <summary>
    /// Devices with offences held back whose interval has passed: their storm is over (or paused), and the console is
    /// owed an alarm saying so. Each is noted as alarmed now, so a storm that goes on still alarms once per interval.
    /// </summary>
    public IReadOnlyList<(string Device, int HeldBack)> Quieted(Instant now)
    {
        var quiet = last.Where(d => d.Value.HeldBack > 0 && (now < d.Value.At || now - d.Value.At >= Interval))
            .Select(d => (d.Key, d.Value.HeldBack)).ToList();
        foreach (var (device, _) in quiet)
        {
            last[device] = (now, 0);
        }

        return quiet;
    }

    /// <summary>
    /// Ends the storm of <paramref name="device"/> now, as <see cref="Quieted"/> does once its interval passed (its last
    /// offence held back is about to be published): returns how many were held back, and notes it as alarmed now.
    /// </summary>
    public int EndEarly(string device, Instant now)
    {
        var held = last.TryGetValue(device, out var previous) ? previous.HeldBack : 0;
        last[device] = (now, 0);
        return held;
    }

    /// <summary>Lets the next offence of <paramref name="device"/> alarm at once.</summary>
    public void Forget(string device) => last.Remove(device);
}

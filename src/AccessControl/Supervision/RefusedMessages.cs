using System.Globalization;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>
/// Per device, the messages refused as suspected replays since the last one accepted. They are no sign of life (a
/// captured heartbeat sent again proves nothing), but a device whose own messages keep arriving and being refused (its
/// clock drifted past the allowed skew, its seq went back) is not dead: its offline alarm says so, so that the
/// technician looks at its clock or its seq instead of its power and network. Owned by the event pipeline.
/// </summary>
/// <remarks>Only devices of the site file are noted, and a device's entry goes when it is heard from: bounded by the site.</remarks>
internal sealed class RefusedMessages<TId>
    where TId : notnull
{
    private readonly Dictionary<TId, (int Count, Instant Last, string Why)> refused = [];

    /// <summary>A message of the device arrived at <paramref name="at"/> and was refused, <paramref name="why"/> (the replay guard's sentence).</summary>
    public void Note(TId id, Instant at, string why) =>
        refused[id] = (refused.TryGetValue(id, out var before) ? before.Count + 1 : 1, at, why);

    /// <summary>The device was heard from: what was refused before says nothing about its next silence.</summary>
    public void Forget(TId id) => refused.Remove(id);

    /// <summary>The service clock stepped: silence is counted again from the step, and so are refusals.</summary>
    public void Clear() => refused.Clear();

    /// <summary>
    /// The detail of a silence alarm: "no message for N heartbeat intervals" when nothing arrived, or what arrived and
    /// was refused in that time.
    /// </summary>
    public string Silence(TId id, string device, int intervals, Duration silence, Instant now)
    {
        var seconds = silence.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
        if (!refused.TryGetValue(id, out var r))
        {
            return $"no message for {intervals} heartbeat intervals ({seconds} s)";
        }

        var ago = (now - r.Last).TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
        return $"no message accepted for {intervals} heartbeat intervals ({seconds} s), but {r.Count} arrived in that time and {(r.Count == 1 ? "was" : "were")} refused as suspected replays "
            + $"(the last {ago} s ago: {r.Why}): the {device} is sending; look at its clock (NTP) or its seq, not its power or network";
    }
}

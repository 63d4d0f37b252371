using AccessControl.Events;
using AccessControl.Protocol;
using AccessControl.Sites;
using NodaTime;

namespace AccessControl.Supervision;

/// <summary>
/// Counts the unknown cards each reader sees: more than <paramref name="unknownCards"/> within <paramref name="window"/>
/// is someone trying card numbers (a cloner at the reader, or a compromised reader), who learns from the deny reasons
/// which exist. Raises <c>credential_probing</c> once per window per reader. The decision engine stays pure: this
/// only looks at its answers. Owned by the event pipeline; forgotten at a restart.
/// </summary>
public sealed class CredentialProbing(int unknownCards, Duration window)
{
    // The arrival times of each reader's latest unknown cards, at most one more than the threshold.
    private readonly Dictionary<ReaderId, Queue<Instant>> seen = [];
    private readonly AlarmThrottle alarms = new(window);

    /// <summary>
    /// A card unknown to the service was presented at <paramref name="reader"/> and arrived at <paramref name="now"/>
    /// (an offline replay counts when it arrives: a reader that marks its guesses offline is not let off).
    /// </summary>
    public Alarm? Unknown(Reader reader, Door door, Instant now)
    {
        if (!seen.TryGetValue(reader.Id, out var times))
        {
            times = new Queue<Instant>(unknownCards + 1);
            seen[reader.Id] = times;
        }

        if (times.Count > 0 && times.Peek() > now)
        {
            // The clock stepped back: the earlier times say nothing about this window.
            times.Clear();
        }

        times.Enqueue(now);
        if (times.Count > unknownCards + 1)
        {
            times.Dequeue();
        }

        if (times.Count <= unknownCards || now - times.Peek() >= window || !alarms.ShouldAlarm(reader.Id.Value, now))
        {
            return null;
        }

        return new Alarm(AlarmTypes.CredentialProbing, door.Site.Value, door.Id.Value, reader.Id.Value,
            $"reader {reader.Id}: more than {unknownCards} unknown cards within {window.TotalSeconds:0} s; someone may be trying card numbers "
            + "(a card cloner at the reader, or the reader itself); every one is logged, and this alarm is raised at most once per window");
    }
}

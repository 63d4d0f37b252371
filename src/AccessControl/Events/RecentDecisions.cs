using AccessControl.Protocol;

namespace AccessControl.Events;

/// <summary>
/// A bounded memory of recent (source, eventId) pairs and the decision sent for each (null for events that
/// are not answered), so that a QoS 1 redelivery is answered without a database query. The log's unique index
/// remains the truth; this only saves the lookup. Evicts oldest first.
/// </summary>
internal sealed class RecentDecisions(int capacity)
{
    // Every event adds an entry that outlives a gen0 collection: the answer is kept inline (no object per event) and the
    // DecisionMessage is rebuilt on the rare hit, so that the cache costs the collector as little as it can.
    private readonly Dictionary<(string, string), Answer> answers = new(Math.Min(capacity, 4096));
    private readonly Queue<(string, string)> order = new();

    public bool TryGet(string source, string eventId, out DecisionMessage? answer)
    {
        if (answers.TryGetValue((source, eventId), out var found))
        {
            answer = found.ToMessage(eventId);
            return true;
        }

        answer = null;
        return false;
    }

    /// <summary>Records an answer, replacing an earlier one for the same event (a pending card that got its final decision).</summary>
    public void Set(string source, string eventId, DecisionMessage? answer)
    {
        if (capacity > 0 && answers.ContainsKey((source, eventId)))
        {
            answers[(source, eventId)] = Answer.Of(answer);
            return;
        }

        Add(source, eventId, answer);
    }

    public void Add(string source, string eventId, DecisionMessage? answer)
    {
        if (capacity == 0)
        {
            return;
        }

        if (answers.TryAdd((source, eventId), Answer.Of(answer)))
        {
            order.Enqueue((source, eventId));
            if (order.Count > capacity)
            {
                answers.Remove(order.Dequeue());
            }
        }
    }

    /// <summary>A decision without its eventId (the key has it); the default value stands for an event that is not answered.</summary>
    private readonly record struct Answer(bool Answered, bool Grant, bool Pending, string Reason, string? DoorId, int UnlockSeconds)
    {
        public static Answer Of(DecisionMessage? message) => message is null
            ? default
            : new Answer(true, message.Grant, message.Pending, message.Reason, message.DoorId, message.UnlockSeconds);

        public DecisionMessage? ToMessage(string eventId) =>
            Answered ? new DecisionMessage(eventId, Grant, Reason, DoorId, UnlockSeconds) { Pending = Pending } : null;
    }
}

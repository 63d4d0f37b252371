using AccessControl.Protocol;

namespace AccessControl.Events;

/// <summary>
/// A bounded memory of recent (source, eventId) pairs and the decision sent for each (null for events that
/// are not answered), so that a QoS 1 redelivery is answered without a database query. The log's unique index
/// remains the truth; this only saves the lookup. Evicts oldest first.
/// </summary>
internal sealed class RecentDecisions(int capacity)
{
    private readonly Dictionary<(string, string), DecisionMessage?> answers = new(Math.Min(capacity, 4096));
    private readonly Queue<(string, string)> order = new();

    public bool TryGet(string source, string eventId, out DecisionMessage? answer) => answers.TryGetValue((source, eventId), out answer);

    /// <summary>Records an answer, replacing an earlier one for the same event (a pending card that got its final decision).</summary>
    public void Set(string source, string eventId, DecisionMessage? answer)
    {
        if (capacity > 0 && answers.ContainsKey((source, eventId)))
        {
            answers[(source, eventId)] = answer;
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

        if (answers.TryAdd((source, eventId), answer))
        {
            order.Enqueue((source, eventId));
            if (order.Count > capacity)
            {
                answers.Remove(order.Dequeue());
            }
        }
    }
}

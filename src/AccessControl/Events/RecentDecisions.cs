using System.Security.Cryptography;
using System.Text;
using AccessControl.Protocol;

namespace AccessControl.Events;

/// <summary>
/// A bounded memory of recent (source, eventId) pairs, the decision sent for each (null for events that are not
/// answered) and the device's seq of the event (null where the row has none), so that a QoS 1 redelivery is answered
/// without a database query, an eventId reused for another event (another seq) is told from a re-send, and a card that
/// waited for its fingerprint is answered with its final decision. The log's unique index remains the truth. Evicts oldest first.
/// </summary>
/// <remarks>
/// Every event adds an entry that outlives several collections, so an entry holds no object of its own: the key is
/// the first 128 bits of SHA-256 over the source and the eventId (a collision is as likely as one in SHA-256 itself,
/// far below any hardware fault; nothing an attacker can aim at, since a match only repeats the answer that event got),
/// and the answer is kept inline with only interned strings (reason codes, door ids) and rebuilt on the rare hit.
/// Before, each entry kept its eventId string alive for 65,536 events: the largest part of what every gen0 collection
/// had to copy at 1000 events/s.
/// </remarks>
internal sealed class RecentDecisions(int capacity)
{
    // Sized once, at start: grown on demand, each doubling allocated a large-object array (up to 7 MB) that set off a
    // gen2 collection, over and over in the service's first minute at 1000 events/s.
    private readonly Dictionary<UInt128, Answer> answers = new(capacity);
    private readonly Queue<UInt128> order = new(capacity);

    public bool TryGet(string source, string eventId, out DecisionMessage? answer, out long? seq)
    {
        if (capacity > 0 && answers.TryGetValue(Key(source, eventId), out var found))
        {
            answer = found.ToMessage(eventId);
            seq = found.HasSeq ? found.Seq : null;
            return true;
        }

        answer = null;
        seq = null;
        return false;
    }

    /// <summary>
    /// Records an answer, replacing an earlier one for the same event (a pending card that got its final decision: the
    /// event's seq stays the one first recorded).
    /// </summary>
    public void Set(string source, string eventId, DecisionMessage? answer, long? seq)
    {
        if (capacity == 0)
        {
            return;
        }

        var key = Key(source, eventId);
        if (answers.TryGetValue(key, out var earlier))
        {
            answers[key] = Answer.Of(answer, earlier.HasSeq ? earlier.Seq : seq);
            return;
        }

        Add(key, answer, seq);
    }

    public void Add(string source, string eventId, DecisionMessage? answer, long? seq)
    {
        if (capacity > 0)
        {
            Add(Key(source, eventId), answer, seq);
        }
    }

    private void Add(UInt128 key, DecisionMessage? answer, long? seq)
    {
        if (answers.ContainsKey(key))
        {
            return;
        }

        // The oldest goes first, so that neither collection ever holds more than it was sized for.
        if (order.Count == capacity)
        {
            answers.Remove(order.Dequeue());
        }

        answers.Add(key, Answer.Of(answer, seq));
        order.Enqueue(key);
    }

    /// <summary>SHA-256 of UTF-8 <c>source NUL eventId</c>, first 16 bytes. No allocation for ids of ordinary length.</summary>
    internal static UInt128 Key(string source, string eventId)
    {
        var length = Encoding.UTF8.GetMaxByteCount(source.Length + eventId.Length + 1);
        var bytes = length <= 512 ? stackalloc byte[length] : new byte[length];
        var written = Encoding.UTF8.GetBytes(source, bytes);
        bytes[written++] = 0;
        written += Encoding.UTF8.GetBytes(eventId, bytes[written..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(bytes[..written], hash);
        return new UInt128(BitConverter.ToUInt64(hash), BitConverter.ToUInt64(hash[8..]));
    }

    /// <summary>
    /// A decision without its eventId (the caller has it), and the event's seq; <see cref="Answered"/> false stands for an
    /// event that is not answered.
    /// </summary>
    private readonly record struct Answer(bool Answered, bool Grant, bool Pending, string Reason, string? DoorId, int UnlockSeconds, bool HasSeq, long Seq)
    {
        public static Answer Of(DecisionMessage? message, long? seq) => message is null
            ? new Answer(false, false, false, "", null, 0, seq.HasValue, seq.GetValueOrDefault())
            : new Answer(true, message.Grant, message.Pending, message.Reason, message.DoorId, message.UnlockSeconds, seq.HasValue, seq.GetValueOrDefault());

        public DecisionMessage? ToMessage(string eventId) =>
            Answered ? new DecisionMessage(eventId, Grant, Reason, DoorId, UnlockSeconds) { Pending = Pending } : null;
    }
}

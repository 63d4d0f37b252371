namespace AccessControl.Protocol;

/// <summary>What an MQTT topic under the protocol root is about.</summary>
public enum TopicKind
{
    Unknown,
    ReaderEvents,
    ReaderStatus,
    ReaderDecisions,
    ReaderCommands,
    DoorEvents,
    DoorStatus,
    DoorCommands,
    Alarms,

    /// <summary>A fire panel's alarm and clear events (<c>{root}/fire/{panelId}/events</c>).</summary>
    FireEvents,
}

/// <summary>A parsed topic: its kind and the device id it names (empty for <see cref="TopicKind.Alarms"/>).</summary>
public readonly record struct TopicAddress(TopicKind Kind, string DeviceId);

/// <summary>
/// The topic tree of reader protocol v1 under a configurable root (default <c>ac/v1</c>).
/// See docs/reader-protocol.md.
/// </summary>
public sealed class Topics
{
    public const string DefaultRoot = "ac/v1";

    public Topics(string root = DefaultRoot)
    {
        if (string.IsNullOrWhiteSpace(root) || root.EndsWith('/') || root.StartsWith('/') || root.Contains('+', StringComparison.Ordinal) || root.Contains('#', StringComparison.Ordinal))
        {
            throw new ArgumentException($"Topic root '{root}' must be non-empty, without leading or trailing '/' and without wildcards.", nameof(root));
        }

        Root = root;
    }

    public string Root { get; }

    public string ReaderEvents(string readerId) => $"{Root}/readers/{readerId}/events";

    public string ReaderStatus(string readerId) => $"{Root}/readers/{readerId}/status";

    public string ReaderDecisions(string readerId) => $"{Root}/readers/{readerId}/decisions";

    public string ReaderCommands(string readerId) => $"{Root}/readers/{readerId}/commands";

    public string DoorEvents(string doorId) => $"{Root}/doors/{doorId}/events";

    public string DoorStatus(string doorId) => $"{Root}/doors/{doorId}/status";

    public string DoorCommands(string doorId) => $"{Root}/doors/{doorId}/commands";

    public string Alarms => $"{Root}/alarms";

    /// <summary>Where a fire panel publishes its alarm and clear events.</summary>
    public string FireEvents(string panelId) => $"{Root}/fire/{panelId}/events";

    /// <summary>Subscription filters the service uses.</summary>
    public IReadOnlyList<string> ServiceSubscriptions =>
    [
        $"{Root}/readers/+/events",
        $"{Root}/readers/+/status",
        $"{Root}/doors/+/events",
        $"{Root}/doors/+/status",
        $"{Root}/fire/+/events",
    ];

    /// <summary>Parses a topic under this root; <see cref="TopicKind.Unknown"/> for anything else.</summary>
    public TopicAddress Parse(string topic)
    {
        if (!topic.StartsWith(Root, StringComparison.Ordinal) || topic.Length <= Root.Length || topic[Root.Length] != '/')
        {
            return default;
        }

        var rest = topic.AsSpan(Root.Length + 1);
        if (rest.SequenceEqual("alarms"))
        {
            return new TopicAddress(TopicKind.Alarms, "");
        }

        Span<Range> parts = stackalloc Range[4];
        if (rest.Split(parts, '/') != 3)
        {
            return default;
        }

        var group = rest[parts[0]];
        var id = rest[parts[1]];
        var leaf = rest[parts[2]];
        if (id.IsEmpty)
        {
            return default;
        }

        if (group.SequenceEqual("fire"))
        {
            return leaf.SequenceEqual("events") ? new TopicAddress(TopicKind.FireEvents, id.ToString()) : default;
        }

        var readers = group.SequenceEqual("readers");
        var doors = group.SequenceEqual("doors");
        var kind = TopicKind.Unknown;
        if (readers || doors)
        {
            if (leaf.SequenceEqual("events"))
            {
                kind = readers ? TopicKind.ReaderEvents : TopicKind.DoorEvents;
            }
            else if (leaf.SequenceEqual("status"))
            {
                kind = readers ? TopicKind.ReaderStatus : TopicKind.DoorStatus;
            }
            else if (leaf.SequenceEqual("commands"))
            {
                kind = readers ? TopicKind.ReaderCommands : TopicKind.DoorCommands;
            }
            else if (readers && leaf.SequenceEqual("decisions"))
            {
                kind = TopicKind.ReaderDecisions;
            }
        }

        return kind == TopicKind.Unknown ? default : new TopicAddress(kind, id.ToString());
    }
}

using AccessControl.Devices;
using AccessControl.Protocol;
using AccessControl.Sites;

namespace AccessControl.Broker;

/// <summary>What kind of party is on the other end of an MQTT connection.</summary>
public enum PrincipalKind
{
    /// <summary>A card or fingerprint reader; its username is its <see cref="ReaderId"/>.</summary>
    Reader,

    /// <summary>A door controller; its username is its <see cref="ControllerId"/>.</summary>
    DoorController,

    /// <summary>The access-control service itself (<see cref="DeviceSecrets.ServiceUsername"/>).</summary>
    Service,

    /// <summary>
    /// The service's publishing connection (<see cref="DeviceSecrets.ServicePublisherUsername"/>): it may publish only
    /// what the service sends (decisions, reader and door commands, alarms), never a device's topic, and subscribe to
    /// nothing.
    /// </summary>
    ServicePublisher,

    /// <summary>A read-only monitor such as an alarm console (<see cref="DeviceSecrets.MonitorUsername"/>).</summary>
    Monitor,

    /// <summary>A fire alarm panel; its username is its <see cref="FirePanel.Id"/>. It may only publish its own fire events.</summary>
    FirePanel,
}

/// <summary>An identified MQTT user: what it is and the username (= device id) it logged in with.</summary>
public readonly record struct Principal(PrincipalKind Kind, string Username)
{
    /// <summary>One of the service's own identities (its main connection or its publishing one), not a device.</summary>
    public bool IsService => Kind is PrincipalKind.Service or PrincipalKind.ServicePublisher;
}

/// <summary>Direction of a grant. Mosquitto calls these <c>write</c> and <c>read</c>.</summary>
public enum TopicAccess
{
    /// <summary>May publish on topics matching the filter.</summary>
    Publish,

    /// <summary>May subscribe to the filter (or to a narrower one) and receive what matches it.</summary>
    Subscribe,
}

/// <summary>One permission: publish on, or subscribe to, a topic filter.</summary>
public readonly record struct TopicGrant(TopicAccess Access, string Filter);

/// <summary>
/// Who may publish and subscribe where, as plain data. The embedded broker asks it on every CONNECT, PUBLISH and
/// SUBSCRIBE, and <see cref="MosquittoConfig"/> turns the same grants into Mosquitto's ACL file, so the two brokers
/// cannot drift apart.
/// </summary>
/// <remarks>
/// Everything not granted is refused (fail closed): a reader may only publish its own events and status and only
/// receive its own decisions and commands; a door controller the same for the doors it drives; the monitor only
/// reads alarms, decisions and device status; only the service may reach every topic under the root, and nobody may reach topics
/// outside it (<c>$SYS</c>, <c>$share</c>, other roots). Grants are computed from the current topology each time,
/// so a device removed from the site file loses its rights on its next message.
/// </remarks>
public sealed class TopicPolicy
{
    public TopicPolicy(Topics topics)
    {
        Topics = topics;
    }

    public Topics Topics { get; }

    /// <summary>
    /// Whether an id can be a device's username and topic level: the protocol's device id rule
    /// (<see cref="WireFormat.IsValidDeviceId"/>: no wildcard, level separator, whitespace or ':'), and not one of the
    /// service's reserved usernames. Anything else would let an id reach beyond its own topics, or not log in at all.
    /// </summary>
    public static bool IsValidDeviceId(string? id) =>
        id is not null && WireFormat.IsValidDeviceId(id) && !DeviceSecrets.ReservedUsernames.Contains(id);

    /// <summary>
    /// Who a username is in this topology, or null when it is unknown, malformed, or names both a reader and a
    /// controller (ambiguous ids are refused rather than guessed).
    /// </summary>
    public Principal? Identify(SiteTopology topology, string? username)
    {
        switch (username)
        {
            case DeviceSecrets.ServiceUsername:
                return new Principal(PrincipalKind.Service, username);
            case DeviceSecrets.ServicePublisherUsername:
                return new Principal(PrincipalKind.ServicePublisher, username);
            case DeviceSecrets.MonitorUsername:
                return new Principal(PrincipalKind.Monitor, username);
        }

        if (!IsValidDeviceId(username))
        {
            return null;
        }

        var isReader = topology.Readers.ContainsKey(new ReaderId(username!));
        var isController = topology.Controllers.ContainsKey(new ControllerId(username!));
        var isPanel = topology.FirePanels.ContainsKey(username!);
        return (isReader, isController, isPanel) switch
        {
            (true, false, false) => new Principal(PrincipalKind.Reader, username!),
            (false, true, false) => new Principal(PrincipalKind.DoorController, username!),
            (false, false, true) => new Principal(PrincipalKind.FirePanel, username!),
            _ => null,
        };
    }

    /// <summary>Everything a principal may do, in a stable order. Empty for a device that is no longer in the topology.</summary>
    public IReadOnlyList<TopicGrant> GrantsFor(SiteTopology topology, Principal principal)
    {
        switch (principal.Kind)
        {
            case PrincipalKind.Service:
                var everything = Topics.Root + "/#";
                return [new(TopicAccess.Publish, everything), new(TopicAccess.Subscribe, everything)];

            case PrincipalKind.ServicePublisher:
                // What the pipeline publishes; a leaked password of this identity cannot forge a device's event.
                return
                [
                    new(TopicAccess.Publish, Topics.ReaderDecisions("+")),
                    new(TopicAccess.Publish, Topics.ReaderCommands("+")),
                    new(TopicAccess.Publish, Topics.DoorCommands("+")),
                    new(TopicAccess.Publish, Topics.Alarms),
                ];

            case PrincipalKind.Monitor:
                // Read-only: what a security console shows. Device status (online state, firmware version) is the
                // inventory it watches; events, commands and fire topics stay the service's.
                return
                [
                    new(TopicAccess.Subscribe, Topics.Alarms),
                    new(TopicAccess.Subscribe, Topics.ReaderDecisions("+")),
                    new(TopicAccess.Subscribe, Topics.ReaderStatus("+")),
                    new(TopicAccess.Subscribe, Topics.DoorStatus("+")),
                ];

            case PrincipalKind.Reader:
                if (!IsValidDeviceId(principal.Username) || !topology.Readers.ContainsKey(new ReaderId(principal.Username)))
                {
                    return [];
                }

                return
                [
                    new(TopicAccess.Publish, Topics.ReaderEvents(principal.Username)),
                    new(TopicAccess.Publish, Topics.ReaderStatus(principal.Username)),
                    new(TopicAccess.Subscribe, Topics.ReaderDecisions(principal.Username)),
                    new(TopicAccess.Subscribe, Topics.ReaderCommands(principal.Username)),
                ];

            case PrincipalKind.DoorController:
                var controller = new ControllerId(principal.Username);
                if (!IsValidDeviceId(principal.Username) || !topology.Controllers.ContainsKey(controller))
                {
                    return [];
                }

                var grants = new List<TopicGrant>();
                foreach (var door in topology.DoorsOf(controller).Select(d => d.Id.Value).Where(d => WireFormat.IsValidId(d)).Order(StringComparer.Ordinal))
                {
                    grants.Add(new(TopicAccess.Publish, Topics.DoorEvents(door)));
                    grants.Add(new(TopicAccess.Publish, Topics.DoorStatus(door)));
                    grants.Add(new(TopicAccess.Subscribe, Topics.DoorCommands(door)));
                }

                return grants;

            case PrincipalKind.FirePanel:
                // Publish only: a panel needs nothing back, and it must not be able to reach any door or reader topic.
                return IsValidDeviceId(principal.Username) && topology.FirePanels.ContainsKey(principal.Username)
                    ? [new(TopicAccess.Publish, Topics.FireEvents(principal.Username))]
                    : [];

            default:
                return [];
        }
    }

    /// <summary>Whether the principal may publish on this topic name.</summary>
    public bool MayPublish(SiteTopology topology, Principal principal, string? topic) =>
        IsValidTopicName(topic) && Allows(topology, principal, TopicAccess.Publish, topic!);

    /// <summary>Whether the principal may subscribe to this filter: it must be a valid filter no wider than one of its grants.</summary>
    public bool MaySubscribe(SiteTopology topology, Principal principal, string? filter) =>
        IsValidTopicFilter(filter) && Allows(topology, principal, TopicAccess.Subscribe, filter!);

    /// <summary>
    /// Whether the principal may register this last-will topic. A device's will announces that it went offline, so it
    /// must be a status topic the device may publish; the service may use any topic it may publish; the monitor none.
    /// </summary>
    public bool MayUseWill(SiteTopology topology, Principal principal, string? topic)
    {
        if (!MayPublish(topology, principal, topic))
        {
            return false;
        }

        return principal.Kind switch
        {
            PrincipalKind.Service => true,
            PrincipalKind.Reader or PrincipalKind.DoorController => Topics.Parse(topic!).Kind is TopicKind.ReaderStatus or TopicKind.DoorStatus,
            _ => false,
        };
    }

    /// <summary>
    /// Whether every topic that <paramref name="requested"/> can match is also matched by <paramref name="grant"/>.
    /// Works for topic names too (a name is a filter without wildcards). Both must be valid filters.
    /// </summary>
    public static bool Covers(string grant, string requested)
    {
        var g = grant.Split('/');
        var r = requested.Split('/');
        for (var i = 0; i < g.Length; i++)
        {
            if (g[i] == "#")
            {
                // "a/#" also matches "a" itself, so running out of requested levels here is fine.
                return true;
            }

            if (i >= r.Length || r[i] == "#")
            {
                return false;
            }

            if (g[i] != "+" && (r[i] == "+" || r[i] != g[i]))
            {
                return false;
            }
        }

        return r.Length == g.Length;
    }

    /// <summary>A topic name: non-empty and without wildcards or NUL (MQTT 4.7.3).</summary>
    public static bool IsValidTopicName(string? topic) =>
        !string.IsNullOrEmpty(topic) && topic.IndexOfAny(['+', '#', '\0']) < 0;

    /// <summary>A topic filter: non-empty, '+' and '#' only as whole levels and '#' only last (MQTT 4.7.1).</summary>
    public static bool IsValidTopicFilter(string? filter)
    {
        if (string.IsNullOrEmpty(filter) || filter.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level == "#")
            {
                if (i != levels.Length - 1)
                {
                    return false;
                }
            }
            else if (level != "+" && level.IndexOfAny(['+', '#']) >= 0)
            {
                return false;
            }
        }

        return true;
    }

    private bool Allows(SiteTopology topology, Principal principal, TopicAccess access, string requested)
    {
        foreach (var grant in GrantsFor(topology, principal))
        {
            if (grant.Access == access && Covers(grant.Filter, requested))
            {
                return true;
            }
        }

        return false;
    }
}

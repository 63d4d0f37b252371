using AccessControl.People;
using AccessControl.Sites;

namespace AccessControl.Sites;

/// <summary>
/// The site topology and cardholders the service decides with right now. Readers take a snapshot (two
/// immutable objects) without locks; writers (site load, admin API) swap in a new snapshot. A change is
/// visible to the very next decision, which is how "a person who leaves loses access at once" holds.
/// </summary>
public sealed class LiveConfiguration
{
    private readonly Lock writeLock = new();
    private volatile Snapshot current = new(SiteTopology.Empty, Cardholders.Empty);

    public LiveConfiguration()
    {
    }

    public LiveConfiguration(SiteTopology topology, Cardholders cardholders) => current = new Snapshot(topology, cardholders);

    public SiteTopology Topology => current.Topology;

    public Cardholders Cardholders => current.Cardholders;

    /// <summary>A consistent pair; use it when both are read for one decision.</summary>
    public Snapshot Current => current;

    public void SetTopology(SiteTopology topology)
    {
        lock (writeLock)
        {
            current = current with { Topology = topology };
        }
    }

    /// <summary>Applies a change to the cardholders atomically with respect to other writers.</summary>
    public Cardholders UpdateCardholders(Func<Cardholders, Cardholders> change)
    {
        lock (writeLock)
        {
            var next = change(current.Cardholders);
            current = current with { Cardholders = next };
            return next;
        }
    }

    public sealed record Snapshot(SiteTopology Topology, Cardholders Cardholders);
}

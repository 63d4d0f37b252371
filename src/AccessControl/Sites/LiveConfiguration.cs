using AccessControl.People;

namespace AccessControl.Sites;

/// <summary>
/// The site topology and cardholders the service decides with right now. Readers take a snapshot (two
/// immutable objects) without locks; writers (site load, admin API) swap in a new snapshot. A change is
/// visible to the very next decision, which is how "a person who leaves loses access at once" holds.
/// </summary>
/// <remarks>
/// A change that must be recorded before it is in force (an admin change: its audit row, then the database) is
/// <see cref="BeginChange">begun</see> first and <see cref="Change.Complete">completed</see> once recorded. While it is
/// in flight the snapshot carries <see cref="Snapshot.Pending"/>, the cardholders with every such change applied, and a
/// swipe is granted only if the cardholders both before and after grant it (<c>EventPipeline</c>): a termination
/// takes effect no later than its audit row, and a new grant no earlier.
/// </remarks>
public sealed class LiveConfiguration
{
    private readonly Lock writeLock = new();
    private readonly List<Change> inFlight = [];
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
            current = new Snapshot(current.Topology, next, PendingOver(next));
            return next;
        }
    }

    /// <summary>
    /// Starts a change that is not yet in force: from now until it is completed or disposed, decisions also consult the
    /// cardholders with it applied, and grant only if both grant. Dispose without <see cref="Change.Complete"/> when the
    /// change could not be recorded: it is then as if it had never been asked for.
    /// </summary>
    public Change BeginChange(Func<Cardholders, Cardholders> apply)
    {
        ArgumentNullException.ThrowIfNull(apply);
        var change = new Change(this, apply);
        lock (writeLock)
        {
            inFlight.Add(change);
            current = current with { Pending = PendingOver(current.Cardholders) };
        }

        return change;
    }

    private void End(Change change, bool inForce)
    {
        lock (writeLock)
        {
            if (!inFlight.Remove(change))
            {
                return;
            }

            var cardholders = inForce ? change.Apply(current.Cardholders) : current.Cardholders;
            current = new Snapshot(current.Topology, cardholders, PendingOver(cardholders));
        }
    }

    // Under the lock.
    private Cardholders? PendingOver(Cardholders cardholders) =>
        inFlight.Count == 0 ? null : inFlight.Aggregate(cardholders, (all, change) => change.Apply(all));

    /// <param name="Pending">The cardholders with every change in flight applied; null when none is.</param>
    public sealed record Snapshot(SiteTopology Topology, Cardholders Cardholders, Cardholders? Pending = null);

    /// <summary>A change begun with <see cref="BeginChange"/>: complete it once recorded, dispose it in any case.</summary>
    public sealed class Change : IDisposable
    {
        private readonly LiveConfiguration owner;

        internal Change(LiveConfiguration owner, Func<Cardholders, Cardholders> apply)
        {
            this.owner = owner;
            Apply = apply;
        }

        internal Func<Cardholders, Cardholders> Apply { get; }

        /// <summary>Puts the change in force (the very next decision uses it alone).</summary>
        public void Complete() => owner.End(this, inForce: true);

        /// <summary>Withdraws the change if it was not completed.</summary>
        public void Dispose() => owner.End(this, inForce: false);
    }
}

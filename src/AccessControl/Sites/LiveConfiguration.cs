using AccessControl.People;

namespace AccessControl.Sites;

/// <summary>
/// The site topology and cardholders the service decides with right now. Readers take a snapshot (two
/// immutable objects) without locks; writers (site load, admin API) swap in a new snapshot. A change is
/// visible to the very next decision, which is how "a person who leaves loses access at once" holds.
/// </summary>
/// <remarks>
/// <para>A change that must be recorded before it is in force (an admin change: its audit row, then the database) is
/// <see cref="BeginChangeAsync">begun</see> first and <see cref="Change.Complete">completed</see> once recorded. While it
/// is in flight the snapshot carries <see cref="Snapshot.Pending"/>, the cardholders with it applied, and a swipe is
/// granted only if the cardholders both before and after grant it (<c>EventPipeline</c>): a termination takes effect no
/// later than its audit row, and a new grant no earlier.</para>
/// <para>That holds only if "before" and "after" are every state the cardholders can end up in, so changes are in
/// flight one at a time: a change begun while another is waits until that one is in force or withdrawn (begun by the
/// holder of the one in flight, it would wait for itself: it fails at once instead). With two in
/// flight, either may fail after the other's audit row is durable, and they may complete in either order, so the
/// reachable states are now, A, B, B over A and A over B; cardholders with both folded in hide A when B undoes it (a
/// suspension and a reactivation, a revocation and an upsert of the same card: both applied, the card opens while the
/// suspension's row is already in the log and the reactivation may still fail). Deciding against every reachable state
/// instead would cost 5 decisions a swipe with two in flight and 16 with three, on the hot path, for a case the
/// writers (<c>AdminService</c>, also for a visitor's check-out recorded inside its badge revocation's flight;
/// <c>VisitorService</c> for the watch list and escort removals; each one change at a time) produce only across each
/// other; the queue costs them little and makes the pair exact.
/// <see cref="UpdateCardholders"/> is not in flight (in force at once) and may run meanwhile: the change in flight is
/// applied over its result; it is for what gives nothing new after an audit row or nothing at all (start-up, an
/// enrollment, a restriction already applied in flight).</para>
/// <para>Fingerprint templates are not cardholders: a template's revocation is held in flight by
/// <c>FingerprintTemplates.Withhold</c> in the same way (a finger matched on it is denied from before its audit row).</para>
/// </remarks>
public sealed class LiveConfiguration
{
    private readonly Lock writeLock = new();
    private readonly SemaphoreSlim turn = new(1, 1);
    private Change? inFlight;

    // The flow that began the change in flight (see BeginChangeAsync): its own next begin would wait for itself.
    private static readonly AsyncLocal<object?> Flow = new();
    private object? inFlightFlow;
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
    /// change could not be recorded: it is then as if it had never been asked for. Waits while another change is in
    /// flight (see the remarks), so the change must not wait for anything that may itself begin one.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// The calling flow (an async call chain, and the tasks it started) holds the change in flight: it would wait for
    /// itself for ever. A begin from another flow the holder waits on (a loop of its own) cannot be told apart and waits.
    /// </exception>
    public Task<Change> BeginChangeAsync(Func<Cardholders, Cardholders> apply, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(apply);

        // Marked here, before the first await, so that the mark is in the caller's flow and not only in this method's.
        var flow = Flow.Value ??= new object();
        if (ReferenceEquals(flow, Volatile.Read(ref inFlightFlow)))
        {
            throw new InvalidOperationException("A change was begun by the flow that holds the change in flight: it would wait for itself. " +
                "Complete or dispose the change in flight first.");
        }

        return BeginAsync(apply, flow, cancellationToken);
    }

    private async Task<Change> BeginAsync(Func<Cardholders, Cardholders> apply, object flow, CancellationToken cancellationToken)
    {
        await turn.WaitAsync(cancellationToken);
        var change = new Change(this, apply);
        try
        {
            lock (writeLock)
            {
                current = current with { Pending = apply(current.Cardholders) };
                inFlight = change;
                inFlightFlow = flow;
            }
        }
        catch
        {
            turn.Release();
            throw;
        }

        return change;
    }

    private void End(Change change, bool inForce)
    {
        lock (writeLock)
        {
            if (inFlight != change)
            {
                return;
            }

            inFlight = null;
            inFlightFlow = null;
            try
            {
                current = new Snapshot(current.Topology, inForce ? change.Apply(current.Cardholders) : current.Cardholders);
            }
            finally
            {
                // Even if applying it throws (a bug): the next change must not wait forever.
                turn.Release();
            }
        }
    }

    // Under the lock.
    private Cardholders? PendingOver(Cardholders cardholders) => inFlight?.Apply(cardholders);

    /// <param name="Pending">The cardholders with the change in flight applied; null when none is.</param>
    public sealed record Snapshot(SiteTopology Topology, Cardholders Cardholders, Cardholders? Pending = null);

    /// <summary>A change begun with <see cref="BeginChangeAsync"/>: complete it once recorded, dispose it in any case.</summary>
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

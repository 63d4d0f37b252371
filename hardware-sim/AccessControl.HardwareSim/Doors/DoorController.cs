using AccessControl.Devices;
using AccessControl.HardwareSim.Devices;
using AccessControl.Protocol;
using NodaTime;

namespace AccessControl.HardwareSim.Doors;

/// <summary>
/// A simulated door controller driving one or more doors: a strike relay, a door-position sensor and an exit
/// button per door. It obeys <c>unlock</c> commands on <c>{root}/doors/{doorId}/commands</c> and reports what the
/// sensor and button see as <c>opened</c>, <c>closed</c> and <c>exit_request</c> events on
/// <c>{root}/doors/{doorId}/events</c>, each door with its own seq. Events are buffered while offline and
/// replayed marked offline, like reader events (see <see cref="SimulatedDevice"/>); the broker's PUBACK
/// acknowledges them.
/// </summary>
/// <remarks>
/// A simulated person walks through after each unlock when <see cref="DoorControllerOptions.AutoOpenOnUnlock"/>
/// is set; tests and scenarios can also open, force, prop open and close a door and press its exit button.
/// An MQTT connection has one last will, so only the first door's status topic gets the offline will; every
/// door's status topic is announced online on connection and offline on a clean stop. With a
/// <see cref="DoorControllerOptions.HeartbeatInterval"/> it sends heartbeats on the first door's events topic.
/// </remarks>
public class DoorController : SimulatedDevice
{
    private readonly object doorGate = new();
    private readonly DoorControllerOptions doorOptions;
    private readonly Dictionary<string, Door> doors;
    private readonly IReadOnlyList<string> statusTopics;
    private readonly IReadOnlyList<string> subscriptions;
    private readonly RecentCommandIds recentCommands = new();
    private bool stopping;

    public DoorController(
        string controllerId,
        IEnumerable<string> doorIds,
        DeviceOptions options,
        DeviceSecrets secrets,
        IClock clock,
        TimeProvider time,
        DoorControllerOptions? doorOptions = null)
        : base(controllerId, options, secrets, clock, time)
    {
        this.doorOptions = doorOptions ?? new DoorControllerOptions();
        this.doorOptions.Validate();
        DoorIds = [.. doorIds.Distinct(StringComparer.Ordinal)];
        if (DoorIds.Count == 0)
        {
            throw new ArgumentException($"Controller '{controllerId}' must drive at least one door.", nameof(doorIds));
        }

        foreach (var id in DoorIds)
        {
            if (!WireFormat.IsValidId(id))
            {
                throw new ArgumentException($"Door id '{id}' must be 1 to 64 characters of A-Z a-z 0-9 . _ : -", nameof(doorIds));
            }
        }

        doors = DoorIds.ToDictionary(id => id, id => new Door(id), StringComparer.Ordinal);
        statusTopics = [.. DoorIds.Select(Topics.DoorStatus)];
        subscriptions = [.. DoorIds.Select(Topics.DoorCommands)];
    }

    public string ControllerId => DeviceId;

    public IReadOnlyList<string> DoorIds { get; }

    /// <summary>Raised (outside any lock) for every change at one of the doors and for ignored commands.</summary>
    public event Action<DoorActivity>? Activity;

    protected override IReadOnlyList<string> StatusTopics => statusTopics;

    protected override IReadOnlyList<string> Subscriptions => subscriptions;

    /// <summary>The state of one of this controller's doors.</summary>
    public DoorSnapshot GetDoor(string doorId)
    {
        lock (doorGate)
        {
            var door = Find(doorId);
            return new DoorSnapshot(door.Id, door.Unlocked, door.Open, door.HeldOpen) { Released = door.Released };
        }
    }

    /// <summary>
    /// A person pulls the door. It opens only while the strike is released, then swings shut after
    /// <see cref="DoorControllerOptions.OpenFor"/>. Completes when the <c>opened</c> event is safe (see <see cref="PendingEvent.HandedOff"/>).
    /// </summary>
    public async Task<DoorOpenResult> OpenAsync(string doorId, CancellationToken cancellationToken = default)
    {
        var changes = new Changes();
        DoorOpenResult result;
        lock (doorGate)
        {
            var door = Find(doorId);
            result = door.Open ? DoorOpenResult.AlreadyOpen : door.Unlocked ? DoorOpenResult.Opened : DoorOpenResult.Locked;
            if (result == DoorOpenResult.Opened)
            {
                OpenLocked(door, DoorActivityKind.Opened, changes);
            }
        }

        await RaiseAsync(changes, cancellationToken);
        return result;
    }

    /// <summary>Forces the door: it opens whether or not the strike is released (a forced-door alarm for the service), then swings shut.</summary>
    public Task ForceOpenAsync(string doorId, CancellationToken cancellationToken = default)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            var door = Find(doorId);
            if (!door.Open)
            {
                OpenLocked(door, door.Unlocked ? DoorActivityKind.Opened : DoorActivityKind.Forced, changes);
            }
        }

        return RaiseAsync(changes, cancellationToken);
    }

    /// <summary>Props the door open: it opens if it is closed (forced if the strike is locked) and stays open until <see cref="CloseAsync"/>.</summary>
    public Task HoldOpenAsync(string doorId, CancellationToken cancellationToken = default)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            var door = Find(doorId);
            if (!door.Open)
            {
                OpenLocked(door, door.Unlocked ? DoorActivityKind.Opened : DoorActivityKind.Forced, changes);
            }

            door.HeldOpen = true;
            Cancel(ref door.CloseTimer);
            changes.Activity(ControllerId, door.Id, DoorActivityKind.HeldOpen, Now());
        }

        return RaiseAsync(changes, cancellationToken);
    }

    /// <summary>Shuts the door (and ends a hold); nothing happens when it is already closed.</summary>
    public Task CloseAsync(string doorId, CancellationToken cancellationToken = default)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            var door = Find(doorId);
            if (door.Open)
            {
                CloseLocked(door, changes);
            }
        }

        return RaiseAsync(changes, cancellationToken);
    }

    /// <summary>Presses the request-to-exit button on the secure side. The controller only reports it; the service decides to unlock.</summary>
    public Task PressExitButtonAsync(string doorId, CancellationToken cancellationToken = default)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            var door = Find(doorId);
            changes.Published(Publish(door, DoorEventType.ExitRequest));
            changes.Activity(ControllerId, door.Id, DoorActivityKind.ExitRequested, Now());
        }

        return RaiseAsync(changes, cancellationToken);
    }


    protected override TimeSpan HeartbeatInterval => doorOptions.HeartbeatInterval;

    protected override Task HandleDoorCommandAsync(string doorId, DoorCommand command)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            if (stopping || !doors.TryGetValue(doorId, out var door))
            {
                return Task.CompletedTask;
            }

            var now = Now();
            if (command.Command is DoorCommands.Release or DoorCommands.Relock)
            {
                // State commands, retained by the service: applied every time they arrive (a reconnect delivers the
                // retained one again), never treated as a duplicate.
                recentCommands.Add(command.CommandId);
                ApplyReleaseLocked(door, command.Command == DoorCommands.Release, now, changes);
            }
            else if (!recentCommands.Add(command.CommandId))
            {
                changes.Activity(ControllerId, doorId, DoorActivityKind.CommandIgnored, now, $"duplicate commandId {command.CommandId}");
            }
            else if (command.Command != DoorCommands.Unlock)
            {
                changes.Activity(ControllerId, doorId, DoorActivityKind.CommandIgnored, now, $"unknown command '{command.Command}'");
            }
            else if (door.Released)
            {
                // Released for egress: an unlock changes nothing, and above all starts no relock timer.
                changes.Activity(ControllerId, doorId, DoorActivityKind.CommandIgnored, now, "unlock while released by a fire alarm");
            }
            else if (command.Seconds <= 0)
            {
                // reader-protocol §6.5: a value <= 0 means do nothing. A default of the controller's own would open the
                // door on a command that asks for no opening (and "seconds" missing reads as 0).
                changes.Activity(ControllerId, doorId, DoorActivityKind.CommandIgnored, now, $"unlock for {command.Seconds} s");
            }
            else
            {
                var duration = TimeSpan.FromSeconds(command.Seconds);
                door.Unlocked = true;
                Cancel(ref door.RelockTimer);
                door.RelockTimer = Time.CreateTimer(_ => OnRelockDue(door), null, duration, Timeout.InfiniteTimeSpan);
                changes.Activity(ControllerId, doorId, DoorActivityKind.Unlocked, now, $"{duration.TotalSeconds:0.###} s");
                if (doorOptions.AutoOpenOnUnlock && !door.Open)
                {
                    Cancel(ref door.OpenTimer);
                    if (doorOptions.OpenDelay == TimeSpan.Zero)
                    {
                        OpenLocked(door, DoorActivityKind.Opened, changes);
                    }
                    else
                    {
                        door.OpenTimer = Time.CreateTimer(_ => OnAutoOpenDue(door), null, doorOptions.OpenDelay, Timeout.InfiniteTimeSpan);
                    }
                }
            }
        }

        changes.RaiseActivities(Activity);
        return Task.CompletedTask;
    }

    /// <summary>
    /// <c>release</c>: strike unlocked with no timer until <c>relock</c>; the door may open and close freely and is
    /// never forced. <c>relock</c>: ends a release (strike locked again); ignored when the door is not released.
    /// </summary>
    private void ApplyReleaseLocked(Door door, bool release, Instant now, Changes changes)
    {
        if (release)
        {
            Cancel(ref door.RelockTimer);
            door.Released = true;
            door.Unlocked = true;
            changes.Activity(ControllerId, door.Id, DoorActivityKind.Released, now, "fire release");
            return;
        }

        if (!door.Released)
        {
            // A retained relock received at subscribe, long after the reset: it must not cut short a grant's unlock.
            changes.Activity(ControllerId, door.Id, DoorActivityKind.CommandIgnored, now, "relock while not released");
            return;
        }

        door.Released = false;
        door.Unlocked = false;
        Cancel(ref door.OpenTimer);
        changes.Activity(ControllerId, door.Id, DoorActivityKind.Relocked, now, "fire release reset");
    }

    protected override void OnStopping()
    {
        lock (doorGate)
        {
            stopping = true;
            foreach (var door in doors.Values)
            {
                Cancel(ref door.RelockTimer);
                Cancel(ref door.OpenTimer);
                Cancel(ref door.CloseTimer);
            }
        }
    }

    // ---- timers (run on the time provider's callbacks) ---------------------------------------------

    private void OnRelockDue(Door door)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            if (stopping || !door.Unlocked || door.Released)
            {
                return;
            }

            door.Unlocked = false;
            Cancel(ref door.RelockTimer);
            Cancel(ref door.OpenTimer);
            changes.Activity(ControllerId, door.Id, DoorActivityKind.Relocked, Now());
        }

        changes.RaiseActivities(Activity);
    }

    private void OnAutoOpenDue(Door door)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            Cancel(ref door.OpenTimer);
            if (stopping || door.Open || !door.Unlocked)
            {
                return;
            }

            OpenLocked(door, DoorActivityKind.Opened, changes);
        }

        changes.RaiseActivities(Activity);
    }

    private void OnCloseDue(Door door)
    {
        var changes = new Changes();
        lock (doorGate)
        {
            Cancel(ref door.CloseTimer);
            if (stopping || !door.Open || door.HeldOpen)
            {
                return;
            }

            CloseLocked(door, changes);
        }

        changes.RaiseActivities(Activity);
    }

    // ---- state changes (under doorGate) ------------------------------------------------------------

    private void OpenLocked(Door door, DoorActivityKind kind, Changes changes)
    {
        door.Open = true;
        Cancel(ref door.OpenTimer);
        changes.Published(Publish(door, DoorEventType.Opened));
        changes.Activity(ControllerId, door.Id, kind, Now());
        if (!door.HeldOpen)
        {
            Cancel(ref door.CloseTimer);
            door.CloseTimer = Time.CreateTimer(_ => OnCloseDue(door), null, doorOptions.OpenFor, Timeout.InfiniteTimeSpan);
        }
    }

    private void CloseLocked(Door door, Changes changes)
    {
        door.Open = false;
        door.HeldOpen = false;
        Cancel(ref door.CloseTimer);
        changes.Published(Publish(door, DoorEventType.Closed));
        changes.Activity(ControllerId, door.Id, DoorActivityKind.Closed, Now());
    }

    private PendingEvent Publish(Door door, DoorEventType type) => Enqueue(door, type)!;

    // A heartbeat means nothing later: not made while offline (null then).
    // One for the whole controller, on its first door's events topic (with that door's seq).
    protected override PendingEvent? EnqueueHeartbeat() => Enqueue(doors[DoorIds[0]], DoorEventType.Heartbeat);

    private PendingEvent? Enqueue(Door door, DoorEventType type) =>
        Enqueue(
            Topics.DoorEvents(door.Id),
            awaitsDecision: false,
            keepWhileOffline: type != DoorEventType.Heartbeat,
            () => door.Seq = door.Seq == 0 ? BootSeq() + 1 : door.Seq + 1,   // never back across restarts, like the readers; under the base's buffer lock
            s => WireFormat.Write(new DoorEvent(s.EventId, s.Seq, s.At, type, s.Offline)));

    private Door Find(string doorId) =>
        doors.TryGetValue(doorId, out var door)
            ? door
            : throw new ArgumentException($"Controller '{ControllerId}' does not drive door '{doorId}'.", nameof(doorId));

    private Task RaiseAsync(Changes changes, CancellationToken cancellationToken)
    {
        changes.RaiseActivities(Activity);
        return changes.HandedOffAsync(cancellationToken);
    }

    private static void Cancel(ref ITimer? timer)
    {
        timer?.Dispose();
        timer = null;
    }

    private sealed class Door(string id)
    {
        public string Id { get; } = id;

        public bool Unlocked { get; set; }

        public bool Open { get; set; }

        public bool HeldOpen { get; set; }

        /// <summary>Held unlocked by a fire release until relock.</summary>
        public bool Released { get; set; }

        public long Seq { get; set; }

        // Fields, not properties, so that Cancel can take them by ref.
        public ITimer? RelockTimer;
        public ITimer? OpenTimer;
        public ITimer? CloseTimer;
    }

    /// <summary>What one action changed: collected under the lock, raised and awaited after it.</summary>
    private sealed class Changes
    {
        private readonly List<DoorActivity> activities = [];
        private readonly List<Task> handedOff = [];

        public void Activity(string controllerId, string doorId, DoorActivityKind kind, Instant at, string? detail = null) =>
            activities.Add(new DoorActivity(controllerId, doorId, kind, at, detail));

        public void Published(PendingEvent item) => handedOff.Add(item.HandedOff);

        public void RaiseActivities(Action<DoorActivity>? handler)
        {
            foreach (var activity in activities)
            {
                handler?.Invoke(activity);
            }
        }

        public Task HandedOffAsync(CancellationToken cancellationToken) => Task.WhenAll(handedOff).WaitAsync(cancellationToken);
    }
}

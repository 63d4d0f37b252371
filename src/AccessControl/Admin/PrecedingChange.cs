using AccessControl.People;

namespace AccessControl.Admin;

/// <summary>
/// Another feature's change that includes an admin change and is recorded first (a visitor's check-out, then the
/// revocation of the badge's credential). What both take away at the doors is in flight from before the first row
/// (<see cref="Sites.LiveConfiguration.BeginChangeAsync"/>), so it takes effect no later than that row, and is given back
/// if either row or the admin change's write fails.
/// </summary>
/// <param name="Restrict">What it takes away besides the admin change; applied over it, in flight and in force with it.</param>
/// <param name="RecordAsync">Appends its audit row (before the admin change's); false when it could not (nothing is changed).</param>
/// <param name="FailedAsync">
/// Records that it was not made after its row was written (the admin change was not recorded); called while still in
/// flight, so nothing is let in before that is in the log.
/// </param>
public sealed record PrecedingChange(Func<Cardholders, Cardholders> Restrict, Func<Task<bool>> RecordAsync, Func<Exception, Task> FailedAsync);

using AccessControl.EntryLog;
using AccessControl.Storage;

namespace AccessControl.Lab.Chaos;

/// <summary>
/// The end of a chaos run, after the service stopped cleanly: the <see cref="LogAudit"/> of what the readers heard
/// against the durable log, the fault tally, and the chain and signed checkpoints, as a few lines of counts. Passes
/// when every card presented was answered, every event is in the log exactly once with the decision heard, events made
/// offline are marked so, per reader the device seq rises in log order (whatever the clock did to the rows' times),
/// each clock step left a clock_anomaly alarm row and each outage a last-will reader_offline one, a full filesystem
/// refused swipes (deny/log_failure, never a grant), written late behind an integrity/outage row, and the chain verifies.
/// </summary>
internal sealed class ChaosLogCheck(Database database, ChaosOptions options, FaultTally tally, TextWriter output)
{
    public bool Check(IReadOnlyList<HeardDecision> heard, int presented)
    {
        var log = LogAudit.ReadAll(database);
        var rows = log.Where(r => r.Kind == LogKinds.Access).ToList();
        var audit = LogAudit.Of(heard, log);
        var verification = new LogVerifier(database).Verify();

        output.WriteLine($"sent {presented}, answered {heard.Count}, rows {rows.Count} ({rows.Count(r => r.Offline)} offline replays, " +
            $"{rows.Count(r => r.Decision == "grant")} grants, {rows.Count(r => r.Reason == "log_failure")} deny/log_failure)");
        output.WriteLine($"missing from the log {audit.Missing.Count}, logged twice {audit.LoggedTwice}, heard a decision other than the logged one {audit.Mismatched.Count}");
        output.WriteLine($"made offline {audit.MadeOffline}, logged without the offline mark {audit.NotMarkedOffline.Count}; " +
            $"device seq out of log order {audit.OutOfSeqOrder} (rows stamped earlier than their reader's row before: {audit.StampedEarlier})");
        output.WriteLine($"alarm rows: clock_anomaly {audit.ClockAnomalyAlarms} for {tally.ClockSteps} steps, reader_offline {audit.ReaderOfflineAlarms} " +
            $"({audit.LastWillAlarms} from last wills, {audit.ReaderOfflineAlarms - audit.LastWillAlarms} from silence); log outage rows {audit.OutageRows}");
        output.WriteLine($"chain: {(verification.Ok ? "OK" : "BROKEN " + verification.FirstBroken)}, {verification.Rows} rows, {verification.CheckpointsMatched} checkpoints matched");

        return heard.Count == presented && audit.EachHeardDecisionLoggedOnce
            && audit.NotMarkedOffline.Count == 0 && tally.WaveEventsNotMadeOffline == 0 && audit.OutOfSeqOrder == 0
            && tally.ClockSteps == options.ClockJumps && audit.ClockAnomalyAlarms >= options.ClockJumps
            && tally.Outages == options.ReaderOutages && audit.LastWillAlarms >= options.ReaderOutages
            && tally.DiskFilled == options.DiskFull
            && (!options.DiskFull || (audit.OutageRows >= 1 && tally.RefusedWhileFull > 0 && tally.GrantsWhileFull == 0))
            && verification.Ok;
    }
}

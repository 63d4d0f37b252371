-- The fire release state is rebuilt from the log at start-up (LifeSafety/FireState.cs): every safety row and every
-- fire_alarm alarm, in log order. This partial index keeps that a read of those few rows, not a scan of the whole log.
CREATE INDEX ix_entry_log_fire ON entry_log (seq) WHERE kind = 'safety' OR (kind = 'alarm' AND reason = 'fire_alarm');

-- A person's terminations still scheduled: read by every operator token's check (Admin/ApiTokens.Check: a termination
-- dated for now or before refuses the token before the job applies it) and when the feed sets a person's departure
-- (HrEventStore.ScheduledTerminationOf). Without it both read every HR event ever received.
CREATE INDEX ix_hr_events_person ON hr_events (person_id, status, type, effective_at);

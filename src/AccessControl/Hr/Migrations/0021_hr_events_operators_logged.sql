-- The seq of the entry-log row "operator_token.revoke" that names the operator tokens a termination revoked; null until
-- it is written (and for an event that revoked none). The tokens go with the person's status (migration 0020), before
-- that row: a termination whose row could not be written was retried with the tokens already revoked, found none to
-- name and never wrote it. A retry now names the tokens the termination revoked unless this column says it is written.
ALTER TABLE hr_events ADD COLUMN operators_logged_seq INTEGER;

-- Terminations still scheduled (half done) whose row is in the log already: a retry must not write it twice.
UPDATE hr_events SET operators_logged_seq = (
    SELECT MAX(e.seq) FROM entry_log e
    WHERE e.kind = 'admin' AND e.reason = 'operator_token.revoke' AND e.actor = 'hr-feed' AND e.person_id = hr_events.person_id
      AND e.detail LIKE '%"reference":"' || hr_events.event_id || '"%')
WHERE status = 'scheduled' AND type = 'termination';

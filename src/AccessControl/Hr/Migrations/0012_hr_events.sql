-- The HR feed's events (terminations and transfers), one row per HR event id: what makes a resent event idempotent
-- and keeps a future-dated termination until it is due. The entry log holds the audit trail ('admin' rows with
-- actor 'hr-feed'); this table is the state. Instants are Unix milliseconds (UTC).
-- Numbered 0012 to leave room for other features' migrations being written alongside.
CREATE TABLE hr_events (
    event_id        TEXT    NOT NULL PRIMARY KEY,   -- the HR system's id (hr-2026-000123)
    type            TEXT    NOT NULL CHECK (type IN ('termination', 'transfer')),
    person_id       TEXT    NOT NULL,
    effective_at    INTEGER NOT NULL,               -- when it takes effect (the receiving time when HR gave none)
    access_levels   TEXT,                           -- JSON array of access level ids: the new set of a transfer
    content_sha256  TEXT    NOT NULL,               -- of the event as sent: tells a resend from a reuse of the id
    received_at     INTEGER NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('scheduled', 'applied', 'failed')),
    applied_at      INTEGER,
    result          TEXT                            -- JSON: what was changed, or why it failed
);

CREATE INDEX ix_hr_events_due ON hr_events (status, effective_at);

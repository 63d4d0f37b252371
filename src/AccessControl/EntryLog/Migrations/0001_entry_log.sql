-- The entry log: every swipe with its decision, door events, alarms, admin changes, security events.
-- Append-only: rows are never updated or deleted (the triggers below refuse it).
-- Instants are Unix milliseconds (UTC). Portable SQL: the same table runs on PostgreSQL with BIGINT/TEXT.
CREATE TABLE entry_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    at              INTEGER NOT NULL,          -- when the service recorded it
    kind            TEXT    NOT NULL,          -- access | door | alarm | device | admin | security | malformed
    site_id         TEXT,
    reader_id       TEXT,
    door_id         TEXT,
    zone_id         TEXT,
    person_id       TEXT,
    card            TEXT,                      -- normalized card UID presented (never a PIN, secret or document number)
    source          TEXT,                      -- 'readers/<id>' or 'doors/<id>': the topic that delivered the event
    event_id        TEXT,                      -- the device's eventId; (source, event_id) is unique
    device_seq      INTEGER,
    device_at       INTEGER,
    offline         INTEGER NOT NULL DEFAULT 0,
    decision        TEXT,                      -- grant | deny (access rows only)
    reason          TEXT,                      -- closed reason code, or alarm type
    unlock_seconds  INTEGER,
    actor           TEXT,                      -- who made an admin change
    detail          TEXT                       -- JSON with anything else
);

CREATE UNIQUE INDEX ux_entry_log_source_event ON entry_log (source, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX ix_entry_log_at ON entry_log (at);
CREATE INDEX ix_entry_log_person_at ON entry_log (person_id, at) WHERE person_id IS NOT NULL;
CREATE INDEX ix_entry_log_door_at ON entry_log (door_id, at) WHERE door_id IS NOT NULL;
CREATE INDEX ix_entry_log_site_at ON entry_log (site_id, at);

CREATE TRIGGER entry_log_no_update BEFORE UPDATE ON entry_log
BEGIN
    SELECT RAISE(ABORT, 'entry_log is append-only: UPDATE refused');
END;

CREATE TRIGGER entry_log_no_delete BEFORE DELETE ON entry_log
BEGIN
    SELECT RAISE(ABORT, 'entry_log is append-only: DELETE refused');
END;

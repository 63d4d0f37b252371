-- The writer numbers the rows itself (EntryLogWriter: one more than the chain's head, which it keeps in memory), so
-- AUTOINCREMENT only cost an update of sqlite_sequence, a WAL page, in every commit. A seq is still never reused: a
-- retention purge leaves its own rows at the head of the log, so the highest seq never goes down (docs/log-integrity.md).
-- SQLite cannot drop AUTOINCREMENT in place: the table is rebuilt with the same rows, bytes and seqs (the hash chain and
-- the log index are unchanged), then its indexes and its append-only triggers are made again as they were.
-- On PostgreSQL the column is a plain BIGINT PRIMARY KEY for the same reason.
CREATE TABLE entry_log_rebuilt (
    seq             INTEGER PRIMARY KEY,       -- assigned by the writer: the chain's order
    at              INTEGER NOT NULL,          -- when the service recorded it
    kind            TEXT    NOT NULL,          -- access | door | alarm | device | admin | security | malformed | integrity | safety
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
    decision        TEXT,                      -- grant | deny | pending (access rows only)
    reason          TEXT,                      -- closed reason code, or alarm type
    unlock_seconds  INTEGER,
    actor           TEXT,                      -- who made an admin change
    detail          TEXT,                      -- JSON with anything else
    hash            BLOB                       -- the chain: SHA-256(previous hash || this row, v1)
);

INSERT INTO entry_log_rebuilt (seq, at, kind, site_id, reader_id, door_id, zone_id, person_id, card, source, event_id,
                               device_seq, device_at, offline, decision, reason, unlock_seconds, actor, detail, hash)
SELECT seq, at, kind, site_id, reader_id, door_id, zone_id, person_id, card, source, event_id,
       device_seq, device_at, offline, decision, reason, unlock_seconds, actor, detail, hash
FROM entry_log ORDER BY seq;

-- Dropping the table drops its indexes and triggers with it, and fires no DELETE trigger.
DROP TABLE entry_log;
ALTER TABLE entry_log_rebuilt RENAME TO entry_log;
DELETE FROM sqlite_sequence WHERE name = 'entry_log';

CREATE UNIQUE INDEX ux_entry_log_source_event ON entry_log (source, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX ix_entry_log_device_seq_reset ON entry_log (source, seq) WHERE reason = 'device_seq_reset';
CREATE INDEX ix_entry_log_fire ON entry_log (seq) WHERE kind = 'safety' OR (kind = 'alarm' AND reason = 'fire_alarm');

CREATE TRIGGER entry_log_no_update BEFORE UPDATE ON entry_log
WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL
          AND NEW.seq IS OLD.seq AND NEW.at IS OLD.at AND NEW.kind IS OLD.kind AND NEW.site_id IS OLD.site_id
          AND NEW.reader_id IS OLD.reader_id AND NEW.door_id IS OLD.door_id AND NEW.zone_id IS OLD.zone_id
          AND NEW.person_id IS OLD.person_id AND NEW.card IS OLD.card AND NEW.source IS OLD.source
          AND NEW.event_id IS OLD.event_id AND NEW.device_seq IS OLD.device_seq AND NEW.device_at IS OLD.device_at
          AND NEW.offline IS OLD.offline AND NEW.decision IS OLD.decision AND NEW.reason IS OLD.reason
          AND NEW.unlock_seconds IS OLD.unlock_seconds AND NEW.actor IS OLD.actor AND NEW.detail IS OLD.detail)
BEGIN
    SELECT RAISE(ABORT, 'entry_log is append-only: UPDATE refused');
END;

CREATE TRIGGER entry_log_no_delete BEFORE DELETE ON entry_log
WHEN OLD.seq > (SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge)
BEGIN
    SELECT RAISE(ABORT, 'entry_log is append-only: DELETE refused (retention purges go through log purge)');
END;

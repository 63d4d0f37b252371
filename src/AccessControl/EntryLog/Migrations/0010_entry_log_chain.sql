-- Tamper evidence for the entry log (docs/log-integrity.md): a hash chain over the rows, signed checkpoints,
-- and one audited purge path.
--
-- hash = SHA-256(previous row's hash || canonical encoding of this row, v1). Rows of a database older than this
-- migration have no hash yet: the writer seals them once, at its first open, and records that as an
-- 'integrity'/'genesis' row (EntryLogWriter). Filling a NULL hash is the only UPDATE the log accepts.
ALTER TABLE entry_log ADD COLUMN hash BLOB;

DROP TRIGGER entry_log_no_update;
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

-- Retention purges (EntryLogWriter.Purge): a row may be deleted only when a log_purge row authorizes its seq.
-- The purge writes that row, then an 'integrity'/'purge' row into the chain, then deletes, in one transaction.
CREATE TABLE log_purge (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    up_to_seq   INTEGER NOT NULL,          -- rows with seq <= this may be deleted
    purge_seq   INTEGER NOT NULL,          -- the chain row that records the purge
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL
);

DROP TRIGGER entry_log_no_delete;
CREATE TRIGGER entry_log_no_delete BEFORE DELETE ON entry_log
WHEN OLD.seq > (SELECT COALESCE(MAX(up_to_seq), 0) FROM log_purge)
BEGIN
    SELECT RAISE(ABORT, 'entry_log is append-only: DELETE refused (retention purges go through log purge)');
END;

CREATE TRIGGER log_purge_no_update BEFORE UPDATE ON log_purge
BEGIN
    SELECT RAISE(ABORT, 'log_purge is append-only: UPDATE refused');
END;

CREATE TRIGGER log_purge_no_delete BEFORE DELETE ON log_purge
BEGIN
    SELECT RAISE(ABORT, 'log_purge is append-only: DELETE refused');
END;

-- Signed checkpoints of the chain head. Each is also appended to checkpoints/entry-log.checkpoints.jsonl in the
-- data folder, outside the database, so that a database rewritten from scratch no longer matches the file.
CREATE TABLE log_checkpoints (
    seq         INTEGER PRIMARY KEY,       -- the last row covered
    hash        BLOB    NOT NULL,          -- that row's chain hash
    rows        INTEGER NOT NULL,          -- rows in entry_log at that moment (informational)
    at          INTEGER NOT NULL,          -- Unix milliseconds
    key_id      TEXT    NOT NULL,          -- first 16 hex digits of SHA-256 of the public key (SubjectPublicKeyInfo DER)
    signature   BLOB    NOT NULL           -- ECDSA P-256 / SHA-256, DER, over the v1 checkpoint message
);

CREATE TRIGGER log_checkpoints_no_update BEFORE UPDATE ON log_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'log_checkpoints is append-only: UPDATE refused');
END;

CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'log_checkpoints is append-only: DELETE refused');
END;

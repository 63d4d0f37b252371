-- Fingerprint templates, encrypted at rest (AES-256-GCM, keys in fingerprint.keys or AC_FINGERPRINT_KEYS, never here).
-- ciphertext is the encrypted template followed by its 16-byte tag; the associated data binds it to template_id,
-- person_id, finger and format, so it cannot be moved to another row. Revocation sets ciphertext and nonce to NULL
-- (the template is gone) and keeps the row: who enrolled it, when, where, and who revoked it and why.
CREATE TABLE fingerprint_templates (
    template_id      TEXT    NOT NULL PRIMARY KEY,  -- 'fpt-' + 32 hex digits
    person_id        TEXT    NOT NULL,
    finger           TEXT    NOT NULL,              -- ISO/IEC 19794-2 position token: right-thumb .. left-little
    format           TEXT    NOT NULL,              -- template format token: iso-19794-2, ansi-378, ac-sim-v1, ...
    key_id           TEXT    NOT NULL,              -- the key it was (last) encrypted under
    nonce            BLOB,                          -- 12 random bytes; NULL once revoked
    ciphertext       BLOB,                          -- ciphertext || tag; NULL once revoked
    enrolled_at      INTEGER NOT NULL,              -- Unix ms
    enrolled_by      TEXT    NOT NULL,              -- the operator who enrolled it
    station          TEXT    NOT NULL,              -- the enrollment station
    revoked_at       INTEGER,                       -- Unix ms; NULL while active
    revoked_by       TEXT,
    revoke_reason    TEXT,
    last_matched_at  INTEGER,                       -- Unix ms of the last grant it matched for; NULL if never
    CHECK ((revoked_at IS NULL AND nonce IS NOT NULL AND ciphertext IS NOT NULL)
        OR (revoked_at IS NOT NULL AND nonce IS NULL AND ciphertext IS NULL AND revoked_by IS NOT NULL))
);

-- At most one active template per person and finger (re-enrolling a finger revokes the old template first).
CREATE UNIQUE INDEX ux_fingerprint_templates_active_finger ON fingerprint_templates (person_id, finger) WHERE revoked_at IS NULL;
CREATE INDEX ix_fingerprint_templates_person ON fingerprint_templates (person_id, enrolled_at);

-- The least-privilege role 'enrollment' (enrolls, revokes and lists fingerprint templates, nothing else). Its tokens
-- must name their person: an operator never enrolls their own fingers (segregation of duties). SQLite cannot change
-- a CHECK constraint in place: the token table is rebuilt with the same rows, as in 0006.
CREATE TABLE operator_tokens_new (
    token_hash   TEXT    NOT NULL PRIMARY KEY,   -- lower-case hex SHA-256 of the token's UTF-8 bytes
    operator     TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'auditor', 'host', 'approver', 'frontdesk', 'security', 'enrollment')),
    person_id    TEXT,                           -- the employee behind the token; required for host, approver and enrollment
    created_at   INTEGER NOT NULL,               -- Unix ms
    created_by   TEXT    NOT NULL,
    revoked_at   INTEGER,                        -- Unix ms; NULL while the token is valid
    site_id      TEXT,                           -- the one site the token acts for; NULL for every site
    CHECK (person_id IS NOT NULL OR role NOT IN ('host', 'approver', 'enrollment'))
);

INSERT INTO operator_tokens_new (token_hash, operator, role, person_id, created_at, created_by, revoked_at, site_id)
SELECT token_hash, operator, role, person_id, created_at, created_by, revoked_at, site_id FROM operator_tokens;

DROP TABLE operator_tokens;
ALTER TABLE operator_tokens_new RENAME TO operator_tokens;
CREATE INDEX ix_operator_tokens_operator ON operator_tokens (operator);

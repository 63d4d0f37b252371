-- Visitor management adds operator roles (host, approver, frontdesk, security) and the person behind a token:
-- hosts and approvers must name their person, so that segregation of duties ("nobody approves a visit they
-- requested or host") compares people, not account names. SQLite cannot change a CHECK constraint in place:
-- the table is rebuilt with the same rows (the existing tokens keep working; they have no person).
CREATE TABLE operator_tokens_new (
    token_hash   TEXT    NOT NULL PRIMARY KEY,   -- lower-case hex SHA-256 of the token's UTF-8 bytes
    operator     TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'auditor', 'host', 'approver', 'frontdesk', 'security')),
    person_id    TEXT,                           -- the employee behind the token; required for host and approver
    created_at   INTEGER NOT NULL,               -- Unix ms
    created_by   TEXT    NOT NULL,
    revoked_at   INTEGER,                        -- Unix ms; NULL while the token is valid
    CHECK (person_id IS NOT NULL OR role NOT IN ('host', 'approver'))
);

INSERT INTO operator_tokens_new (token_hash, operator, role, person_id, created_at, created_by, revoked_at)
SELECT token_hash, operator, role, NULL, created_at, created_by, revoked_at FROM operator_tokens;

DROP TABLE operator_tokens;
ALTER TABLE operator_tokens_new RENAME TO operator_tokens;
CREATE INDEX ix_operator_tokens_operator ON operator_tokens (operator);

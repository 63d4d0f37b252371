-- API tokens of operators. Only the SHA-256 hash of a token is stored: a copy of the database does not let
-- anyone call the API. A token is never deleted, only revoked, so the table keeps who could act and since when.
CREATE TABLE operator_tokens (
    token_hash   TEXT    NOT NULL PRIMARY KEY,   -- lower-case hex SHA-256 of the token's UTF-8 bytes
    operator     TEXT    NOT NULL,
    role         TEXT    NOT NULL CHECK (role IN ('admin', 'auditor')),
    created_at   INTEGER NOT NULL,               -- Unix ms
    created_by   TEXT    NOT NULL,
    revoked_at   INTEGER                         -- Unix ms; NULL while the token is valid
);

CREATE INDEX ix_operator_tokens_operator ON operator_tokens (operator);

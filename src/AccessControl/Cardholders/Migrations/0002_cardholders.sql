-- Cardholders: access levels, people, credentials. The decision engine never reads these tables; it reads the
-- immutable snapshot built from them at start-up (CardholderStore.LoadAll) and kept current by AdminService.
-- Every row says who changed it last and when (updated_at: Unix milliseconds, UTC); the full history of changes
-- is in the entry log as kind 'admin' rows. Portable SQL: runs on PostgreSQL with TEXT/BIGINT.
CREATE TABLE access_levels (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    schedule_id  TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL
);

CREATE TABLE access_level_zones (
    level_id     TEXT    NOT NULL REFERENCES access_levels (id) ON DELETE CASCADE,
    zone_id      TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL,
    PRIMARY KEY (level_id, zone_id)
);

CREATE TABLE people (
    id           TEXT    NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('employee', 'contractor', 'visitor')),
    status       TEXT    NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL
);

-- A level still held by someone cannot be deleted (no ON DELETE CASCADE on level_id): access is removed explicitly.
CREATE TABLE person_access_levels (
    person_id    TEXT    NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    level_id     TEXT    NOT NULL REFERENCES access_levels (id),
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL,
    PRIMARY KEY (person_id, level_id)
);

CREATE INDEX ix_person_access_levels_level ON person_access_levels (level_id);

CREATE TABLE credentials (
    card_uid     TEXT    NOT NULL PRIMARY KEY,   -- normalized: upper-case hex, no separators
    technology   TEXT    NOT NULL,
    person_id    TEXT    NOT NULL REFERENCES people (id),
    valid_from   INTEGER,                        -- Unix ms, inclusive; NULL: no lower bound
    valid_until  INTEGER,                        -- Unix ms, exclusive; NULL: no upper bound
    status       TEXT    NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
    updated_at   INTEGER NOT NULL,
    updated_by   TEXT    NOT NULL,
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);

CREATE INDEX ix_credentials_person ON credentials (person_id);

-- Visitor management: requests, approvals, the visitors of each visit with their check-in and check-out, the badge
-- pool and the watch list. Instants are Unix milliseconds (UTC); local dates and times are ISO text in the site's zone.
-- Every change is also an 'admin' row in the entry log (append-only); these tables are the current state and the
-- visitor log (PCI DSS 9.3.4), and are purged after the retention period (the entry log is not).

CREATE TABLE visits (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id              TEXT    NOT NULL,
    host_person          TEXT    NOT NULL,          -- the employee responsible for the visitors
    requested_by         TEXT    NOT NULL,          -- operator account that made the request
    requested_by_person  TEXT    NOT NULL,          -- the person behind that account
    requested_at         INTEGER NOT NULL,
    purpose              TEXT    NOT NULL,
    window_date          TEXT    NOT NULL,          -- yyyy-MM-dd, site's zone
    window_start         TEXT    NOT NULL,          -- HH:mm
    window_end           TEXT    NOT NULL,          -- HH:mm; not after the start: the next day
    starts_at            INTEGER NOT NULL,          -- the window resolved in the site's zone when requested
    ends_at              INTEGER NOT NULL,
    zones                TEXT    NOT NULL,          -- JSON array of zone ids
    escorts              TEXT    NOT NULL,          -- JSON array of person ids; [] = any authorized escort
    status               TEXT    NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'withdrawn')),
    decided_by           TEXT,                      -- approver account (approve or reject)
    decided_by_person    TEXT,
    decided_at           INTEGER,
    decision_note        TEXT,
    approved_snapshot    TEXT,                      -- JSON: exactly what was approved
    withdrawn_by         TEXT,
    withdrawn_at         INTEGER
);

CREATE INDEX ix_visits_site_starts ON visits (site_id, starts_at);
CREATE INDEX ix_visits_ends ON visits (ends_at);

CREATE TABLE visit_visitors (
    visit_id         INTEGER NOT NULL REFERENCES visits (id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,              -- 1, 2, ... within the visit
    name             TEXT    NOT NULL,
    organization     TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('expected', 'on_site', 'left')),
    person_id        TEXT,                          -- the per-visit cardholder created at check-in
    badge_card       TEXT,                          -- pooled badge bound at check-in (normalized card UID)
    doc_type         TEXT,
    doc_country      TEXT,
    doc_number_hmac  TEXT,                          -- HMAC-SHA256 (key: pii.key) of the number; never the number
    doc_number_last4 TEXT,
    doc_expiry       TEXT,                          -- yyyy-MM-dd
    checked_in_at    INTEGER,
    checked_in_by    TEXT,
    checked_out_at   INTEGER,
    checked_out_by   TEXT,
    overdue_alarm_at INTEGER,                       -- when visitor_badge_not_returned was raised for this badge
    PRIMARY KEY (visit_id, number)
);

-- A pooled badge is never issued while its previous visit is open: at most one visitor on site per badge.
CREATE UNIQUE INDEX ux_visit_visitors_badge_on_site ON visit_visitors (badge_card) WHERE status = 'on_site';

CREATE TABLE badge_pool (
    card_uid    TEXT    NOT NULL PRIMARY KEY,       -- normalized card UID
    site_id     TEXT    NOT NULL,
    technology  TEXT    NOT NULL,
    added_at    INTEGER NOT NULL,
    added_by    TEXT    NOT NULL
);

CREATE TABLE watchlist (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL CHECK (kind IN ('person', 'organization')),
    value       TEXT    NOT NULL,                   -- as entered
    normalized  TEXT    NOT NULL,                   -- VisitorNames.Normalize
    note        TEXT,
    added_at    INTEGER NOT NULL,
    added_by    TEXT    NOT NULL
);

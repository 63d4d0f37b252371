-- Escorting (issue 3): an access level can give escort privilege for its zones, or give access to them only under
-- escort. 0 or 1; the admin service refuses a level that is both. Existing levels keep their meaning (neither).
ALTER TABLE access_levels ADD COLUMN escort INTEGER NOT NULL DEFAULT 0 CHECK (escort IN (0, 1));
ALTER TABLE access_levels ADD COLUMN escorted_only INTEGER NOT NULL DEFAULT 0 CHECK (escorted_only IN (0, 1));

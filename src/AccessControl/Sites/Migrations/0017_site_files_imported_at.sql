-- When the people, credentials and access levels of a stored site file were imported (through the audited admin
-- path); null until they are. A file is stored before the service starts on it and imported once the pipeline runs:
-- a start that failed in between (a port taken), or an import that failed part-way (the database, after some
-- people), left a stored file whose cardholders were never all imported, and the next start without --site did not
-- import them. Every start now imports each site's newest file that has no time here (SiteStore.Unimported); an
-- import applies only what differs, so one that stopped part-way goes on where it stopped.
ALTER TABLE site_files ADD COLUMN imported_at INTEGER;

-- Files stored before this column: counted as imported. Nearly all were, by the start that stored them; importing
-- them again now would put back, without anyone asking, whatever operators have changed through the API since.
UPDATE site_files SET imported_at = loaded_at;

-- The seq of the entry-log row "site.load" that records a stored site file (who, file, sha256); null until it is
-- written. A file is stored before the service starts on it and the row is written once the pipeline runs: a start
-- that failed in between left a stored file without its row, and the next start (the same file: nothing new to
-- store) never wrote one. Every start now writes the row of each site's newest file that has none (SiteStore.Unlogged).
ALTER TABLE site_files ADD COLUMN logged_seq INTEGER;

-- Files loaded before this column: the row of the same site and sha256, if the log has one (a one-time scan of the
-- admin rows). A file whose row was lost gets it at the next start.
UPDATE site_files SET logged_seq = (
    SELECT MAX(e.seq) FROM entry_log e
    WHERE e.kind = 'admin' AND e.reason = 'site.load' AND e.site_id = site_files.site_id
      AND e.detail LIKE '%"sha256":"' || site_files.sha256 || '"%');

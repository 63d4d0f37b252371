-- Every site file loaded, kept whole: the topology the service decided with at any time can be reproduced,
-- and a restart without --site continues with the last file loaded for each site.
CREATE TABLE site_files (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id     TEXT    NOT NULL,
    loaded_at   INTEGER NOT NULL,
    loaded_by   TEXT    NOT NULL,
    file_name   TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    content     TEXT    NOT NULL
);

CREATE INDEX ix_site_files_site ON site_files (site_id, id);

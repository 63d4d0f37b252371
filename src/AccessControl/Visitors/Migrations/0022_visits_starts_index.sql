-- The front desk's day list of every site (`visit list` without --site, GET /visits without site) ranges over the
-- windows' starts: a window lasts at most VisitWindow.MaxLength, so a visit overlapping the day starts in
-- [day - MaxLength, day end). ix_visits_site_starts serves a list of one site only; without this index the list of
-- all sites read every visit ending after the day (ix_visits_ends): all the future ones of a past day.
CREATE INDEX ix_visits_starts ON visits (starts_at);

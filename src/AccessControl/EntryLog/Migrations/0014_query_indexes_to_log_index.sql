-- The entry log's query indexes move out of the swipe's commit, into the log index beside the database
-- (EntryLog/LogIndex.cs: accesscontrol.index.db, filled in bulk by a background job and rebuilt from the log whenever
-- it is missing). A commit then updates the table and the redelivery index (source, event_id), and no longer five
-- b-trees that only queries read: 16 WAL pages per commit of 2.3 rows became 6 (docs/benchmarks.md).
-- The two partial indexes stay: they hold a handful of rare rows and cost nothing per swipe.
DROP INDEX ix_entry_log_at;
DROP INDEX ix_entry_log_person_at;
DROP INDEX ix_entry_log_door_at;
DROP INDEX ix_entry_log_site_at;
DROP INDEX ix_entry_log_source_device_seq;

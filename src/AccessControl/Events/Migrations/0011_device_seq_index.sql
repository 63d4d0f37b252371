-- Replay protection rebuilds the last accepted seq of every device from the log at start-up:
-- MAX(device_seq) per source since that source's last operator reset. These indexes keep that a seek per source.
-- Refused events (replay_suspected) keep their seq in detail, not in device_seq, so they never move a baseline.
CREATE INDEX ix_entry_log_source_device_seq ON entry_log (source, device_seq) WHERE device_seq IS NOT NULL;
CREATE INDEX ix_entry_log_device_seq_reset ON entry_log (source, seq) WHERE reason = 'device_seq_reset';

-- Devpilot's own backups are thinned: the operator's setting of how many to keep, and when
-- retention removed a backup from the destination.
ALTER TABLE instance_backup_config ADD COLUMN keep_count BIGINT NOT NULL DEFAULT 14;
ALTER TABLE instance_backups ADD COLUMN pruned_at TIMESTAMP;

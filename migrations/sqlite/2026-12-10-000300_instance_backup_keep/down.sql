ALTER TABLE instance_backups DROP COLUMN pruned_at;
ALTER TABLE instance_backup_config DROP COLUMN keep_count;

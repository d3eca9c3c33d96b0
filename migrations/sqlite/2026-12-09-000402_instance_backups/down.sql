DROP TABLE instance_backups;
DROP TABLE instance_backup_config;

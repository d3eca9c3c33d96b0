-- Devpilot's own backup: the operator's destination (its fields sealed under the master key),
-- the master keys sealed under the operator's passphrase, the schedule; and each backup made.
CREATE TABLE instance_backup_config (
    id TEXT PRIMARY KEY NOT NULL,
    destination_kind TEXT NOT NULL,
    destination_sealed BYTEA NOT NULL,
    keys_sealed BYTEA NOT NULL,
    key_ids TEXT NOT NULL,
    schedule TEXT,
    next_due_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE instance_backups (
    id TEXT PRIMARY KEY NOT NULL,
    trigger TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status TEXT NOT NULL,
    object_key TEXT,
    bytes BIGINT NOT NULL DEFAULT 0,
    sha256 TEXT,
    error TEXT
);
CREATE INDEX instance_backups_newest ON instance_backups (started_at);

-- A PostgreSQL source's connection URL (with its password) sealed under the master key; the
-- plain source_path keeps the URL without the password, for display.
ALTER TABLE plans ADD COLUMN source_secret BLOB;
-- Client-side encryption of the plan's artifacts with the workspace's artifact key.
ALTER TABLE plans ADD COLUMN encrypt BOOLEAN NOT NULL DEFAULT FALSE;

-- What a run's artifact holds and whether it is encrypted: a restore must not depend on how the
-- plan is configured today.
ALTER TABLE runs ADD COLUMN source_kind TEXT;
ALTER TABLE runs ADD COLUMN encrypted BOOLEAN NOT NULL DEFAULT FALSE;

-- The workspace's 32-byte artifact key, sealed under the master key; created on first use.
ALTER TABLE workspaces ADD COLUMN artifact_key BLOB;

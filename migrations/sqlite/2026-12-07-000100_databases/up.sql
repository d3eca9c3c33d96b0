-- PostgreSQL servers a workspace protects with continuous WAL archiving (point-in-time recovery).
CREATE TABLE databases (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    -- The connection URL (a role with REPLICATION), sealed.
    url_secret BLOB NOT NULL,
    destination_id TEXT REFERENCES destinations (id) ON DELETE SET NULL,
    base_schedule TEXT NOT NULL,
    next_base_at TIMESTAMP,
    window_days BIGINT NOT NULL,
    min_base_backups BIGINT NOT NULL,
    encrypt BOOLEAN NOT NULL,
    archiving BOOLEAN NOT NULL,
    -- Where this database's archive lives in the destination; a switch starts a new one.
    archive_prefix TEXT NOT NULL,
    seg_size BIGINT NOT NULL,
    server_version INTEGER NOT NULL,
    system_identifier TEXT NOT NULL,
    -- ok, starting, lagging, failed, stopped
    status TEXT NOT NULL,
    status_message TEXT,
    -- The lease: which instance runs the receiver, and its last heartbeat.
    receiver_instance TEXT,
    receiver_beat_at TIMESTAMP,
    last_received_at TIMESTAMP,
    received_lsn TEXT,
    lag_bytes BIGINT,
    slot_wal_status TEXT,
    -- Set by a switch: the database record that replaced this one.
    replaced_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX databases_name_unique ON databases (workspace_id, lower(name));

-- Every WAL file archived: completed segments, timeline history files, and the open segment's
-- latest .partial upload.
CREATE TABLE wal_files (
    database_id TEXT NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    timeline INTEGER NOT NULL,
    segno BIGINT NOT NULL,
    size BIGINT NOT NULL,
    stored_size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    object_key TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (database_id, name)
);

-- Base backups (pg_basebackup), scheduled or on demand.
CREATE TABLE base_backups (
    id TEXT PRIMARY KEY NOT NULL,
    database_id TEXT NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    instance_id TEXT,
    object_key TEXT,
    timeline INTEGER,
    start_lsn TEXT,
    stop_lsn TEXT,
    started_at TIMESTAMP NOT NULL,
    stopped_at TIMESTAMP,
    bytes BIGINT NOT NULL,
    sha256 TEXT,
    error TEXT
);
CREATE INDEX base_backups_database ON base_backups (database_id, started_at);

-- Clusters Devpilot started on its own host from a base backup and the archive.
CREATE TABLE database_clones (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    database_id TEXT NOT NULL REFERENCES databases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    port INTEGER NOT NULL,
    target_time TIMESTAMP,
    timeline INTEGER,
    -- restoring, running, stopped, failed
    status TEXT NOT NULL,
    error TEXT,
    instance_id TEXT,
    -- SHA-256 of the token the clone's restore command fetches WAL with, while it restores.
    fetch_token_hash TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX database_clones_name_unique ON database_clones (workspace_id, lower(name));
CREATE UNIQUE INDEX database_clones_port_unique ON database_clones (port);

-- The audit log records databases and their clones too. SQLite cannot change a CHECK
-- constraint: the table is rebuilt with the wider one.
CREATE TABLE audit_events_new (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    actor_token TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'api')),
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL CHECK (subject_type IN ('destination', 'plan', 'server', 'grant', 'database', 'clone')),
    subject_id TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    detail TEXT NOT NULL
);
INSERT INTO audit_events_new SELECT * FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_newest ON audit_events (workspace_id, occurred_at, id);
CREATE INDEX audit_events_subject ON audit_events (workspace_id, subject_id, occurred_at);

-- SQLite cannot drop a column that references another table: rebuild destinations without them.
DROP INDEX destinations_server;
CREATE TABLE destinations_before_servers (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    settings TEXT NOT NULL,
    credentials BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'testing', 'failed', 'disabled')),
    status_before_test TEXT,
    last_tested_at TIMESTAMP,
    last_test_message TEXT,
    is_default BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO destinations_before_servers
    SELECT id, workspace_id, name, kind, settings, credentials, status, status_before_test, last_tested_at,
           last_test_message, is_default, created_at, updated_at
    FROM destinations;
DROP TABLE destinations;
ALTER TABLE destinations_before_servers RENAME TO destinations;
CREATE UNIQUE INDEX destinations_name_unique ON destinations (workspace_id, lower(name));
CREATE UNIQUE INDEX destinations_one_default ON destinations (workspace_id) WHERE is_default = 1;
CREATE INDEX destinations_workspace_created ON destinations (workspace_id, created_at);
DROP TABLE servers;

-- Managed servers: one SSH login that SFTP destinations can share; secrets sealed in credentials.
CREATE TABLE servers (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    port BIGINT NOT NULL,
    username TEXT NOT NULL,
    credentials BLOB NOT NULL,
    host_key_fingerprint TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX servers_name_unique ON servers (workspace_id, lower(name));

-- An SFTP destination's pinned host key (when it has a login of its own), and the managed server
-- it uses instead (a server in use cannot be deleted).
ALTER TABLE destinations ADD COLUMN host_key_fingerprint TEXT;
ALTER TABLE destinations ADD COLUMN server_id TEXT REFERENCES servers (id);
CREATE INDEX destinations_server ON destinations (server_id);

-- Two levels of trust. An operator (instance administrator) runs the server: the account made on
-- the setup page is one. Workspace roles (owner, admin, viewer) mean something inside their
-- workspace only. A disabled account is refused on every request of every session and token.
ALTER TABLE users ADD COLUMN is_operator BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP;
-- The setup account of an existing install is its operator.
UPDATE users SET is_operator = TRUE WHERE id = (SELECT id FROM users ORDER BY created_at, id LIMIT 1);

-- What of the machine Devpilot runs on a workspace may use, granted by an operator: a folder
-- (read, or read and write) or a database server (host and port, or a Unix socket's folder).
-- A workspace uses nothing of the host that is not granted here.
CREATE TABLE host_grants (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('folder', 'database')),
    -- folder: its absolute path, resolved when granted; database: a Unix socket's folder, or NULL.
    path TEXT,
    -- folder: 'read' or 'read_write'; database: NULL.
    access TEXT CHECK (access IS NULL OR access IN ('read', 'read_write')),
    -- database over TCP: host name or address, and port.
    host TEXT,
    port BIGINT,
    note TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX host_grants_workspace ON host_grants (workspace_id, kind);

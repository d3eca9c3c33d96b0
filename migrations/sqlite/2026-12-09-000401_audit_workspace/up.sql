-- The audit log records exports of a workspace's recovery key (subject: the workspace). SQLite
-- cannot change a CHECK constraint: the table is rebuilt with the wider one.
CREATE TABLE audit_events_new (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    actor_token TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'api')),
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL CHECK (subject_type IN ('destination', 'plan', 'server', 'grant', 'database', 'clone', 'channel', 'workspace')),
    subject_id TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    detail TEXT NOT NULL
);
INSERT INTO audit_events_new SELECT * FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_newest ON audit_events (workspace_id, occurred_at, id);
CREATE INDEX audit_events_subject ON audit_events (workspace_id, subject_id, occurred_at);

-- Who changed, tested, disabled, enabled, made default or deleted a destination, a plan or a
-- managed server, when, and through what (the web pages or the API). The actor is copied in (an
-- email, an API token's name and prefix), not referenced: the record outlives the account. The
-- detail is short and never holds a secret: field names, never values; a test's result message.
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    occurred_at TIMESTAMP NOT NULL,
    actor_user_id TEXT NOT NULL,
    actor_email TEXT NOT NULL,
    actor_token TEXT,
    channel TEXT NOT NULL CHECK (channel IN ('web', 'api')),
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL CHECK (subject_type IN ('destination', 'plan', 'server')),
    subject_id TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_events_newest ON audit_events (workspace_id, occurred_at, id);
CREATE INDEX audit_events_subject ON audit_events (workspace_id, subject_id, occurred_at);

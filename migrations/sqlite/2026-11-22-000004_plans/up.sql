-- Backup plans: what to back up (source), where (destination), when (a 5-field cron schedule in
-- UTC) and how many artifacts to keep. A plan whose destination was deleted has none and is
-- disabled.
CREATE TABLE plans (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_path TEXT NOT NULL,
    destination_id TEXT REFERENCES destinations (id) ON DELETE SET NULL,
    schedule TEXT NOT NULL,
    retention BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL,
    next_run_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX plans_name_unique ON plans (workspace_id, lower(name));
CREATE INDEX plans_due ON plans (enabled, next_run_at);
CREATE INDEX plans_destination ON plans (destination_id);

-- One run of a plan: its status, what it wrote and where, or why it failed.
CREATE TABLE runs (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    destination_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped')),
    trigger TEXT NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    bytes BIGINT NOT NULL,
    sha256 TEXT,
    object_key TEXT,
    error TEXT,
    -- When retention deleted the artifact from the destination.
    pruned_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX runs_plan_created ON runs (plan_id, created_at);
CREATE INDEX runs_workspace_created ON runs (workspace_id, created_at);

ALTER TABLE destinations DROP COLUMN test_owner;

UPDATE runs SET status = 'failed' WHERE status = 'interrupted';
CREATE TABLE runs_old (
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
    pruned_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    source_kind TEXT,
    encrypted BOOLEAN NOT NULL DEFAULT FALSE
);
INSERT INTO runs_old (id, workspace_id, plan_id, destination_id, status, trigger, started_at, finished_at, bytes,
                      sha256, object_key, error, pruned_at, created_at, source_kind, encrypted)
SELECT id, workspace_id, plan_id, destination_id, status, trigger, started_at, finished_at, bytes,
       sha256, object_key, error, pruned_at, created_at, source_kind, encrypted
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_old RENAME TO runs;
CREATE INDEX runs_plan_created ON runs (plan_id, created_at);
CREATE INDEX runs_workspace_created ON runs (workspace_id, created_at);

DROP TABLE instances;

DROP TABLE run_copies;
DROP TABLE plan_copies;
UPDATE runs SET status = 'succeeded' WHERE status = 'partial';
CREATE TABLE runs_old (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    destination_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped', 'interrupted')),
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
    encrypted BOOLEAN NOT NULL DEFAULT FALSE,
    owner_id TEXT,
    notes TEXT,
    expected_bytes BIGINT,
    read_bytes BIGINT
);
INSERT INTO runs_old SELECT id, workspace_id, plan_id, destination_id, status, trigger, started_at, finished_at, bytes,
    sha256, object_key, error, pruned_at, created_at, source_kind, encrypted, owner_id, notes, expected_bytes,
    read_bytes FROM runs;
DROP TABLE runs;
ALTER TABLE runs_old RENAME TO runs;
CREATE INDEX runs_plan_created ON runs (plan_id, created_at);
CREATE INDEX runs_workspace_created ON runs (workspace_id, created_at);
CREATE INDEX runs_status ON runs (status);

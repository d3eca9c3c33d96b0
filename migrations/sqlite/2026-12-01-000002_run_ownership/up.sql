-- Every server process registers itself here and beats every few seconds. A running backup (and a
-- running connection test) names the instance executing it; one whose instance stopped beating
-- was cut off by a crash and is marked interrupted (tests: reset) by any instance still alive.
CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

-- SQLite cannot change a CHECK constraint in place: the runs table is rebuilt with 'interrupted'
-- allowed and the owner column added (no table references runs).
CREATE TABLE runs_new (
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
    -- The instance executing the run (queued or running); kept afterwards for the record.
    owner_id TEXT
);
INSERT INTO runs_new (id, workspace_id, plan_id, destination_id, status, trigger, started_at, finished_at, bytes,
                      sha256, object_key, error, pruned_at, created_at, source_kind, encrypted)
SELECT id, workspace_id, plan_id, destination_id, status, trigger, started_at, finished_at, bytes,
       sha256, object_key, error, pruned_at, created_at, source_kind, encrypted
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_plan_created ON runs (plan_id, created_at);
CREATE INDEX runs_workspace_created ON runs (workspace_id, created_at);
CREATE INDEX runs_status ON runs (status);

-- The instance running a destination's connection test, while it is Testing.
ALTER TABLE destinations ADD COLUMN test_owner TEXT;

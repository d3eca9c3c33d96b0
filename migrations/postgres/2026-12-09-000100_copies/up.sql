-- A run some of whose copies failed is 'partial' (partially succeeded).
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'skipped', 'interrupted'));

-- A plan writes its primary destination (plans.destination_id) and up to two more copies.
-- Deleting a destination removes the copies that pointed at it (the plan keeps the others).
CREATE TABLE plan_copies (
    plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    position BIGINT NOT NULL CHECK (position IN (1, 2)),
    destination_id TEXT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (plan_id, position)
);
CREATE UNIQUE INDEX plan_copies_destination ON plan_copies (plan_id, destination_id);

-- What each copy of a run became: position 0 is the primary (whose values runs.* repeat),
-- 1 and 2 the plan's copies at the time of the run. Each has its own status, size, checksum
-- (of the bytes it received), object, error, and retention.
CREATE TABLE run_copies (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    position BIGINT NOT NULL CHECK (position IN (0, 1, 2)),
    destination_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    bytes BIGINT NOT NULL,
    sha256 TEXT,
    object_key TEXT,
    error TEXT,
    pruned_at TIMESTAMP,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX run_copies_destination ON run_copies (destination_id);
CREATE INDEX run_copies_workspace ON run_copies (workspace_id, run_id);

-- Runs from before copies: their one destination is their primary copy.
INSERT INTO run_copies (run_id, workspace_id, position, destination_id, status, bytes, sha256, object_key, error,
                        pruned_at, started_at, finished_at)
SELECT id, workspace_id, 0, destination_id,
       CASE status WHEN 'succeeded' THEN 'succeeded' WHEN 'skipped' THEN 'skipped' ELSE 'failed' END,
       bytes, sha256, CASE status WHEN 'succeeded' THEN object_key END, error, pruned_at, started_at, finished_at
FROM runs WHERE status IN ('succeeded', 'failed', 'skipped', 'interrupted');

-- GFS retention per plan (copy_position 0) and, optionally, per copy (1, 2): how many artifacts
-- each tier keeps, and the Object Lock its uploads carry. plans.retention stays the plan's
-- "keep the last N" (keep_last here mirrors it for position 0).
CREATE TABLE retention_policies (
    plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    copy_position BIGINT NOT NULL CHECK (copy_position BETWEEN 0 AND 2),
    keep_last BIGINT NOT NULL,
    keep_hourly BIGINT NOT NULL DEFAULT 0,
    keep_daily BIGINT NOT NULL DEFAULT 0,
    keep_weekly BIGINT NOT NULL DEFAULT 0,
    keep_monthly BIGINT NOT NULL DEFAULT 0,
    keep_yearly BIGINT NOT NULL DEFAULT 0,
    lock_mode TEXT CHECK (lock_mode IN ('governance', 'compliance')),
    lock_days BIGINT,
    PRIMARY KEY (plan_id, copy_position)
);
-- Existing plans keep exactly what they kept: their newest N, no tiers.
INSERT INTO retention_policies (plan_id, workspace_id, copy_position, keep_last)
    SELECT id, workspace_id, 0, retention FROM plans;

-- The Object Lock an artifact was written with: until then neither retention nor a leaked key
-- can delete it.
CREATE TABLE artifact_locks (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    copy_position BIGINT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('governance', 'compliance')),
    retain_until TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, copy_position)
);

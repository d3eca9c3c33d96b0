-- A directory run's manifest: every entry of its archive in tar order (path, kind, size, mode,
-- mtime, SHA-256 of files), as zstd-compressed JSON lines cut into parts of a few thousand
-- entries, so neither writing nor reading it ever holds the whole list in memory.
CREATE TABLE run_manifests (
    run_id TEXT PRIMARY KEY NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    entries BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE run_manifest_parts (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    part BIGINT NOT NULL,
    entries BYTEA NOT NULL,
    PRIMARY KEY (run_id, part)
);

-- Each plan's restore-drill schedule (a plan without a row drills weekly, the row made by the
-- scheduler the first time it sees the plan).
CREATE TABLE plan_drills (
    plan_id TEXT PRIMARY KEY NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    schedule TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    next_drill_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX plan_drills_due ON plan_drills (enabled, next_drill_at);

-- Every restore drill: which run's artifact (and which copy of it), how it ended, what it checked.
CREATE TABLE drills (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    plan_id TEXT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    run_id TEXT,
    copy_position BIGINT NOT NULL,
    -- running, passed, failed
    status TEXT NOT NULL,
    -- manual, schedule
    trigger_kind TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    checked TEXT,
    error TEXT,
    bytes_read BIGINT NOT NULL,
    owner_id TEXT
);
CREATE INDEX drills_by_plan ON drills (workspace_id, plan_id, started_at);

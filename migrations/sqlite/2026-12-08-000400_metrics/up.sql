-- Real progress: how much a run will read from its source (None when it cannot be known) and how
-- much it has read so far (source bytes, before compression and encryption).
ALTER TABLE runs ADD COLUMN expected_bytes BIGINT;
ALTER TABLE runs ADD COLUMN read_bytes BIGINT;

-- The instance's metrics token (at most one live): only its hash is kept.
CREATE TABLE metrics_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    prefix TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Where a workspace is told about its backups: one row per channel (email, webhook, Slack, ...).
CREATE TABLE notification_channels (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- The fields that are not secret, as a JSON object.
    settings TEXT NOT NULL,
    -- The secret fields (passwords, tokens, URLs that embed tokens), sealed JSON.
    secrets BLOB NOT NULL,
    -- The event kinds it wants, comma-separated.
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX notification_channels_name_unique ON notification_channels (workspace_id, lower(name));

-- A plan's heartbeat URL (Healthchecks.io / Uptime Kuma push style), sealed; the host is shown.
CREATE TABLE plan_pings (
    plan_id TEXT PRIMARY KEY NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url_sealed BLOB NOT NULL,
    host TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- What is still to be delivered: one row per (event, channel) or per heartbeat ping, claimed by
-- one instance at a time (claimed_until), retried with back-off for a day (a setting).
CREATE TABLE notification_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    channel_id TEXT REFERENCES notification_channels (id) ON DELETE CASCADE,
    plan_id TEXT REFERENCES plans (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- pending, delivered, failed
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
CREATE INDEX notification_outbox_due ON notification_outbox (status, next_attempt_at);

-- Every delivery attempt, as a channel's log shows it (secrets redacted before they are written).
CREATE TABLE notification_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    outbox_id TEXT NOT NULL,
    channel_id TEXT REFERENCES notification_channels (id) ON DELETE CASCADE,
    plan_id TEXT REFERENCES plans (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    ok BOOLEAN NOT NULL,
    -- "HTTP 200", "SMTP 250", "timeout", "refused"
    outcome TEXT NOT NULL,
    answer TEXT NOT NULL,
    instance_id TEXT NOT NULL
);
CREATE INDEX notification_deliveries_channel ON notification_deliveries (workspace_id, channel_id, attempted_at);

-- Conditions that last (a stale plan, broken WAL archiving): notified once when they begin.
CREATE TABLE notification_episodes (
    subject TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    started_at TIMESTAMP NOT NULL
);

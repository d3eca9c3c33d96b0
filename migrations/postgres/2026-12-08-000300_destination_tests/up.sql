-- Every connection test of a saved destination, kept for its health history (the last 200 of
-- each destination; older ones are pruned as new ones arrive).
CREATE TABLE destination_tests (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    destination_id TEXT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    duration_ms BIGINT NOT NULL,
    -- passed, failed
    status TEXT NOT NULL,
    deep BOOLEAN NOT NULL,
    -- JSON: [{"name": "connect", "status": "passed", "duration_ms": 12}, …]
    steps TEXT NOT NULL,
    -- unreachable, timeout, authentication, permission, not-found, provider (failed tests only)
    error_class TEXT,
    -- The provider's message as shown on the list (already free of secrets).
    error_message TEXT,
    -- save, manual, api, test-all, schedule, enable, host-key, oauth
    trigger_kind TEXT NOT NULL,
    -- Who ran it: a user's id (and the API token's name and prefix), none for the schedule.
    triggered_by TEXT,
    triggered_token TEXT,
    -- The destination's status before and after the test.
    status_before TEXT NOT NULL,
    status_after TEXT NOT NULL
);
CREATE INDEX destination_tests_by_destination ON destination_tests (destination_id, started_at);

-- Scheduled re-validation: when each destination is next tested (jittered per destination).
ALTER TABLE destinations ADD COLUMN next_revalidation_at TIMESTAMP;

-- The list's strip is kept in memory with the destinations (src/db/version.rs).
CREATE TRIGGER destination_tests_changed AFTER INSERT OR UPDATE OR DELETE ON destination_tests
    FOR EACH ROW EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER destination_tests_truncated AFTER TRUNCATE ON destination_tests
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();

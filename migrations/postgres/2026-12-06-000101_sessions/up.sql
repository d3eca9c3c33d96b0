-- Signed-in sessions, kept on the server so that they can end: sign-out deletes the row, and a
-- cookie (or a JWT from /api/v1/auth/token) whose row is gone or expired is refused. The cookie
-- carries a random token; only its SHA-256 is stored. `id` names a session on the Sessions page.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'browser' (the session cookie) or 'api' (a JWT from /api/v1/auth/token).
    kind TEXT NOT NULL CHECK (kind IN ('browser', 'api')),
    created_at TIMESTAMP NOT NULL,
    -- Updated at most once a minute, not on every request.
    last_seen_at TIMESTAMP NOT NULL,
    -- The absolute end: DEVPILOT_SESSION_MAX_HOURS after sign-in, or the JWT's expiry.
    expires_at TIMESTAMP NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE UNIQUE INDEX sessions_token ON sessions (token_hash);
CREATE INDEX sessions_user ON sessions (user_id);

-- Instances keep sessions in memory (src/db/version.rs): every change is announced.
CREATE TRIGGER sessions_changed AFTER INSERT OR UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();

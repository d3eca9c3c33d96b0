-- One row per started Google consent: the state is random and only its SHA-256 is kept; the
-- row binds it to the user, their browser session (a hash of a per-session secret), the
-- destination, and holds the sealed PKCE verifier. Single use (used_at), 10 minutes.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    destination_id TEXT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_hash TEXT NOT NULL,
    pkce_verifier BYTEA NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- Sign-in attempts, counted before the password is checked: an attempt is recorded (committed)
-- first, then the attempts of its account and address are counted including it, so parallel
-- guesses cannot all slip under the limit. Past the limit a growing delay applies to that
-- account from that address (and to the address as a whole), never a lock-out for everyone.
DROP TABLE login_failures;
CREATE TABLE sign_in_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- 'pending' while the password is being checked, then 'failed' or 'succeeded'; 'refused' when
    -- the limits turned it away without checking.
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'failed', 'succeeded', 'refused'))
);
CREATE INDEX sign_in_attempts_account ON sign_in_attempts (email, ip, created_at);
CREATE INDEX sign_in_attempts_address ON sign_in_attempts (ip, created_at);
CREATE INDEX sign_in_attempts_age ON sign_in_attempts (created_at);

-- Every server process registers itself here and beats every few seconds. A running backup (and a
-- running connection test) names the instance executing it; one whose instance stopped beating
-- was cut off by a crash and is marked interrupted (tests: reset) by any instance still alive.
CREATE TABLE instances (
    id TEXT PRIMARY KEY NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL
);

ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped', 'interrupted'));
-- The instance executing the run (queued or running); kept afterwards for the record.
ALTER TABLE runs ADD COLUMN owner_id TEXT;
CREATE INDEX runs_status ON runs (status);

-- The instance running a destination's connection test, while it is Testing.
ALTER TABLE destinations ADD COLUMN test_owner TEXT;

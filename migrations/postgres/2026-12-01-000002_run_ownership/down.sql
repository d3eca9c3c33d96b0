ALTER TABLE destinations DROP COLUMN test_owner;
DROP INDEX runs_status;
ALTER TABLE runs DROP COLUMN owner_id;
UPDATE runs SET status = 'failed' WHERE status = 'interrupted';
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped'));
DROP TABLE instances;

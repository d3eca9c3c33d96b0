DROP TABLE run_copies;
DROP TABLE plan_copies;
UPDATE runs SET status = 'succeeded' WHERE status = 'partial';
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'skipped', 'interrupted'));

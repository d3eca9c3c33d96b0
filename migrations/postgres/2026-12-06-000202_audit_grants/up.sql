-- The audit log also records host grants an operator gives a workspace or revokes (subject type
-- 'grant'), in the workspace's own log.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_subject_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_subject_type_check
    CHECK (subject_type IN ('destination', 'plan', 'server', 'grant'));

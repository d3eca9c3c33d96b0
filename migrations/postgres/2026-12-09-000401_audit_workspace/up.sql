-- The audit log records exports of a workspace's recovery key (subject: the workspace).
ALTER TABLE audit_events DROP CONSTRAINT audit_events_subject_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_subject_type_check
    CHECK (subject_type IN ('destination', 'plan', 'server', 'grant', 'database', 'clone', 'channel', 'workspace'));

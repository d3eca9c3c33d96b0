DELETE FROM audit_events WHERE subject_type IN ('database', 'clone');
ALTER TABLE audit_events DROP CONSTRAINT audit_events_subject_type_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_subject_type_check
    CHECK (subject_type IN ('destination', 'plan', 'server', 'grant'));
DROP TABLE database_clones;
DROP TABLE base_backups;
DROP TABLE wal_files;
DROP TABLE databases;

DROP TABLE artifact_locks;
DROP TABLE retention_policies;

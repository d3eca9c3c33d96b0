DROP TABLE database_clones;
DROP TABLE base_backups;
DROP TABLE wal_files;
DROP TABLE databases;

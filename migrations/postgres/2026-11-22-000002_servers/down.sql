DROP INDEX destinations_server;
ALTER TABLE destinations DROP COLUMN server_id;
ALTER TABLE destinations DROP COLUMN host_key_fingerprint;
DROP TABLE servers;

DROP TABLE metrics_tokens;
ALTER TABLE runs DROP COLUMN read_bytes;
ALTER TABLE runs DROP COLUMN expected_bytes;

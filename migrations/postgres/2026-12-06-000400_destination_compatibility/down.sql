ALTER TABLE destinations DROP COLUMN compatibility;

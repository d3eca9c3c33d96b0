ALTER TABLE workspaces DROP COLUMN artifact_key;
ALTER TABLE runs DROP COLUMN encrypted;
ALTER TABLE runs DROP COLUMN source_kind;
ALTER TABLE plans DROP COLUMN encrypt;
ALTER TABLE plans DROP COLUMN source_secret;

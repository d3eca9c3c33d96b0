-- What a run wants its reader to know beside its status: e.g. what a directory backup skipped
-- (Devpilot's own files inside the folder it backed up).
ALTER TABLE runs ADD COLUMN notes TEXT;

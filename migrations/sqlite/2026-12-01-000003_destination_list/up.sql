-- The destination list's order (default first, then by name): a page is read off the index
-- instead of sorting every destination of the workspace.
CREATE INDEX destinations_list_order ON destinations (workspace_id, is_default DESC, name, id);

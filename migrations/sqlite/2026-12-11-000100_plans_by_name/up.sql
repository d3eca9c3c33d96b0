-- The plans page reads a workspace's plans a page at a time in name order: an index in that
-- order answers it without sorting the workspace's (possibly thousands of) plans on each request.
CREATE INDEX plans_by_name ON plans (workspace_id, name, id);

-- The destination list's order (default first, then by name): a page is read off the index
-- instead of sorting every destination of the workspace.
CREATE INDEX destinations_list_order ON destinations (workspace_id, is_default DESC, name, id);

-- Every change to a table that instances keep in memory (src/db/version.rs) is announced on
-- commit, to every instance, whoever made it (another instance, or someone in psql).
CREATE FUNCTION devpilot_announce_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('devpilot_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER destinations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON destinations
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER servers_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON servers
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER workspaces_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER memberships_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();

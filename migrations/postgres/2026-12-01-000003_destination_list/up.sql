-- The destination list's order (default first, then by name): a page is read off the index
-- instead of sorting every destination of the workspace.
CREATE INDEX destinations_list_order ON destinations (workspace_id, is_default DESC, name, id);

-- Every change to a table that instances keep in memory (src/db/version.rs) is announced on
-- commit, to every instance, whoever made it (another instance, or someone in psql). Per row, so
-- an UPDATE that matches nothing (the heartbeats' recovery, most of the time) announces nothing;
-- PostgreSQL sends one notification per transaction however many rows changed.
CREATE FUNCTION devpilot_announce_change() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('devpilot_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER destinations_changed AFTER INSERT OR UPDATE OR DELETE ON destinations
    FOR EACH ROW EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER destinations_truncated AFTER TRUNCATE ON destinations
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER servers_changed AFTER INSERT OR UPDATE OR DELETE ON servers
    FOR EACH ROW EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER servers_truncated AFTER TRUNCATE ON servers
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER workspaces_changed AFTER INSERT OR UPDATE OR DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER workspaces_truncated AFTER TRUNCATE ON workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER memberships_changed AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION devpilot_announce_change();
CREATE TRIGGER memberships_truncated AFTER TRUNCATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION devpilot_announce_change();

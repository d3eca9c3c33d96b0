DROP TRIGGER memberships_changed ON memberships;
DROP TRIGGER workspaces_changed ON workspaces;
DROP TRIGGER users_changed ON users;
DROP TRIGGER servers_changed ON servers;
DROP TRIGGER destinations_changed ON destinations;
DROP FUNCTION devpilot_announce_change();
DROP INDEX destinations_list_order;

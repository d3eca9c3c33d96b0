DROP TABLE destinations;
DROP TABLE login_failures;
DROP TABLE memberships;
DROP TABLE workspaces;
DROP TABLE users;

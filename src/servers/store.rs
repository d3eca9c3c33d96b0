//! Server queries. Every query takes the workspace id: another workspace's server is simply not
//! found.

use crate::db::DbConn;
use crate::db::schema::destinations::dsl as destinations;
use crate::db::schema::servers::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = servers)]
pub struct ServerRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub host: String,
    pub port: i64,
    pub username: String,
    pub credentials: Vec<u8>,
    pub host_key_fingerprint: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The parts an edit replaces; the pinned host key stays (a new key is accepted explicitly).
pub struct ServerChange {
    pub name: String,
    pub host: String,
    pub port: i64,
    pub username: String,
    pub credentials: Vec<u8>,
    pub updated_at: NaiveDateTime,
}

pub fn list(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<ServerRow>> {
    dsl::servers
        .filter(dsl::workspace_id.eq(workspace))
        .order((dsl::name.asc(), dsl::id.asc()))
        .select(ServerRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<ServerRow> {
    dsl::servers
        .filter(dsl::workspace_id.eq(workspace))
        .filter(dsl::id.eq(id))
        .select(ServerRow::as_select())
        .first(conn)
}

pub fn insert(conn: &mut DbConn, row: &ServerRow) -> QueryResult<()> {
    diesel::insert_into(dsl::servers).values(row).execute(conn).map(|_| ())
}

pub fn update(conn: &mut DbConn, workspace: &str, id: &str, change: ServerChange) -> QueryResult<()> {
    let n = diesel::update(dsl::servers.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set((
            dsl::name.eq(change.name),
            dsl::host.eq(change.host),
            dsl::port.eq(change.port),
            dsl::username.eq(change.username),
            dsl::credentials.eq(change.credentials),
            dsl::updated_at.eq(change.updated_at),
        ))
        .execute(conn)?;
    found(n)
}

pub fn set_host_key(conn: &mut DbConn, workspace: &str, id: &str, fingerprint: &str) -> QueryResult<()> {
    let n = diesel::update(dsl::servers.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
        .set(dsl::host_key_fingerprint.eq(fingerprint))
        .execute(conn)?;
    found(n)
}

/// (server id, destination name) of every destination of the workspace that uses a server.
pub fn destinations_using_servers(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<(Option<String>, String)> = destinations::destinations
        .filter(destinations::workspace_id.eq(workspace))
        .filter(destinations::server_id.is_not_null())
        .order(destinations::name.asc())
        .select((destinations::server_id, destinations::name))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(server, name)| Some((server?, name))).collect())
}

/// Deletes a server no destination uses; otherwise deletes nothing and returns the names of
/// the destinations that use it.
pub fn delete_unused(conn: &mut DbConn, workspace: &str, id: &str) -> QueryResult<Vec<String>> {
    crate::db::write_transaction(conn, |conn| {
        find(conn, workspace, id)?;
        let users: Vec<String> = destinations::destinations
            .filter(destinations::workspace_id.eq(workspace))
            .filter(destinations::server_id.eq(id))
            .order(destinations::name.asc())
            .select(destinations::name)
            .load(conn)?;
        if users.is_empty() {
            diesel::delete(dsl::servers.filter(dsl::workspace_id.eq(workspace)).filter(dsl::id.eq(id)))
                .execute(conn)?;
        }
        Ok(users)
    })
}

fn found(rows: usize) -> QueryResult<()> {
    if rows == 0 { Err(diesel::result::Error::NotFound) } else { Ok(()) }
}

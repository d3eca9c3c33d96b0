//! Grant queries. A workspace's grants are read by workspace id; only operators list them all.

use crate::db::DbConn;
use crate::db::schema::host_grants::{self, dsl};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = host_grants)]
pub struct GrantRow {
    pub id: String,
    pub workspace_id: String,
    pub kind: String,
    pub path: Option<String>,
    pub access: Option<String>,
    pub host: Option<String>,
    pub port: Option<i64>,
    pub note: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

pub fn for_workspace(conn: &mut DbConn, workspace: &str) -> QueryResult<Vec<GrantRow>> {
    dsl::host_grants
        .filter(dsl::workspace_id.eq(workspace))
        .order((dsl::kind.asc(), dsl::created_at.asc(), dsl::id.asc()))
        .select(GrantRow::as_select())
        .load(conn)
}

pub fn all(conn: &mut DbConn) -> QueryResult<Vec<GrantRow>> {
    dsl::host_grants
        .order((dsl::workspace_id.asc(), dsl::kind.asc(), dsl::created_at.asc()))
        .select(GrantRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut DbConn, row: &GrantRow) -> QueryResult<()> {
    diesel::insert_into(dsl::host_grants).values(row).execute(conn).map(|_| ())
}

/// Whether a grant was there to delete.
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    diesel::delete(dsl::host_grants.filter(dsl::id.eq(id))).execute(conn).map(|n| n > 0)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<GrantRow> {
    dsl::host_grants.filter(dsl::id.eq(id)).select(GrantRow::as_select()).first(conn)
}

/// Every workspace as (id, name), by name: the grant page's choices.
pub fn workspace_names(conn: &mut DbConn) -> QueryResult<Vec<(String, String)>> {
    use crate::db::schema::workspaces::dsl as w;
    w::workspaces.select((w::id, w::name)).order((w::name.asc(), w::id.asc())).load(conn)
}

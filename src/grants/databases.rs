//! The database servers a workspace may use: its database grants, and Devpilot's own database
//! (PostgreSQL mode) to refuse whatever is granted. Services read this before a PostgreSQL
//! source or restore target is checked; the connection code below them never touches the store.

use super::store;
use super::{DatabaseServer, GrantKind, HostGrant};
use crate::artifacts::postgres::{DatabaseAccess, OwnDatabase};
use crate::db::{Db, DbConn, DbError};
use secrecy::ExposeSecret;

/// The workspace's granted database servers (rows this version cannot read are left out).
pub fn granted_servers(conn: &mut DbConn, workspace: &str) -> diesel::QueryResult<Vec<DatabaseServer>> {
    let rows = store::for_workspace(conn, workspace)?;
    Ok(rows
        .into_iter()
        .filter_map(HostGrant::from_row)
        .filter_map(|grant| match grant.kind {
            GrantKind::Database(server) => Some(server),
            GrantKind::Folder { .. } => None,
        })
        .collect())
}

/// What a PostgreSQL URL of `workspace` may reach.
pub async fn access(db: &Db, workspace: &str) -> Result<DatabaseAccess, DbError> {
    let ws = workspace.to_owned();
    let granted = db.run(move |c| granted_servers(c, &ws)).await?;
    let own = db.postgres_url().and_then(|url| OwnDatabase::from_url(url.expose_secret()));
    Ok(DatabaseAccess { granted, own })
}

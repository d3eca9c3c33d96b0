//! The server that holds Devpilot's own database is never a protected source. WAL archiving
//! copies every database of a server, so protecting any database on it would copy Devpilot's own
//! tables (every workspace's sealed credentials, its members and audit) into one workspace's
//! destination, and a clone would hand them over. Refused by address before connecting, and by
//! system identifier once the check has read the source's.

use crate::artifacts::postgres::{DatabaseAccess, Reachable};
use crate::db::{Db, DbConn, DbError};
use diesel::RunQueryDsl;

pub const REFUSED: &str = "That server holds Devpilot's own database: WAL archiving copies every database of a \
                           server, so none of its databases can be protected.";

/// Before connecting: the URL leads to the server of Devpilot's own database.
pub async fn refuse_address(access: &DatabaseAccess, reachable: &Reachable) -> Result<(), String> {
    if access.is_own_server(reachable).await { Err(REFUSED.into()) } else { Ok(()) }
}

/// After the check: the source is the cluster Devpilot's own database lives in, reached by
/// another address.
pub async fn refuse_identity(db: &Db, source_system_identifier: &str) -> Result<(), String> {
    match own_system_identifier(db).await {
        Ok(Some(own)) if own == source_system_identifier => Err(REFUSED.into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("Devpilot could not compare the source with its own database: {e}")),
    }
}

#[derive(diesel::QueryableByName)]
struct SystemIdentifier {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
}

/// None when Devpilot's own database is SQLite.
async fn own_system_identifier(db: &Db) -> Result<Option<String>, DbError> {
    db.run(|conn| match conn {
        DbConn::Postgres(pg) => {
            diesel::sql_query("SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()")
                .get_result::<SystemIdentifier>(pg)
                .map(|row| Some(row.id))
        }
        DbConn::Sqlite(_) => Ok(None),
    })
    .await
}

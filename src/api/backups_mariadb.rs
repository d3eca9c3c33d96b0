//! `POST /api/v1/backups/database/{id}/restore` for a MariaDB or MySQL dump: into a new database
//! (created for it), or with `into: existing` and its name in `confirm` over an existing one; a
//! dump of every database of a server into the server its URL names (no database in it), with
//! `confirm: "all databases"`.

use super::auth::ApiUser;
use super::error::ApiError;
use super::restored::{RestoreInto, Restored, invalid, restore_error};
use crate::runs::databases::DatabaseInto;
use crate::runs::restore::{RestoreTarget, holds_all_databases};
use crate::runs::runner::Runner;
use crate::runs::store::RunRow;
use actix_web::HttpResponse;

/// Restores the run (already found in the workspace and restorable) into the target.
pub async fn restore(
    runner: &Runner,
    user: &ApiUser,
    run: &RunRow,
    target_url: &str,
    into: &str,
    confirm: &str,
) -> Result<HttpResponse, ApiError> {
    let all = holds_all_databases(run);
    let target = runner
        .mariadb_target(&user.workspace_id, target_url, into, confirm, all)
        .await
        .map_err(|errors| invalid(&errors, "target_url"))?;
    let database = target.database().map(str::to_owned);
    let into = match target.into {
        DatabaseInto::New => RestoreInto::New,
        DatabaseInto::Existing => RestoreInto::Existing,
    };
    let from_copy =
        runner.restore(&user.workspace_id, &run.id, &RestoreTarget::Mariadb(target)).await.map_err(restore_error)?;
    Ok(HttpResponse::Ok().json(Restored {
        restored: true,
        from_copy,
        run_id: run.id.clone(),
        database: Some(database.unwrap_or_else(|| crate::runs::mariadb::ALL_DATABASES.into())),
        into: Some(into),
        path: None,
    }))
}

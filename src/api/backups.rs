//! `/api/v1/backups/database/{id}/restore` and `/api/v1/backups/volume/{id}/restore` (spec
//! 002): a backup run's artifact restored by the same rules as the restore page. A PostgreSQL dump
//! goes into a new database unless an existing one's name is typed to confirm, on a server the
//! workspace may reach; a directory archive into a new or empty folder (a SQLite snapshot into a
//! new file) inside a folder granted for writing. The artifact's checksum is verified before
//! anything is written, and the restore runs within the request.

use super::auth::ApiUser;
use super::error::{ApiError, ErrorBody};
use super::responses::JsonBodyErrors;
use super::restored::{RestoreInto, Restored, invalid, restore_error};
use crate::runs::restore::{RestoreTarget, artifact_kind};
use crate::runs::runner::Runner;
use crate::runs::store::{self, RunRow};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(restore_database, restore_volume),
    components(schemas(DatabaseRestore, RestoreInto, VolumeRestore, Restored)),
    tags((name = "Backups", description = "Restoring a backup run into a database or a folder"))
)]
pub struct BackupsApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backups/database/{id}/restore", web::post().to(restore_database))
        .route("/backups/volume/{id}/restore", web::post().to(restore_volume));
}

/// Where a PostgreSQL backup is restored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct DatabaseRestore {
    /// The database to restore into, password included (never shown again). Its server must be
    /// granted to the workspace, or a public address. Required (checked after the run is found,
    /// so that another workspace's run is 404 whatever the body).
    #[serde(default)]
    #[schema(required = true, example = "postgres://app:secret@db.internal:5432/shop_restored")]
    pub target_url: String,
    #[serde(default)]
    #[schema(default = "new")]
    pub into: RestoreInto,
    /// With `into: existing`, the database's name typed to confirm that its tables are replaced.
    #[serde(default)]
    #[schema(example = "shop")]
    pub confirm: Option<String>,
}

/// Where a directory backup (or a SQLite snapshot) is restored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct VolumeRestore {
    /// An absolute path inside a folder granted to the workspace for reading and writing (or its
    /// own folder), whose folder exists: a new or empty folder for a directory backup, a new
    /// file for a SQLite snapshot.
    /// Required (checked after the run is found, so that another workspace's run is 404 whatever
    /// the body).
    #[serde(default)]
    #[schema(required = true, example = "/srv/restores/app-2024-01-15")]
    pub target_path: String,
    /// To restore in place into the very folder the backup was made of (its schedule's source):
    /// that folder's path, typed to confirm that its contents are replaced. The new contents are
    /// unpacked beside it and swapped in whole once complete.
    #[serde(default)]
    #[schema(example = "/srv/app/data")]
    pub confirm: Option<String>,
}

/// Restores a run of a PostgreSQL schedule into a new database (created for it) or, with
/// `into: existing` and its name in `confirm`, over an existing one.
#[utoipa::path(
    post,
    path = "/api/v1/backups/database/{id}/restore",
    tag = "Backups",
    params(("id" = Uuid, Path, description = "Backup run UUID")),
    request_body = DatabaseRestore,
    responses(
        (status = 200, description = "Restored; the checksum matched", body = Restored),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody),
        (status = 409, description = "The run has no backup to restore (not succeeded, pruned, or its destination is gone)", body = ErrorBody),
        (status = 503, description = "Devpilot's database is unavailable", body = ErrorBody),
        JsonBodyErrors,
    )
)]
pub async fn restore_database(
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    body: web::Json<DatabaseRestore>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let run = restorable(&runner, &user, &id, Endpoint::Database).await?;
    let body = body.into_inner();
    let confirm = body.confirm.as_deref().unwrap_or_default();
    if artifact_kind(&run) == "mariadb" {
        return super::backups_mariadb::restore(&runner, &user, &run, &body.target_url, body.into.as_str(), confirm)
            .await;
    }
    let target = runner
        .database_target(&user.workspace_id, &body.target_url, body.into.as_str(), confirm)
        .await
        .map_err(|errors| invalid(&errors, "target_url"))?;
    let database = target.dbname().to_owned();
    let copy =
        runner.restore(&user.workspace_id, &run.id, &RestoreTarget::Postgres(target)).await.map_err(restore_error)?;
    Ok(HttpResponse::Ok().json(Restored {
        restored: true,
        from_copy: copy,
        run_id: run.id,
        database: Some(database),
        into: Some(body.into),
        path: None,
    }))
}

/// Restores a run of a directory schedule into a new or empty folder, or in place into the folder
/// it was made of with that folder's path in `confirm` (a run of a SQLite schedule into a new file).
#[utoipa::path(
    post,
    path = "/api/v1/backups/volume/{id}/restore",
    tag = "Backups",
    params(("id" = Uuid, Path, description = "Backup run UUID")),
    request_body = VolumeRestore,
    responses(
        (status = 200, description = "Restored; the checksum matched", body = Restored),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody),
        (status = 409, description = "The run has no backup to restore (not succeeded, pruned, or its destination is gone)", body = ErrorBody),
        (status = 503, description = "Devpilot's database is unavailable", body = ErrorBody),
        JsonBodyErrors,
    )
)]
pub async fn restore_volume(
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    body: web::Json<VolumeRestore>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let run = restorable(&runner, &user, &id, Endpoint::Volume).await?;
    let access = runner.grants().access(&user.workspace_id).await?;
    let target = match artifact_kind(&run) {
        "directory" => {
            let confirm = body.confirm.as_deref().unwrap_or_default();
            runner.volume_target(&user.workspace_id, &run, &body.target_path, confirm).await
        }
        kind => RestoreTarget::parse(kind, &body.target_path, &access),
    }
    .map_err(|errors| invalid(&errors, "target_path"))?;
    let path = match &target {
        RestoreTarget::Directory(place) | RestoreTarget::SqliteFile(place) | RestoreTarget::Replace(place) => {
            place.path().display().to_string()
        }
        RestoreTarget::Postgres(database) => database.dbname().to_owned(),
        RestoreTarget::Mariadb(database) => database.database().unwrap_or_default().to_owned(),
        RestoreTarget::Bucket(bucket) => bucket.path.shown(),
    };
    let copy = runner.restore(&user.workspace_id, &run.id, &target).await.map_err(restore_error)?;
    Ok(HttpResponse::Ok().json(Restored {
        restored: true,
        from_copy: copy,
        run_id: run.id,
        database: None,
        into: None,
        path: Some(path),
    }))
}

/// Which restore endpoint was called.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Database,
    Volume,
    Bucket,
}

impl Endpoint {
    fn of(kind: &str) -> Endpoint {
        match kind {
            "postgres" | "mariadb" => Endpoint::Database,
            "bucket" => Endpoint::Bucket,
            _ => Endpoint::Volume,
        }
    }

    fn path(self, run: &str) -> String {
        match self {
            Endpoint::Database => format!("/api/v1/backups/database/{run}/restore"),
            Endpoint::Volume => format!("/api/v1/backups/volume/{run}/restore"),
            Endpoint::Bucket => format!("/api/v1/backups/bucket/{run}/restore"),
        }
    }
}

/// The workspace's run (404 otherwise), of the endpoint's kind (422 naming the right one) and with
/// a backup to restore (409).
pub(super) async fn restorable(
    runner: &Runner,
    user: &ApiUser,
    id: &Uuid,
    called: Endpoint,
) -> Result<RunRow, ApiError> {
    let run = runner.find(&user.workspace_id, &id.to_string()).await.map_err(|e| match e {
        crate::db::DbError::NotFound => ApiError::not_found("Backup run not found"),
        other => other.into(),
    })?;
    let kind = artifact_kind(&run);
    if Endpoint::of(kind) != called {
        let what = match kind {
            "postgres" => "a PostgreSQL dump",
            "mariadb" => "a MariaDB dump",
            "sqlite" => "a SQLite snapshot",
            "bucket" => "a bucket archive",
            _ => "a directory archive",
        };
        let right = Endpoint::of(kind).path(&run.id);
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("This backup run is {what}; restore it with POST {right}."),
        ));
    }
    let conflict = |m: String| Err(ApiError::new(StatusCode::CONFLICT, m));
    match run.status.as_str() {
        store::QUEUED | store::RUNNING => {
            return conflict("This backup run has not finished; restore it once it has succeeded.".into());
        }
        store::SUCCEEDED | store::PARTIAL => {}
        other => {
            return conflict(format!(
                "This backup run did not succeed ({}), so it has no backup to restore.",
                store::label(other).to_lowercase()
            ));
        }
    }
    if let Some(pruned) = run.pruned_at {
        let when = pruned.format("%Y-%m-%d %H:%M UTC");
        return conflict(format!("Retention deleted this backup on {when}; there is nothing left to restore."));
    }
    if run.object_key.is_none() || run.destination_id.is_none() {
        return conflict("This backup's destination was deleted; there is nothing left to restore.".into());
    }
    Ok(run)
}

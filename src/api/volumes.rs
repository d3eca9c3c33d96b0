//! Spec 002's volume endpoints, mapped onto directory plans (Devpilot's volumes are the folders of
//! this server a directory schedule backs up): `POST /api/v1/backups/volume/{id}/clone` restores
//! a directory run into a new folder; `/api/v1/applications/{id}/volume-backups` answers that
//! Devpilot runs no applications, and says what to use instead. (Restoring a run in place is
//! `POST /api/v1/backups/volume/{id}/restore`, in `backups.rs`.)

use super::auth::ApiUser;
use super::backups::{Endpoint, restorable};
use super::error::{ApiError, ErrorBody};
use super::responses::JsonBodyErrors;
use super::restored::{Restored, invalid, restore_error};
use crate::runs::restore::RestoreTarget;
use crate::runs::runner::Runner;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(
    paths(clone_volume, application_volume_backups, create_application_volume_backup),
    components(schemas(VolumeClone)),
    tags((name = "Volumes", description = "Volumes are the folders directory schedules back up"))
)]
pub struct VolumesApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backups/volume/{id}/clone", web::post().to(clone_volume))
        .route("/applications/{id}/volume-backups", web::get().to(application_volume_backups))
        .route("/applications/{id}/volume-backups", web::post().to(create_application_volume_backup));
}

/// Where a directory backup is cloned.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct VolumeClone {
    /// An absolute path that does not exist yet, inside a folder granted to the workspace for
    /// reading and writing (or its own folder), whose folder exists. Required (checked after the
    /// run is found, so that another workspace's run is 404 whatever the body).
    #[serde(default)]
    #[schema(required = true, example = "/srv/clones/app-2024-01-15")]
    pub target_path: String,
}

/// Clones a run of a directory schedule into a new folder.
#[utoipa::path(
    post,
    path = "/api/v1/backups/volume/{id}/clone",
    tag = "Volumes",
    params(("id" = Uuid, Path, description = "Backup run UUID")),
    request_body = VolumeClone,
    responses(
        (status = 200, description = "Cloned; the checksum matched", body = Restored),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody),
        (status = 409, description = "The run has no backup to restore (not succeeded, pruned, or its destination is gone)", body = ErrorBody),
        (status = 503, description = "Devpilot's database is unavailable", body = ErrorBody),
        JsonBodyErrors,
    )
)]
pub async fn clone_volume(
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    body: web::Json<VolumeClone>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let run = restorable(&runner, &user, &id, Endpoint::Volume).await?;
    if crate::runs::restore::artifact_kind(&run) != "directory" {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "This backup run is a SQLite snapshot, not a volume; restore it with POST /api/v1/backups/volume/{}/restore.",
                run.id
            ),
        ));
    }
    let target = runner
        .clone_target(&user.workspace_id, &body.target_path)
        .await
        .map_err(|errors| invalid(&errors, "target_path"))?;
    let path = match &target {
        RestoreTarget::Directory(place) => place.path().display().to_string(),
        _ => String::new(),
    };
    let from_copy = runner.restore(&user.workspace_id, &run.id, &target).await.map_err(restore_error)?;
    Ok(HttpResponse::Ok().json(Restored {
        restored: true,
        from_copy,
        run_id: run.id,
        database: None,
        into: None,
        path: Some(path),
    }))
}

/// What Devpilot answers for an application: it runs none.
const NO_APPLICATIONS: &str = "Devpilot runs no applications, so there is no application with volumes here. An \
     application's volumes are folders on this server: back them up with a directory schedule (POST \
     /api/v1/backup-schedules with \"source\": {\"type\": \"directory\", \"path\": \"/path/of/the/volume\"}), list \
     its runs with GET /api/v1/backup-runs?schedule_id=…, and restore or clone a run with POST \
     /api/v1/backups/volume/{run id}/restore or /clone.";

/// Spec 002's list of an application's volume backups: Devpilot has directory schedules instead.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/volume-backups",
    tag = "Volumes",
    params(("id" = String, Path, description = "An application id (Devpilot has none)")),
    responses(
        (status = 404, description = "Devpilot runs no applications: the message names directory schedules", body = ErrorBody),
    )
)]
pub async fn application_volume_backups(user: ApiUser, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let _ = (user, id);
    Err(ApiError::new(StatusCode::NOT_FOUND, NO_APPLICATIONS))
}

/// Spec 002's volume backup of an application: Devpilot backs up directory schedules instead.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/volume-backups",
    tag = "Volumes",
    params(("id" = String, Path, description = "An application id (Devpilot has none)")),
    responses(
        (status = 403, description = "Viewers cannot start backups", body = ErrorBody),
        (status = 404, description = "Devpilot runs no applications: the message names directory schedules", body = ErrorBody),
    )
)]
pub async fn create_application_volume_backup(user: ApiUser, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let _ = id;
    Err(ApiError::new(StatusCode::NOT_FOUND, NO_APPLICATIONS))
}

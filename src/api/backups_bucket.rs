//! `POST /api/v1/backups/bucket/{id}/restore`: a bucket source's run written back into a bucket
//! and prefix, with the plan's source keys, by the same rules as the restore page — a prefix that
//! holds nothing by default, one with objects only with `bucket/prefix` typed again in `confirm`.

use super::auth::ApiUser;
use super::backups::{Endpoint, restorable};
use super::error::{ApiError, ErrorBody};
use super::responses::JsonBodyErrors;
use super::restored::{Restored, invalid, restore_error};
use crate::runs::restore::RestoreTarget;
use crate::runs::runner::Runner;
use actix_web::{HttpResponse, web};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

#[derive(OpenApi)]
#[openapi(paths(restore_bucket), components(schemas(BucketRestore)))]
pub struct BucketRestoreApi;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/backups/bucket/{id}/restore", web::post().to(restore_bucket));
}

/// Where a bucket backup is restored.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct BucketRestore {
    /// `bucket/prefix` on the schedule's source service, written with its source keys; each
    /// object goes below the prefix under its own key. Required (checked after the run is found,
    /// so that another workspace's run is 404 whatever the body).
    #[serde(default)]
    #[schema(required = true, example = "media/restored-2026-12-10")]
    pub target: String,
    /// When the prefix already holds objects: `target` typed again, to confirm that objects with
    /// the same keys are replaced.
    #[serde(default)]
    #[schema(example = "media/restored-2026-12-10")]
    pub confirm: Option<String>,
}

/// Restores a run of a bucket schedule into a bucket and prefix (a new prefix by default).
#[utoipa::path(
    post,
    path = "/api/v1/backups/bucket/{id}/restore",
    tag = "Backups",
    params(("id" = Uuid, Path, description = "Backup run UUID")),
    request_body = BucketRestore,
    responses(
        (status = 200, description = "Restored; the checksum matched", body = Restored),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody),
        (status = 409, description = "The run has no backup to restore (not succeeded, pruned, or its destination is gone)", body = ErrorBody),
        (status = 503, description = "Devpilot's database is unavailable", body = ErrorBody),
        JsonBodyErrors,
    )
)]
pub async fn restore_bucket(
    user: ApiUser,
    runner: web::Data<Runner>,
    id: web::Path<Uuid>,
    body: web::Json<BucketRestore>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let run = restorable(&runner, &user, &id, Endpoint::Bucket).await?;
    let confirm = body.confirm.as_deref().unwrap_or_default();
    let target = runner
        .bucket_target(&user.workspace_id, &run, &body.target, confirm)
        .await
        .map_err(|errors| invalid(&errors, "target"))?;
    let path = target.path.shown();
    let target = RestoreTarget::Bucket(target);
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

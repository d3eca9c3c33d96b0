//! Clones at a point in time: make one, list them, stop, start, delete.

use super::{Body, Deleted, owned_body};
use crate::api::auth::ApiUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::pagination::{PageQuery, Paginated, page_of, slice};
use crate::api::responses::{JsonBodyErrors, PageErrors};
use crate::databases::archive_store::CloneRow;
use crate::databases::service::DatabaseService;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct PitrCloneBody {
    /// Any second of the recovery window; absent: the end of the archive.
    #[serde(default)]
    pub target_time: Option<DateTime<Utc>>,
    pub new_name: String,
}

/// A cluster Devpilot restored from the archive.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CloneResource {
    #[schema(format = "uuid")]
    pub id: String,
    pub database_id: String,
    pub name: String,
    /// `restoring`, `running`, `stopped` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub target_time: Option<DateTime<Utc>>,
    pub timeline: Option<i32>,
    /// Where it listens, on Devpilot's host; the source's roles and passwords apply.
    #[schema(example = "postgres://127.0.0.1:55000/shop")]
    pub connection_url: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct CloneEnvelope {
    pub data: CloneResource,
}

pub(super) async fn clone_resource(service: &DatabaseService, clone: CloneRow) -> CloneResource {
    let url = service.clone_url(&clone).await;
    resource(clone, url)
}

fn resource(clone: CloneRow, connection_url: String) -> CloneResource {
    CloneResource {
        connection_url,
        id: clone.id,
        database_id: clone.database_id,
        name: clone.name,
        status: clone.status,
        error: clone.error,
        target_time: clone.target_time.map(|t| t.and_utc()),
        timeline: clone.timeline,
        created_at: clone.created_at.and_utc(),
    }
}

/// Restores the database as a new cluster at `target_time` (in the background: follow its
/// status); a time outside the recovery window is refused with the window in the message.
#[utoipa::path(post, path = "/api/v1/databases/{id}/pitr-clone", tag = "Databases", params(("id" = Uuid, Path)), request_body = PitrCloneBody,
    responses((status = 202, description = "Restoring", body = CloneEnvelope),
        (status = 403, description = "Viewers cannot restore", body = ErrorBody),
        (status = 404, description = "No such database in this workspace", body = ErrorBody),
        (status = 409, description = "No clone can be made now", body = ErrorBody), JsonBodyErrors))]
pub async fn pitr_clone(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    body: Body<PitrCloneBody>,
) -> Result<HttpResponse, actix_web::Error> {
    user.require_write()?;
    let body = owned_body(&service, &user, &id, body).await?;
    let clone = service
        .pitr_clone(&user.workspace_id, &id.to_string(), body.target_time, &body.new_name, &user.actor())
        .await?;
    Ok(HttpResponse::Accepted().json(CloneEnvelope { data: clone_resource(&service, clone).await }))
}

#[utoipa::path(get, path = "/api/v1/databases/{id}/clones", tag = "Databases", params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "The database's clones", body = Paginated<CloneResource>),
        (status = 404, description = "No such database in this workspace", body = ErrorBody), PageErrors))]
pub async fn clones(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let database = service.get(&user.workspace_id, &id.to_string()).await?;
    let all: Vec<CloneResource> = service
        .clones_with_urls(&user.workspace_id, &database)
        .await?
        .into_iter()
        .map(|(clone, url)| resource(clone, url))
        .collect();
    let fetch = |page, per_page| async move { Ok::<_, ApiError>(slice(all, page, per_page)) };
    page_of(&req, &query, fetch, |c| c).await
}

/// `stop` or `start` a clone's cluster.
#[utoipa::path(post, path = "/api/v1/database-clones/{id}/{action}", tag = "Databases",
    params(("id" = Uuid, Path), ("action" = String, Path, description = "stop or start")),
    responses((status = 200, description = "Done", body = CloneEnvelope),
        (status = 403, description = "Viewers cannot change clones", body = ErrorBody),
        (status = 404, description = "No such clone or action", body = ErrorBody),
        (status = 409, description = "Not possible in the clone's state", body = ErrorBody)))]
pub async fn clone_action(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let (id, action) = path.into_inner();
    let run = match action.as_str() {
        "start" => true,
        "stop" => false,
        _ => return Err(ApiError::not_found("No such action: use stop or start.")),
    };
    let clone = service.set_clone_running(&user.workspace_id, &id.to_string(), run, &user.actor()).await?;
    Ok(HttpResponse::Ok().json(CloneEnvelope { data: clone_resource(&service, clone).await }))
}

#[utoipa::path(delete, path = "/api/v1/database-clones/{id}", tag = "Databases", params(("id" = Uuid, Path)),
    responses((status = 200, description = "Stopped and removed", body = Deleted),
        (status = 403, description = "Viewers cannot delete clones", body = ErrorBody),
        (status = 404, description = "No such clone in this workspace", body = ErrorBody),
        (status = 409, description = "Still restoring", body = ErrorBody)))]
pub async fn delete_clone(
    user: ApiUser,
    service: web::Data<DatabaseService>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    service.delete_clone(&user.workspace_id, &id.to_string(), &user.actor()).await?;
    Ok(HttpResponse::Ok().json(Deleted { message: "Clone stopped and removed.".into() }))
}

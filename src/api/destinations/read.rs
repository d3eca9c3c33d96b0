//! Reading destinations: the workspace's list, a page at a time, and one destination.

use super::request::destination_id;
use super::resource::{DestinationEnvelope, DestinationResource};
use crate::api::auth::ApiUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::pagination::{PageQuery, Paginated};
use crate::destinations::service::DestinationService;
use actix_web::{HttpRequest, HttpResponse, web};

/// The workspace's destinations, a page at a time.
#[utoipa::path(
    get,
    operation_id = "listBackupDestinations",
    path = "/api/v1/backup-destinations",
    tag = "Backup destinations",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of destinations", body = Paginated<DestinationResource>),
        (status = 400, description = "A page parameter is not a number", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 422, description = "A page parameter is out of range", body = ErrorBody),
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (page, per_page) = query.parse()?;
    let found = service.list(&user.workspace_id, page, per_page).await?;
    let data = found.items.iter().map(DestinationResource::from).collect();
    Ok(HttpResponse::Ok().json(Paginated::new(&req, data, page, per_page, found.total)))
}

/// One destination, credentials redacted.
#[utoipa::path(
    get,
    operation_id = "getBackupDestination",
    path = "/api/v1/backup-destinations/{id}",
    tag = "Backup destinations",
    params(("id" = String, Path, format = Uuid, description = "Destination UUID")),
    responses(
        (status = 200, description = "The destination", body = DestinationEnvelope),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
    )
)]
pub async fn show(
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = destination_id(&path)?;
    let destination = service.get(&user.workspace_id, &id).await?;
    Ok(HttpResponse::Ok().json(DestinationEnvelope { data: destination.into() }))
}

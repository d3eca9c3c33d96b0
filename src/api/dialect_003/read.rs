//! Reading in the dialect: the workspace's destinations a page at a time (15 by default), and one.

use super::error::{DialectError, DialectErrorBody};
use super::ids::{origin, resolve};
use super::page::{DialectPage, DialectPageQuery};
use super::resource::{DialectDestination, DialectEnvelope};
use crate::api::auth::ApiUser;
use crate::destinations::service::DestinationService;
use actix_web::{HttpRequest, HttpResponse, web};

/// The workspace's backup destinations, default first, then by label.
#[utoipa::path(
    get,
    operation_id = "dialect003ListBackupDestinations",
    path = "/api/backup-destinations",
    tag = "Backup destinations (spec 003)",
    params(DialectPageQuery),
    responses(
        (status = 200, description = "A page of destinations", body = DialectPage),
        (status = 401, description = "No valid token", body = DialectErrorBody),
        (status = 422, description = "page or per_page is not a whole number in range", body = DialectErrorBody),
    )
)]
pub async fn list(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    query: web::Query<DialectPageQuery>,
) -> Result<HttpResponse, DialectError> {
    let (page, per_page) = query.parse()?;
    let found = service.list(&user.workspace_id, page, per_page).await?;
    let ids = found.items.iter().map(|d| d.id.clone()).collect();
    let numbers = service.numbers(&user.workspace_id, ids).await?;
    let origin = origin(&req);
    // A destination deleted between the two reads has no number: it is left out.
    let data = found
        .items
        .iter()
        .filter_map(|d| numbers.get(&d.id).map(|n| DialectDestination::new(d, *n, &origin)))
        .collect();
    Ok(HttpResponse::Ok().json(DialectPage::new(&req, data, page, per_page, found.total)))
}

/// One backup destination.
#[utoipa::path(
    get,
    operation_id = "dialect003GetBackupDestination",
    path = "/api/backup-destinations/{id}",
    tag = "Backup destinations (spec 003)",
    params(("id" = String, Path, description = "The destination's number (or its UUID)")),
    responses(
        (status = 200, description = "The destination", body = DialectEnvelope),
        (status = 401, description = "No valid token", body = DialectErrorBody),
        (status = 404, description = "No such destination in this workspace", body = DialectErrorBody),
    )
)]
pub async fn show(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, DialectError> {
    let (destination, number) = resolve(&service, &user.workspace_id, &path).await?;
    Ok(HttpResponse::Ok().json(DialectEnvelope { data: DialectDestination::new(&destination, number, &origin(&req)) }))
}

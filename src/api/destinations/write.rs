//! Changing destinations: create and update (each tests the result), delete (refused while
//! plans use it, unless forced), and making one the workspace's default.

use super::outcome::{DestinationTested, TestResult};
use super::request::{DestinationRequest, api_error, destination_id};
use super::resource::{DestinationEnvelope, DestinationResource};
use crate::api::auth::ApiUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::destinations::service::DestinationService;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::{IntoParams, ToSchema};

/// Creates a destination and tests it: the answer carries the resulting status and the test.
#[utoipa::path(
    post,
    operation_id = "createBackupDestination",
    path = "/api/v1/backup-destinations",
    tag = "Backup destinations",
    request_body = DestinationRequest,
    responses(
        (status = 201, description = "Created and tested; `data.status` is `active` or `failed`", body = DestinationTested,
            headers(("Location" = String, description = "The new destination's URL"))),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot create destinations", body = ErrorBody),
        (status = 422, description = "Invalid fields, by their place in the body", body = ErrorBody),
    )
)]
pub async fn create(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    body: web::Json<DestinationRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let input = body.into_inner().into_input(None)?;
    let (destination, outcome) = service.create(&user.workspace_id, input, &user.actor()).await.map_err(api_error)?;
    let location = format!("{}/{}", req.path().trim_end_matches('/'), destination.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(DestinationTested { data: destination.into(), test: TestResult::from(outcome) }))
}

/// Replaces the name, type and config, re-encrypts the credentials and tests again.
#[utoipa::path(
    put,
    operation_id = "updateBackupDestination",
    path = "/api/v1/backup-destinations/{id}",
    tag = "Backup destinations",
    params(("id" = String, Path, format = Uuid, description = "Destination UUID")),
    request_body = DestinationRequest,
    responses(
        (status = 200, description = "Saved and tested; `data.status` is `active` or `failed`", body = DestinationTested),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot change destinations", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
        (status = 409, description = "A managed server's stored login cannot be read", body = ErrorBody),
        (status = 422, description = "Invalid fields, by their place in the body", body = ErrorBody),
    )
)]
pub async fn update(
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    body: web::Json<DestinationRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let id = destination_id(&path)?;
    let current = service.get(&user.workspace_id, &id).await?;
    let input = body.into_inner().into_input(Some(&current))?;
    let (destination, outcome) =
        service.update(&user.workspace_id, &id, input, &user.actor()).await.map_err(api_error)?;
    Ok(HttpResponse::Ok().json(DestinationTested { data: destination.into(), test: TestResult::from(outcome) }))
}

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Delete even if plans use it: those plans are disabled.
    pub force: Option<bool>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct Deleted {
    #[schema(example = "Backup destination successfully deleted")]
    pub message: String,
    /// The plans that used it, now disabled (only with `force=true`).
    pub disabled_plans: Vec<String>,
}

/// 409: plans still use the destination.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct InUse {
    #[schema(example = "Conflict")]
    pub error: String,
    pub message: String,
    /// The names of the plans that use it.
    pub plans: Vec<String>,
}

/// Deletes a destination. While plans use it the answer is 409 naming them, unless
/// `force=true`, which disables those plans and deletes.
#[utoipa::path(
    delete,
    operation_id = "deleteBackupDestination",
    path = "/api/v1/backup-destinations/{id}",
    tag = "Backup destinations",
    params(("id" = String, Path, format = Uuid, description = "Destination UUID"), DeleteQuery),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 400, description = "`force` is not true or false", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot delete destinations", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
        (status = 409, description = "Plans use it; nothing was deleted", body = InUse),
    )
)]
pub async fn delete(
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<DeleteQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let id = destination_id(&path)?;
    let disabled_plans = if query.force.unwrap_or(false) {
        service.delete(&user.workspace_id, &id, &user.actor()).await?
    } else {
        let plans = service.delete_if_unused(&user.workspace_id, &id, &user.actor()).await?;
        if !plans.is_empty() {
            let status = StatusCode::CONFLICT;
            return Ok(HttpResponse::build(status).json(InUse {
                error: status.canonical_reason().unwrap_or("Conflict").to_owned(),
                message: format!(
                    "Plans use this destination: {}. Reassign them, or delete with force=true to disable them.",
                    plans.join(", ")
                ),
                plans,
            }));
        }
        Vec::new()
    };
    Ok(HttpResponse::Ok().json(Deleted { message: "Backup destination successfully deleted".into(), disabled_plans }))
}

/// Makes the destination the workspace's default (the one new plans pre-select).
#[utoipa::path(
    post,
    operation_id = "makeDefaultBackupDestination",
    path = "/api/v1/backup-destinations/{id}/default",
    tag = "Backup destinations",
    params(("id" = String, Path, format = Uuid, description = "Destination UUID")),
    responses(
        (status = 200, description = "It is now the default", body = DestinationEnvelope),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot change the default", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
        (status = 409, description = "It is disabled", body = ErrorBody),
    )
)]
pub async fn make_default(
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let id = destination_id(&path)?;
    service.make_default(&user.workspace_id, &id, &user.actor()).await?;
    let destination: DestinationResource = service.get(&user.workspace_id, &id).await?.into();
    Ok(HttpResponse::Ok().json(DestinationEnvelope { data: destination }))
}

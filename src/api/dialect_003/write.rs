//! Changing destinations in the dialect: create, update, delete. Each goes through the same
//! service call as `/api/v1` (parsed, checked against grants and the outbound policy, sealed,
//! audited, tested); only the words differ.

use super::error::{DialectError, DialectErrorBody, from_service};
use super::ids::{number_of, origin, resolve};
use super::request::{DialectRequest, dialect_field, into_input};
use super::resource::{DialectDestination, DialectEnvelope};
use crate::api::auth::ApiUser;
use crate::destinations::service::DestinationService;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The delete's answer.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DialectDeleted {
    #[schema(example = "Backup destination successfully deleted")]
    pub message: String,
}

/// The body as a JSON object, whatever its content type said.
fn object(body: &[u8]) -> Result<Map<String, Value>, DialectError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DialectError::new(StatusCode::UNPROCESSABLE_ENTITY, "The request body must be a JSON object.")),
        Err(e) => Err(DialectError::new(StatusCode::BAD_REQUEST, format!("The request body is not valid JSON: {e}."))),
    }
}

/// Creates a backup destination and tests it (as `/api/v1` does; the test's outcome is on the
/// destination's page and in `/api/v1`).
#[utoipa::path(
    post,
    operation_id = "dialect003CreateBackupDestination",
    path = "/api/backup-destinations",
    tag = "Backup destinations (spec 003)",
    request_body = DialectRequest,
    responses(
        (status = 201, description = "Created", body = DialectEnvelope),
        (status = 400, description = "The body is not JSON", body = DialectErrorBody),
        (status = 401, description = "No valid token", body = DialectErrorBody),
        (status = 403, description = "Viewers cannot create destinations", body = DialectErrorBody),
        (status = 422, description = "Invalid fields: `message` names the first, `errors` each", body = DialectErrorBody),
    )
)]
pub async fn create(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    body: web::Bytes,
) -> Result<HttpResponse, DialectError> {
    let input = into_input(&object(&body)?, None)?;
    let (destination, _) =
        service.create(&user.workspace_id, input, &user.actor()).await.map_err(|e| from_service(e, dialect_field))?;
    let number = number_of(&service, &user.workspace_id, &destination.id).await?;
    let location = format!("{}/{number}", req.path().trim_end_matches('/'));
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(DialectEnvelope { data: DialectDestination::new(&destination, number, &origin(&req)) }))
}

/// Changes the fields given; the rest (credentials too) stay. Tested again afterwards.
#[utoipa::path(
    put,
    operation_id = "dialect003UpdateBackupDestination",
    path = "/api/backup-destinations/{id}",
    tag = "Backup destinations (spec 003)",
    params(("id" = String, Path, description = "The destination's number (or its UUID)")),
    request_body = DialectRequest,
    responses(
        (status = 200, description = "Saved", body = DialectEnvelope),
        (status = 400, description = "The body is not JSON", body = DialectErrorBody),
        (status = 401, description = "No valid token", body = DialectErrorBody),
        (status = 403, description = "Viewers cannot change destinations", body = DialectErrorBody),
        (status = 404, description = "No such destination in this workspace", body = DialectErrorBody),
        (status = 409, description = "Its stored credentials cannot be read", body = DialectErrorBody),
        (status = 422, description = "Invalid fields, or a type this API does not describe (change it through /api/v1)", body = DialectErrorBody),
    )
)]
pub async fn update(
    req: HttpRequest,
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, DialectError> {
    let (current, number) = resolve(&service, &user.workspace_id, &path).await?;
    let input = into_input(&object(&body)?, Some(&current))?;
    let (destination, _) = service
        .update(&user.workspace_id, &current.id, input, &user.actor())
        .await
        .map_err(|e| from_service(e, dialect_field))?;
    Ok(HttpResponse::Ok().json(DialectEnvelope { data: DialectDestination::new(&destination, number, &origin(&req)) }))
}

/// Deletes a backup destination. While plans use it the answer is 409 naming them (delete it
/// through `/api/v1` with `force=true` to disable them and delete).
#[utoipa::path(
    delete,
    operation_id = "dialect003DeleteBackupDestination",
    path = "/api/backup-destinations/{id}",
    tag = "Backup destinations (spec 003)",
    params(("id" = String, Path, description = "The destination's number (or its UUID)")),
    responses(
        (status = 200, description = "Deleted", body = DialectDeleted),
        (status = 401, description = "No valid token", body = DialectErrorBody),
        (status = 403, description = "Viewers cannot delete destinations", body = DialectErrorBody),
        (status = 404, description = "No such destination in this workspace", body = DialectErrorBody),
        (status = 409, description = "Plans use it; nothing was deleted", body = DialectErrorBody),
    )
)]
pub async fn delete(
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, DialectError> {
    let (current, _) = resolve(&service, &user.workspace_id, &path).await?;
    let plans = service.delete_if_unused(&user.workspace_id, &current.id, &user.actor()).await?;
    if !plans.is_empty() {
        return Err(DialectError::new(
            StatusCode::CONFLICT,
            format!(
                "Plans use this backup destination: {}. Reassign them, or delete it through \
                 /api/v1/backup-destinations/{}?force=true to disable them.",
                plans.join(", "),
                current.id
            ),
        ));
    }
    Ok(HttpResponse::Ok().json(DialectDeleted { message: "Backup destination successfully deleted".into() }))
}

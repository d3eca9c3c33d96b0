//! Connection tests: of a saved destination (its status follows the result), and of credentials
//! that are not saved. 200 when the test passed, 422 with the provider's message when not.

use super::outcome::{self, CredentialsTested, DestinationTested, TestFailed};
use super::request::{DestinationRequest, api_error, destination_id};
use crate::api::auth::ApiUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::destinations::audited::TestedBy;
use crate::destinations::service::DestinationService;
use actix_web::{HttpResponse, web};
use utoipa::IntoParams;

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TestQuery {
    /// Also write, read back and delete a small probe object.
    pub deep: Option<bool>,
}

/// Tests a saved destination: `testing` while it runs, then `active` or `failed`.
#[utoipa::path(
    post,
    operation_id = "testBackupDestination",
    path = "/api/v1/backup-destinations/{id}/test",
    tag = "Backup destinations",
    params(("id" = String, Path, format = Uuid, description = "Destination UUID"), TestQuery),
    responses(
        (status = 200, description = "The test passed; the destination is active", body = DestinationTested),
        (status = 400, description = "`deep` is not true or false", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot run tests", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
        (status = 422, description = "The test failed: the provider's message, the steps and the destination", body = TestFailed),
    )
)]
pub async fn test_saved(
    user: ApiUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    query: web::Query<TestQuery>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let id = destination_id(&path)?;
    let deep = query.deep.unwrap_or(false);
    let result = service.test_saved(&user.workspace_id, &id, deep, &TestedBy::asked(&user.actor())).await?;
    let destination = service.get(&user.workspace_id, &id).await?;
    Ok(outcome::answer(result, Some(destination.into())))
}

/// Tests a type and config without saving anything (`name` is not needed).
#[utoipa::path(
    post,
    operation_id = "testBackupDestinationCredentials",
    path = "/api/v1/backup-destinations/test",
    tag = "Backup destinations",
    params(TestQuery),
    request_body = DestinationRequest,
    responses(
        (status = 200, description = "The test passed", body = CredentialsTested),
        (status = 400, description = "The body is not JSON, or `deep` is not true or false", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot run tests", body = ErrorBody),
        (status = 409, description = "A managed server's stored login cannot be read", body = ErrorBody),
        (status = 422, description = "Invalid fields (`fields`), or the test failed (`test`)", body = TestFailed),
    )
)]
pub async fn test_credentials(
    user: ApiUser,
    service: web::Data<DestinationService>,
    query: web::Query<TestQuery>,
    body: web::Json<DestinationRequest>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let mut request = body.into_inner();
    // Nothing is saved, so the name does not matter; a placeholder passes the name rule.
    request.name = Some("credentials test".into());
    let input = request.into_input(None)?;
    let deep = query.deep.unwrap_or(false);
    let result = service.test_credentials(&user.workspace_id, None, &input, deep).await.map_err(api_error)?;
    Ok(outcome::answer(result, None))
}

//! Connecting a Google Drive or OneDrive destination: the API starts Google's or Microsoft's
//! consent and returns its URL; the person opens it in a browser signed in to Devpilot as the
//! same user, and the callback (`/oauth/callback`) stores the refresh token and tests the
//! destination.

use super::request::destination_id;
use crate::api::auth::ApiUser;
use crate::api::error::{ApiError, ErrorBody};
use crate::fields::FieldErrors;
use crate::oauth::service::{OAuthError, OAuthService};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use utoipa::ToSchema;

#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct AuthorizationUrl {
    /// Google's or Microsoft's consent page; valid for 10 minutes, once.
    #[schema(format = "uri")]
    pub authorization_url: String,
}

/// Starts the consent for a Google Drive destination (Google's; it needs its OAuth client ID and
/// secret) or a OneDrive destination (Microsoft's, for its tenant and cloud); other types answer 422.
#[utoipa::path(
    post,
    operation_id = "startBackupDestinationOAuth",
    path = "/api/v1/backup-destinations/{id}/oauth",
    tag = "Backup destinations",
    params(("id" = String, Path, format = Uuid, description = "Destination UUID")),
    responses(
        (status = 200, description = "Open this URL in a browser signed in as the same user", body = AuthorizationUrl),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Viewers cannot connect destinations", body = ErrorBody),
        (status = 404, description = "No such destination in this workspace", body = ErrorBody),
        (status = 409, description = "The destination's stored credentials cannot be read", body = ErrorBody),
        (status = 422, description = "Not a Google Drive or OneDrive destination, or it has no OAuth client", body = ErrorBody),
    )
)]
pub async fn start(
    user: ApiUser,
    oauth: web::Data<OAuthService>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    user.require_write()?;
    let id = destination_id(&path)?;
    let url = oauth.start_for_api(&user.user_id, &user.workspace_id, &id).await.map_err(oauth_error)?;
    Ok(HttpResponse::Ok().json(AuthorizationUrl { authorization_url: url.into() }))
}

fn oauth_error(e: OAuthError) -> ApiError {
    match e {
        OAuthError::Destination(e) => e.into(),
        OAuthError::Db(e) => e.into(),
        OAuthError::NotDrive => ApiError::invalid(&FieldErrors::single("destinationType", e.to_string())),
        OAuthError::NoClient => ApiError::invalid(&FieldErrors::single("config.client_id", e.to_string())),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    }
}

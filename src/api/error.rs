//! The error type of the JSON boundary: `{"error": "Not Found", "message": "…"}` for every 4xx,
//! plus `fields` (field → message) when input was invalid. 5xx responses say nothing about the
//! cause; it is logged instead.

use crate::auth::service::AccountError;
use crate::db::DbError;
use crate::destinations::service::DestinationError;
use crate::fields::FieldErrors;
use crate::plans::service::PlanError;
use crate::runs::imports::ImportError;
use crate::web::upload::UploadError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The HTTP status's reason phrase, e.g. "Not Found".
    #[schema(example = "Not Found")]
    pub error: String,
    /// What went wrong, for a person.
    #[schema(example = "Backup destination not found")]
    pub message: String,
    /// Invalid input: field name → message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub fields: Option<BTreeMap<String, String>>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), fields: None }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 422 with the message of each invalid field.
    pub fn invalid(errors: &FieldErrors) -> ApiError {
        let fields: BTreeMap<String, String> = errors.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let message = match fields.len() {
            1 => fields.values().next().cloned().unwrap_or_default(),
            n => format!("{n} fields are invalid."),
        };
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, message, fields: Some(fields) }
    }

    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "API request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side; it has been logged.")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = ErrorBody {
            error: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message.clone(),
            fields: self.fields.clone(),
        };
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(body)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => ApiError::not_found("Not found"),
            DbError::Unavailable { outage, detail } => {
                tracing::error!(%detail, "database unavailable");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, outage.message())
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<DestinationError> for ApiError {
    fn from(e: DestinationError) -> Self {
        match e {
            DestinationError::NotFound => ApiError::not_found("Backup destination not found"),
            DestinationError::Invalid(errors) => ApiError::invalid(&errors),
            DestinationError::Db(e) => e.into(),
            DestinationError::Credentials(m) | DestinationError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::NotFound => ApiError::not_found("Backup schedule not found"),
            PlanError::Invalid(errors) => ApiError::invalid(&errors),
            PlanError::Db(e) => e.into(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::BadCredentials => ApiError::unauthorized("The email or password is wrong."),
            AccountError::RateLimited(_) => ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            AccountError::Disabled => ApiError::unauthorized(e.to_string()),
            AccountError::Invalid(errors) => ApiError::invalid(&errors),
            AccountError::Db(e) => e.into(),
            AccountError::AlreadySetUp => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            AccountError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        let status = match &e {
            UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::WrongType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UploadError::Broken(_) | UploadError::Malformed(_) => StatusCode::BAD_REQUEST,
            UploadError::Disk(io) if io.kind() == std::io::ErrorKind::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            UploadError::Disk(_) => return ApiError::internal(e),
        };
        ApiError::new(status, e.to_string())
    }
}

/// An import's failure as the API answers it; `path_field` is the field that held a typed path.
pub fn import_error(e: ImportError, path_field: &str) -> ApiError {
    match e {
        ImportError::Path(message) => ApiError::invalid(&FieldErrors::single(path_field, message)),
        ImportError::NotADump(message) | ImportError::Failed(message) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
        ImportError::Db(e) => e.into(),
        ImportError::Internal(message) => ApiError::internal(message),
    }
}

/// Bodies, queries and paths that do not parse answer in the same shape as everything else.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default().limit(crate::web::limits::MAX_BODY_BYTES).error_handler(|e, _| {
        let status = match &e {
            actix_web::error::JsonPayloadError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            actix_web::error::JsonPayloadError::Overflow { .. }
            | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            actix_web::error::JsonPayloadError::Deserialize(d) if d.is_data() => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => crate::web::limits::too_large_message("request body"),
            _ => format!("The request body is not valid: {e}."),
        };
        ApiError::new(status, message).into()
    })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|e, _| ApiError::bad_request(format!("The query string is not valid: {e}.")).into())
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default()
        .error_handler(|e, _| ApiError::not_found(format!("No such resource: {e}.")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_errors_answer_422_with_the_path_field_named() {
        let path = import_error(ImportError::Path("“/etc/x” is not granted to this workspace.".into()), "path");
        assert_eq!(path.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(path.fields.is_some_and(|f| f["path"].contains("not granted")));
        let not_a_dump = import_error(ImportError::NotADump("The file is empty.".into()), "path");
        assert_eq!((not_a_dump.status, not_a_dump.fields), (StatusCode::UNPROCESSABLE_ENTITY, None));
        let too_large = ApiError::from(UploadError::TooLarge { limit: 2048 });
        assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(too_large.message.contains("2.0 KiB"), "{}", too_large.message);
    }
}

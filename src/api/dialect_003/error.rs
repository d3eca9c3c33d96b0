//! The dialect's error answers: `{"error": "Not Found", "message": "Backup destination not
//! found"}`, and for invalid input (422) also `errors`, field → messages, in the shape scripts
//! written against Laravel-style APIs read (`{"s3_bucket_name": ["…"]}`). The message itself
//! names the field, so a script that prints only `message` still says which one.

use crate::api::error::ApiError;
use crate::destinations::service::DestinationError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use std::collections::BTreeMap;
use utoipa::ToSchema;

pub const NOT_FOUND: &str = "Backup destination not found";
pub const FORBIDDEN: &str = "You are not authorized to access this backup destination";

/// Every error answer of `/api/backup-destinations`.
#[derive(Debug, serde::Serialize, serde::Deserialize, ToSchema)]
pub struct DialectErrorBody {
    /// The HTTP status's reason phrase.
    #[schema(example = "Not Found")]
    pub error: String,
    #[schema(example = "Backup destination not found")]
    pub message: String,
    /// Invalid input (422 only): each invalid field with its messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

#[derive(Debug)]
pub struct DialectError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

impl DialectError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> DialectError {
        DialectError { status, message: message.into(), errors: None }
    }

    pub fn not_found() -> DialectError {
        DialectError::new(StatusCode::NOT_FOUND, NOT_FOUND)
    }

    pub fn forbidden() -> DialectError {
        DialectError::new(StatusCode::FORBIDDEN, FORBIDDEN)
    }

    /// 422 for these (field, message) pairs, in the dialect's field names.
    pub fn invalid(pairs: Vec<(String, String)>) -> DialectError {
        let mut errors: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (field, message) in pairs {
            errors.entry(field).or_default().push(message);
        }
        let count: usize = errors.values().map(Vec::len).sum();
        let message = match errors.iter().next() {
            Some((field, messages)) if count == 1 => format!("{field}: {}", messages[0]),
            Some((field, messages)) => format!("{field}: {} (and {} more errors)", messages[0], count - 1),
            None => "The given data was invalid.".to_owned(),
        };
        DialectError { status: StatusCode::UNPROCESSABLE_ENTITY, message, errors: Some(errors) }
    }
}

impl std::fmt::Display for DialectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl ResponseError for DialectError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = DialectErrorBody {
            error: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message.clone(),
            errors: self.errors.clone(),
        };
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(body)
    }
}

/// Authentication and the database answer as in `/api/v1`, in this shape.
impl From<ApiError> for DialectError {
    fn from(e: ApiError) -> Self {
        match e.fields {
            Some(fields) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
                DialectError::invalid(fields.into_iter().collect())
            }
            _ => DialectError::new(e.status, e.message),
        }
    }
}

/// The service's errors; field errors are renamed by `rename` (Devpilot's field → the dialect's).
pub fn from_service(e: DestinationError, rename: impl Fn(&str) -> String) -> DialectError {
    match e {
        DestinationError::NotFound => DialectError::not_found(),
        DestinationError::Invalid(errors) => {
            DialectError::invalid(errors.iter().map(|(f, m)| (rename(f), m.to_owned())).collect())
        }
        other => ApiError::from(other).into(),
    }
}

impl From<DestinationError> for DialectError {
    fn from(e: DestinationError) -> Self {
        from_service(e, str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_first_field_and_counts_the_rest() {
        let one = DialectError::invalid(vec![("s3_bucket_name".into(), "Bucket is required.".into())]);
        assert_eq!(one.message, "s3_bucket_name: Bucket is required.");
        let two = DialectError::invalid(vec![("label".into(), "a".into()), ("type".into(), "b".into())]);
        assert_eq!(two.message, "label: a (and 1 more errors)");
        assert_eq!(two.errors.expect("errors")["type"], vec!["b".to_owned()]);
    }
}

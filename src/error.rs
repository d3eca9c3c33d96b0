//! The error type of the HTML boundary.
//!
//! Policy: handlers return `AppError` for anything that is not a form mistake (those are
//! re-rendered next to their fields with 422). Expected errors carry a message for the person;
//! unexpected ones are logged in full and shown as a generic 500 without detail. Full page loads
//! get an error page; htmx requests get the same page as a fragment that `static/app.js` shows as
//! a notice; an unauthenticated request is sent to the sign-in page. A database outage is 503
//! with what is wrong, even when it reached here wrapped in another error.

use crate::db::DbError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, http::header};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("sign in to continue")]
    Unauthenticated { htmx: bool },
    /// Signed in, but a member of no workspace (yet): the workspaces page says what to do.
    #[error("You are not a member of any workspace.")]
    NoWorkspace { htmx: bool },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable { outage, detail } => {
                tracing::error!(%detail, "database unavailable");
                AppError::Unavailable(outage.message().into())
            }
            DbError::NotFound => AppError::NotFound("Not found".into()),
            other => AppError::Internal(other.into()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// A database outage somewhere in an unexpected error's chain: a known state, not a bug.
pub fn outage_in(error: &anyhow::Error) -> Option<crate::db::Outage> {
    error.chain().find_map(|e| e.downcast_ref::<DbError>()).and_then(DbError::outage)
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Internal(e) if outage_in(e).is_some() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::NoWorkspace { .. } => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Unauthenticated { htmx: true } => {
                return HttpResponse::Unauthorized().insert_header(("HX-Redirect", "/login")).finish();
            }
            AppError::Unauthenticated { htmx: false } => {
                return HttpResponse::SeeOther().insert_header((header::LOCATION, "/login")).finish();
            }
            AppError::NoWorkspace { htmx: true } => {
                return HttpResponse::Ok().insert_header(("HX-Redirect", "/workspaces")).finish();
            }
            AppError::NoWorkspace { htmx: false } => {
                return HttpResponse::SeeOther().insert_header((header::LOCATION, "/workspaces")).finish();
            }
            AppError::Internal(e) if outage_in(e).is_some() => tracing::error!(error = %e, "database unavailable"),
            AppError::Internal(e) => tracing::error!(error = ?e, "request failed"),
            _ => {}
        }
        let status = self.status_code();
        let message = match self {
            AppError::Internal(e) if let Some(outage) = outage_in(e) => outage.message().to_owned(),
            AppError::Internal(_) => "Something went wrong on our side. It has been logged.".to_owned(),
            other => other.to_string(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message: &message,
        };
        match page.render() {
            Ok(body) => HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body),
            Err(_) => HttpResponse::build(status).body(message),
        }
    }
}

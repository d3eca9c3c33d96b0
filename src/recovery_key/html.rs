//! `/workspace/recovery-key`: an owner re-enters their password and is shown the workspace's
//! recovery key once. Both pages are `Cache-Control: no-store`; the key is in the answer to the
//! POST only, never in a URL, a redirect, a flash message or a later page.
//!
//! No API endpoint: an API token is a bearer secret made for scripts, and one leaked token must
//! not be enough to take every backup's key out; the export needs the person and their password.

use super::service::{RecoveryKeyError, RecoveryKeyService};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::fields::FieldErrors;
use crate::web::{Layout, form_value, render};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/workspace/recovery-key", web::get().to(page)).route("/workspace/recovery-key", web::post().to(export));
}

impl From<RecoveryKeyError> for AppError {
    fn from(e: RecoveryKeyError) -> Self {
        match e {
            RecoveryKeyError::Forbidden => AppError::Forbidden(e.to_string()),
            RecoveryKeyError::Db(e) => e.into(),
            RecoveryKeyError::Internal(e) => AppError::Internal(e),
            RecoveryKeyError::Invalid(errors) => {
                AppError::BadRequest(errors.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" "))
            }
        }
    }
}

#[derive(Template)]
#[template(path = "recovery_key/page.html")]
struct RecoveryKeyPage {
    layout: Layout,
    workspace: String,
    errors: FieldErrors,
    /// The key, in the one answer that shows it.
    key: Option<String>,
}

fn answer(
    user: &CurrentUser,
    errors: FieldErrors,
    key: Option<&SecretString>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut response = render(
        status,
        &RecoveryKeyPage {
            layout: Layout::for_user(user, "workspaces"),
            workspace: user.workspace_name.clone(),
            errors,
            key: key.map(|k| k.expose_secret().to_owned()),
        },
    )?;
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    Ok(response)
}

async fn page(user: CurrentUser) -> Result<HttpResponse, AppError> {
    RecoveryKeyService::may_export(&user)?;
    answer(&user, FieldErrors::new(), None, StatusCode::OK)
}

async fn export(
    req: HttpRequest,
    user: CurrentUser,
    service: web::Data<RecoveryKeyService>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let password = SecretString::from(form_value(&form, "password").unwrap_or_default().to_owned());
    let ip = crate::web::client::address(&req);
    match service.export(&user, &ip, password).await {
        Ok(key) => answer(&user, FieldErrors::new(), Some(&key), StatusCode::OK),
        Err(RecoveryKeyError::Invalid(errors)) => answer(&user, errors, None, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => Err(e.into()),
    }
}

//! The host-key pages of SFTP destinations and managed servers: `GET {section}/{id}/host-key`
//! shows the pinned key beside the one presented now, `POST` accepts it. One pair of handlers,
//! generic over the feature's service ([`PinsHostKeys`]).

use super::service::PinsHostKeys;
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::connection_test::TestOutcome;
use crate::error::AppError;
use crate::web::{Flash, Layout, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

/// What the host-key pages need beyond the service: where the feature's pages are, and what
/// to say once a key is pinned.
pub trait HostKeyPages: PinsHostKeys + 'static {
    /// The feature's pages: their URL (`/servers`) and their tab.
    const SECTION: &'static str;

    /// The notice after a key was pinned for `name` and the test that followed.
    fn accepted(fingerprint: &str, name: &str, outcome: &TestOutcome) -> Flash;
}

/// The confirmation page before a new host key is pinned: the pinned key and the one the
/// server presents now.
#[derive(Template)]
#[template(path = "host_keys/confirm.html")]
struct HostKeyPage {
    layout: Layout,
    name: String,
    back: String,
    action: String,
    pinned: Option<String>,
    presented: Option<String>,
    error: Option<String>,
}

/// Missing fields default to empty, so the role and workspace checks answer first (403/404)
/// rather than a form error.
#[derive(serde::Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    fingerprint: String,
}

pub async fn confirm<S: HostKeyPages>(
    user: CurrentUser,
    service: web::Data<S>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError>
where
    AppError: From<S::Error>,
{
    user.require_write()?;
    let name = service.name_of(&user.workspace_id, &path).await?;
    let offer = service.host_key_offer(&user.workspace_id, &path).await?;
    let (presented, error) = match offer.presented {
        Ok(p) => (Some(p), None),
        Err(e) => (None, Some(e)),
    };
    let page = HostKeyPage {
        layout: Layout::for_user(&user, S::SECTION),
        name,
        back: format!("/{}", S::SECTION),
        action: format!("/{}/{}/host-key", S::SECTION, path.as_str()),
        pinned: offer.pinned,
        presented,
        error,
    };
    render(StatusCode::OK, &page)
}

pub async fn accept<S: HostKeyPages>(
    user: CurrentUser,
    service: web::Data<S>,
    path: web::Path<String>,
    form: web::Form<AcceptForm>,
    session: Session,
) -> Result<HttpResponse, AppError>
where
    AppError: From<S::Error>,
{
    user.require_write()?;
    let name = service.name_of(&user.workspace_id, &path).await?;
    let fingerprint = form.fingerprint.trim();
    let outcome = service.accept_host_key(&user.workspace_id, &path, fingerprint, &Actor::web(&user)).await?;
    S::accepted(fingerprint, &name, &outcome).set(&session);
    Ok(see_other(&format!("/{}", S::SECTION)))
}

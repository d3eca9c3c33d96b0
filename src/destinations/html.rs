//! The destination pages' routes, and the pages too small for a file of their own: deleting a
//! destination and trusting an SFTP server's host key (the shared flow in `crate::host_keys`).
//! Handlers are thin: parsing of the request and rendering; rules live in the service.

use super::service::{DestinationError, DestinationService};
use super::{editing, list, page, panel};
use crate::audit::Actor;
use crate::auth::CurrentUser;
use crate::connection_test::TestOutcome;
use crate::error::AppError;
use crate::host_keys::html::{self as host_keys, HostKeyPages};
use crate::web::{Flash, Layout, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/destinations", web::get().to(list::list))
        .route("/destinations", web::post().to(editing::create))
        .route("/destinations/new", web::get().to(editing::new_form))
        .route("/destinations/fields", web::post().to(editing::fields))
        .route("/destinations/test-credentials", web::post().to(editing::test_credentials))
        .route("/destinations/policy", web::post().to(panel::policy_panel))
        .route("/destinations/test-all", web::post().to(list::test_all))
        .route("/destinations/{id}/row", web::get().to(list::row))
        .route("/destinations/{id}/edit", web::get().to(editing::edit_form))
        .route("/destinations/{id}", web::post().to(editing::update))
        .route("/destinations/{id}/test", web::post().to(list::test_connection))
        .route("/destinations/{id}/default", web::post().to(list::make_default))
        .route("/destinations/{id}/disable", web::post().to(list::disable))
        .route("/destinations/{id}/enable", web::post().to(list::enable))
        .route("/destinations/{id}/delete", web::get().to(confirm_delete))
        .route("/destinations/{id}/delete", web::post().to(delete))
        .route("/destinations/{id}/host-key", web::get().to(host_keys::confirm::<DestinationService>))
        .route("/destinations/{id}/host-key", web::post().to(host_keys::accept::<DestinationService>))
        .route("/destinations/{id}", web::get().to(page::show))
        .configure(super::folder_picker::routes);
}

impl From<DestinationError> for AppError {
    fn from(e: DestinationError) -> Self {
        match e {
            DestinationError::NotFound => AppError::NotFound("Backup destination not found".into()),
            DestinationError::Invalid(errors) => {
                let detail: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
                AppError::BadRequest(detail.join(" "))
            }
            DestinationError::Db(e) => e.into(),
            DestinationError::Credentials(m) => AppError::Internal(anyhow::anyhow!(m)),
            DestinationError::Conflict(m) => AppError::BadRequest(m),
        }
    }
}

#[derive(Template)]
#[template(path = "destinations/delete.html")]
struct DeletePage {
    layout: Layout,
    id: String,
    name: String,
    is_default: bool,
    /// Plans that will be disabled.
    plans: Vec<String>,
}

async fn confirm_delete(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let plans = service.plans_using(&user.workspace_id, &path).await?;
    render(
        StatusCode::OK,
        &DeletePage {
            layout: Layout::for_user(&user, "destinations"),
            id: d.id,
            name: d.name,
            is_default: d.is_default,
            plans,
        },
    )
}

async fn delete(
    user: CurrentUser,
    service: web::Data<DestinationService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let d = service.get(&user.workspace_id, &path).await?;
    let plans = service.delete(&user.workspace_id, &path, &Actor::web(&user)).await?;
    if plans.is_empty() {
        Flash::ok(format!("Deleted “{}”.", d.name)).set(&session);
    } else {
        Flash::ok(format!("Deleted “{}”. These plans are now disabled: {}.", d.name, plans.join(", "))).set(&session);
    }
    Ok(see_other("/destinations"))
}

impl HostKeyPages for DestinationService {
    const SECTION: &'static str = "destinations";

    fn accepted(fingerprint: &str, name: &str, outcome: &TestOutcome) -> Flash {
        if outcome.ok {
            Flash::ok(format!("Pinned {fingerprint} for “{name}”. Connection test passed."))
        } else {
            Flash::error(format!("Pinned {fingerprint} for “{name}”, but its test failed: {}", outcome.message))
        }
    }
}

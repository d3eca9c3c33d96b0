//! The consent flow's two routes, Google's and Microsoft's alike: start (a POST from the
//! destination's row, answered with a redirect to the consent page, or an htmx redirect) and the
//! callback (back to the destinations with a notice, or a page saying why it was refused).

use super::service::{Callback, Finished, OAuthError, OAuthService, Refusal, Requester, random_token};
use crate::auth::CurrentUser;
use crate::auth::session::is_htmx;
use crate::error::AppError;
use crate::web::{Flash, Layout, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// A per-session secret that ties a started consent to the browser session that started it.
const SESSION_BINDING: &str = "oauth_binding";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/destinations/{id}/oauth", web::post().to(start)).route("/oauth/callback", web::get().to(callback));
}

impl From<OAuthError> for AppError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Destination(e) => e.into(),
            OAuthError::Db(e) => e.into(),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "oauth/refused.html")]
struct RefusedPage {
    layout: Layout,
    title: &'static str,
    reason: &'static str,
}

fn binding(session: &Session) -> Option<String> {
    session.get::<String>(SESSION_BINDING).ok().flatten()
}

async fn start(
    req: HttpRequest,
    user: CurrentUser,
    oauth: web::Data<OAuthService>,
    path: web::Path<String>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let session_binding = match binding(&session) {
        Some(b) => b,
        None => {
            let b = random_token();
            session
                .insert(SESSION_BINDING, &b)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the session: {e}")))?;
            b
        }
    };
    let who =
        Requester { user_id: &user.user_id, workspace_id: &user.workspace_id, session_binding: Some(&session_binding) };
    let url = oauth.start(&who, &path).await?;
    if is_htmx(&req) {
        // The list's buttons submit through htmx; Google's page is a whole-page visit.
        return Ok(HttpResponse::Ok().insert_header(("HX-Redirect", url.as_str())).finish());
    }
    Ok(see_other(url.as_str()))
}

#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

async fn callback(
    user: CurrentUser,
    oauth: web::Data<OAuthService>,
    query: web::Query<CallbackQuery>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    user.require_write()?;
    let session_binding = binding(&session);
    let who = Requester {
        user_id: &user.user_id,
        workspace_id: &user.workspace_id,
        session_binding: session_binding.as_deref(),
    };
    let answer = Callback { state: query.state.as_deref(), code: query.code.as_deref(), error: query.error.as_deref() };
    match oauth.finish(&who, &answer, &crate::audit::Actor::web(&user)).await {
        Ok(Finished::Connected { name, owner, outcome }) => {
            tracing::info!(destination = %name, test_passed = outcome.ok, owner, "connected a destination through its consent page");
            let service = if owner == "Microsoft" { "OneDrive" } else { "Google Drive" };
            let flash = if outcome.ok {
                Flash::ok(format!("Connected “{name}” to {service}. Connection test passed."))
            } else {
                Flash::error(format!("Connected “{name}” to {service}, but its test failed: {}", outcome.message))
            };
            flash.set(&session);
            Ok(see_other("/destinations"))
        }
        Ok(Finished::Denied { name, owner, error }) => {
            Flash::error(format!("{owner} did not grant access for “{name}” ({error}); nothing was changed."))
                .set(&session);
            Ok(see_other("/destinations"))
        }
        Err(OAuthError::Refused(refusal)) => refused(&user, refusal),
        Err(OAuthError::Provider(e)) => {
            Flash::error(format!("Connecting the destination failed: {e}")).set(&session);
            Ok(see_other("/destinations"))
        }
        Err(e) => Err(e.into()),
    }
}

fn refused(user: &CurrentUser, refusal: Refusal) -> Result<HttpResponse, AppError> {
    let page = RefusedPage {
        layout: Layout::for_user(user, "destinations"),
        title: refusal.title(),
        reason: refusal.reason(),
    };
    render(StatusCode::BAD_REQUEST, &page)
}

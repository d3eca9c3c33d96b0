//! `/account/sessions`: where one is signed in (browsers, and API tokens from
//! `/api/v1/auth/token`), and signing any of them out.

use crate::auth::Account;
use crate::error::AppError;
use crate::sessions::{SessionService, browser};
use crate::web::time::exact;
use crate::web::{Flash, Layout, render, see_other};
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/sessions", web::get().to(list))
        .route("/account/sessions/end-others", web::post().to(end_others))
        .route("/account/sessions/{id}/end", web::post().to(end_one));
}

pub struct SessionView {
    pub id: String,
    pub current: bool,
    pub kind: &'static str,
    pub client: String,
    pub ip: String,
    pub created: String,
    pub last_seen: String,
}

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage {
    layout: Layout,
    flash: Option<Flash>,
    sessions: Vec<SessionView>,
}

async fn list(
    account: Account,
    sessions: web::Data<SessionService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let rows = sessions.of_user(&account.user_id).await?;
    let mut views: Vec<SessionView> = rows
        .into_iter()
        .map(|r| SessionView {
            current: r.id == account.session_id,
            kind: if r.kind == "api" { "API token (from /api/v1/auth/token)" } else { "Browser" },
            client: browser::describe(&r.user_agent),
            ip: r.ip,
            created: exact(r.created_at),
            last_seen: exact(r.last_seen_at),
            id: r.id,
        })
        .collect();
    // This session first.
    views.sort_by_key(|v| !v.current);
    let page = SessionsPage {
        layout: Layout::for_account(&account, "account"),
        flash: Flash::take(&session),
        sessions: views,
    };
    render(StatusCode::OK, &page)
}

async fn end_one(
    account: Account,
    sessions: web::Data<SessionService>,
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    if *id == account.session_id {
        return Err(AppError::BadRequest("This is the session you are using: sign out instead.".into()));
    }
    if !sessions.end_one(&account.user_id, &id).await? {
        return Err(AppError::NotFound("No such session (it may have ended already).".into()));
    }
    Flash::ok("Signed that session out.").set(&session);
    Ok(see_other("/account/sessions"))
}

async fn end_others(
    account: Account,
    sessions: web::Data<SessionService>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let ended = sessions.end_all(&account.user_id, Some(&account.session_id)).await?;
    Flash::ok(format!("Signed out {ended} other session(s).")).set(&session);
    Ok(see_other("/account/sessions"))
}

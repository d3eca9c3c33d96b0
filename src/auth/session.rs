//! The browser session: the (encrypted) session cookie carries a session token; the session it
//! names (`crate::sessions`) and the person's account and membership are checked on every request,
//! so a signed-out session, a removed member or a disabled account loses access at once. The
//! extractors here give handlers an [`Account`] or a [`CurrentUser`].

use super::identity::{Account, CurrentUser};
use super::service::{AccountService, SignedIn};
use crate::error::AppError;
use crate::sessions::{Kind, SessionService};
use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::pin::Pin;

/// The session token, in the cookie.
const SESSION_TOKEN: &str = "sid";
pub const WORKSPACE_ID: &str = "wid";

pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// Whether this browser holds a session token (it may have ended: only a request checks that).
pub fn has_token(session: &Session) -> bool {
    session.get::<String>(SESSION_TOKEN).ok().flatten().is_some()
}

fn service<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, AppError> {
    req.app_data::<web::Data<T>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("{} missing", std::any::type_name::<T>())))
}

/// The signed-in person behind this request's session (and the session's id), or Unauthenticated.
async fn signed_in(req: &HttpRequest) -> Result<(SignedIn, String, Session), AppError> {
    let session = req.get_session();
    let unauthenticated = AppError::Unauthenticated { htmx: is_htmx(req) };
    let token = session.get::<String>(SESSION_TOKEN).ok().flatten().ok_or(unauthenticated)?;
    let sessions = service::<SessionService>(req)?;
    let live = sessions.resolve(&token, Kind::Browser, || crate::web::client::of(req)).await?;
    let Some(live) = live else {
        session.purge();
        return Err(AppError::Unauthenticated { htmx: is_htmx(req) });
    };
    let workspace_id = session.get::<String>(WORKSPACE_ID).ok().flatten();
    let accounts = service::<AccountService>(req)?;
    let Some(found) = accounts.signed_in(&live.user_id, workspace_id.as_deref()).await? else {
        session.purge();
        return Err(AppError::Unauthenticated { htmx: is_htmx(req) });
    };
    if let Some(ws) = &found.workspace
        && workspace_id.as_deref() != Some(ws.0.as_str())
    {
        // The remembered workspace is gone or was never set: remember the one we chose.
        let _ = session.insert(WORKSPACE_ID, &ws.0);
    }
    Ok((found, live.id, session))
}

impl FromRequest for Account {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Account, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (found, session_id, session) = signed_in(&req).await?;
            let csrf_token = super::csrf::token(&session);
            Ok(found.account(csrf_token, session_id))
        })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<CurrentUser, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (found, session_id, session) = signed_in(&req).await?;
            let csrf_token = super::csrf::token(&session);
            // Signed in, but in no workspace: the workspaces page says so.
            found.account(csrf_token, session_id).current.ok_or(AppError::NoWorkspace { htmx: is_htmx(&req) })
        })
    }
}

/// Starts a fresh session for a user who just proved who they are: a new cookie (never the one
/// the browser had before, against session fixation) naming a new session row.
pub async fn sign_in(
    req: &HttpRequest,
    session: &Session,
    sessions: &SessionService,
    user_id: &str,
    workspace_id: Option<&str>,
) -> Result<(), AppError> {
    let (token, _) = sessions.start(user_id, Kind::Browser, &crate::web::client::of(req), None).await?;
    session.renew();
    session
        .insert(SESSION_TOKEN, token.expose_secret())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the session: {e}")))?;
    if let Some(workspace_id) = workspace_id {
        switch_workspace(session, workspace_id)?;
    }
    super::csrf::rotate(session);
    Ok(())
}

/// Ends this browser's session (its row too, so a copy of the cookie is worth nothing).
pub async fn sign_out(session: &Session, sessions: &SessionService) -> Result<(), AppError> {
    if let Some(token) = session.get::<String>(SESSION_TOKEN).ok().flatten() {
        sessions.end(&SecretString::from(token)).await?;
    }
    session.purge();
    Ok(())
}

/// Makes `workspace_id` the session's current workspace (membership is checked on each request).
pub fn switch_workspace(session: &Session, workspace_id: &str) -> Result<(), AppError> {
    session
        .insert(WORKSPACE_ID, workspace_id)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("writing the session: {e}")))
}
